"""Editing the user's list in place (`edit_opml`): only what changed, and the repairs XML needs
when the file was broken; its comments, head and layout stay. Every edit is read back before it
is used."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator, Sequence

from lxml import etree

from aggregator.errors import InvalidSourceError, OpmlError
from aggregator.models import OpmlDocument, SkippedOutline, Source
from aggregator.sources.reading import (
    FOLDER_SLASH,
    _address,
    _attrs,
    _child,
    _collect,
    _decode,
    _feed_outlines,
    _folder_name,
    _local,
    _opml_chunks,
    _xml_parser,
    read_opml,
    unread_part,
)
from aggregator.sources.repairs import _DECLARATION, _DOCTYPE, _mend_markup
from aggregator.sources.splicing import splice
from aggregator.sources.urls import normalize_source_url
from aggregator.sources.writing import _outline_attributes, write_opml


def edit_opml(data: bytes, sources: Sequence[Source]) -> bytes | None:
    """The list in `data` holding `sources` now, changed only where they changed.

    Outlines of sources that went are removed, a changed source's outline is rewritten (and
    moved when its topic changed), new ones are added to their folder; everything else (the
    head, comments, empty folders, folder attributes, a title that differs from the text,
    outlines that are not sources here) stays as it was, written as it was to the byte
    (`splice`). A list that is not well-formed XML
    gets the repairs a strict parser needs and no others (`_mend`): a bare `&` becomes
    `&amp;`, an HTML entity its character, a raw quote in a value `&quot;`.

    Only when that edit is exact; else None, and the caller writes the list anew: the list
    needs other repairs (a missing end tag, documents run together), nests deeper than the
    parser goes, a source that changes or goes is also a folder holding others, or the
    edited list would not read back as `sources` and the same outlines skipped (checked,
    never assumed). A source listed twice (in two folders, say) that goes loses every
    outline; one that changes keeps its first, rewritten.
    """
    document = read_opml(data)
    tree = _editable_tree(data, document)
    if tree is None:
        return None
    root, body = tree
    before = {s.url: s for s in document.sources}
    wanted = {s.url: s for s in sources}
    placed: dict[str, list[etree._Element]] = {}
    for element in _outline_tree(body):
        url = _outline_url(element)
        if url:
            placed.setdefault(url, []).append(element)
    for url, elements in placed.items():
        if wanted.get(url) != before.get(url) and any(
            next(_outline_tree(element), None) is not None for element in elements
        ):
            return None
    for url, elements in placed.items():
        source = wanted.get(url)
        if source == before.get(url):
            continue  # unchanged: left as written
        for extra in elements[1:]:  # a merged duplicate: one outline holds the source now
            _detach(extra)
        element = elements[0]  # with no outline inside it (checked above)
        if source is None:
            _detach(element)
            continue
        for key in list(element.attrib):
            if "}" not in key:  # another program's namespaced attributes stay
                del element.attrib[key]
        for key, value in _outline_attributes(source):
            element.set(key, value)
        if _folder_of(element) != source.category:
            _detach(element)
            _place(_tree_folder(body, source.category), element)
    for source in sources:
        if source.url not in placed:
            outline = etree.Element("outline")
            for key, value in _outline_attributes(source):
                outline.set(key, value)
            _place(_tree_folder(body, source.category), outline)
    original = _decode(data)
    written = _serialize(root, original)
    spliced = splice(original, written)
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    for text in (spliced, written):
        if text is not None and _reads_as(
            edited := bom + text.encode("utf-8"), sources, document.skipped
        ):
            return edited
    return None


def _serialize(root: etree._Element, original: str) -> str:
    """The document (UTF-8 once encoded), written as `original` was where a parsed tree
    remembers it not: its XML declaration (when it says UTF-8, or none), empty tags spelled
    `<x />` or `<x/>`, line ends (a parser reads CRLF as LF), the blank space after the end
    as it was. Comments and processing instructions around the root element go on a line of
    their own."""
    declared = re.match(r"\s*(<\?xml[^>]*\?>)", original)
    declaration = declared.group(1) if declared else ""
    encoding = re.search(r"""encoding\s*=\s*["']([^"']*)""", declaration)
    if encoding and encoding.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        declaration = "<?xml version='1.0' encoding='UTF-8'?>"
    spaced = original.count(" />") > original.count("/>") / 2
    before = reversed(list(root.itersiblings(preceding=True)))
    lines = [declaration] if declaration else []
    for node in [*before, root, *root.itersiblings()]:
        markup = etree.tostring(node, encoding="unicode", with_tail=False)
        lines.append(_space_empty_tags(markup) if spaced else markup)
    ending = original[len(original.rstrip(" \t\r\n")) :].replace("\r\n", "\n")  # blank lines too
    text = "\n".join(lines) + ending
    if original.count("\r\n") > original.count("\n") / 2:
        text = text.replace("\n", "\r\n")  # a raw line end is never part of a value
    return text


def _space_empty_tags(markup: str) -> str:
    """`<x/>` as `<x />`, outside comments, CDATA and processing instructions (a serialized
    attribute or text has its `>` escaped, so `/>` is a tag's end everywhere else)."""
    out: list[str] = []
    pos = 0
    for match in _VERBATIM.finditer(markup):
        out += [markup[pos : match.start()].replace("/>", " />"), match.group()]
        pos = match.end()
    out.append(markup[pos:].replace("/>", " />"))
    return "".join(out)


_VERBATIM = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>", re.DOTALL)
"""Comments, CDATA sections and processing instructions: text a repair leaves alone."""
_PROLOG = re.compile(r"(?:\s|<!--.*?-->|<\?.*?\?>)*", re.DOTALL)


def _mend(text: str) -> str:
    """The list's text with what a strict XML parser refuses repaired as the reader repairs
    it (`_mend_markup`: bare `&`, HTML entities, raw quotes and `<` in outline attributes,
    control characters), and nothing else: comments, CDATA and processing instructions stay
    as written."""
    out: list[str] = []
    pos = 0
    for match in _VERBATIM.finditer(text):
        out += [_mend_markup(text[pos : match.start()]), match.group()]
        pos = match.end()
    out.append(_mend_markup(text[pos:]))
    return "".join(out)


def _editable_tree(
    data: bytes, document: OpmlDocument
) -> tuple[etree._Element, etree._Element] | None:
    """The list's XML tree and its body, as written (comments and all), or if it is not
    well-formed XML, with `_mend`'s repairs: parsed strictly, and reading as the same sources
    as the forgiving reader found. Comments and processing instructions before `<opml>` are
    kept; other text there (which the reader ignores) is not. The XML declaration goes (the
    edited list is UTF-8), and so does a DOCTYPE (the reader ignores it; no DTD is parsed)."""
    if unread_part(document):
        return None
    text = _DOCTYPE.sub("", _DECLARATION.sub("", _decode(data), count=1))
    for candidate in (text, _mend(text)):
        tree = _strict_tree(candidate, document)
        if tree is not None:
            return tree
    return None


def _strict_tree(text: str, document: OpmlDocument) -> tuple[etree._Element, etree._Element] | None:
    # Where documents start, with comments blanked out: `<opml` in a comment starts none.
    blanked = _VERBATIM.sub(lambda m: " " * len(m.group()), text)
    chunks = _opml_chunks(blanked)
    if len(chunks) != 1:
        return None
    start = len(blanked) - len(chunks[0])
    if not _PROLOG.fullmatch(text, 0, start):
        text = text[start:]
    try:
        root = etree.fromstring(text.encode("utf-8"), _xml_parser(recover=False))
    except etree.XMLSyntaxError:
        return None
    body = _child(root, "body")
    if body is None:
        return None
    read = _collect(document.title, list(_feed_outlines(body, [])))
    return (root, body) if read.sources == document.sources else None


def _reads_as(data: bytes, sources: Sequence[Source], skipped: Sequence[SkippedOutline]) -> bool:
    """Whether `data` is well-formed and reads back as the same outlines skipped and, in any
    order, the same sources as the list written anew would: `sources` themselves, unless
    they hold what no list can (a line break in a title, a tag that is also the topic)."""
    try:
        etree.fromstring(data, _xml_parser(recover=False))
        document = read_opml(data)
    except (etree.XMLSyntaxError, OpmlError):
        return False
    anew = read_opml(write_opml(sources)).sources
    return document.skipped == tuple(skipped) and _by_url(document.sources) == _by_url(anew)


def _by_url(sources: Iterable[Source]) -> dict[str, Source]:
    return {source.url: source for source in sources}


def _outline_tree(parent: etree._Element) -> Iterator[etree._Element]:
    """The outlines below `parent`, through outlines only, as `_feed_outlines` walks them."""
    stack = [iter(parent)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif _local(child).lower() == "outline":
            yield child
            stack.append(iter(child))


def _outline_url(element: etree._Element) -> str:
    """The source URL an outline stands for, as `_collect` reads it ("" for none)."""
    if _local(element).lower() != "outline":
        return ""
    _, raw_url, link = _address(_attrs(element))
    if link or not raw_url.strip():
        return ""
    try:
        return normalize_source_url(raw_url)
    except InvalidSourceError:
        return ""


def _folder_of(element: etree._Element) -> str:
    names = []
    parent = element.getparent()
    while parent is not None and _local(parent).lower() == "outline":
        name = _folder_name(_attrs(parent))
        if name:
            names.append(name)
        parent = parent.getparent()
    return "/".join(reversed(names))


def _tree_folder(body: etree._Element, path: str) -> etree._Element:
    """The folder outline for a topic path under `body`, made where it is missing."""
    node = body
    for part in [p for p in path.split("/") if p]:
        for child in node:
            if (
                _local(child).lower() == "outline"
                and not _outline_url(child)
                and _folder_name(_attrs(child)) == part
            ):
                node = child
                break
        else:
            shown = part.replace(FOLDER_SLASH, "/")
            folder = etree.Element("outline", text=shown, title=shown)
            _place(node, folder)
            node = folder
    return node


def _blank(text: str | None) -> bool:
    return text is None or text.isspace()


def _place(parent: etree._Element, element: etree._Element) -> None:
    """Append `element` to `parent` laid out as the list is laid out: on a line of its own
    and indented like its siblings when the list has lines, inline when it has none. The
    rest of the list keeps its layout (it is not indented anew)."""
    element.tail = None
    if len(parent):
        last = parent[-1]
        if _blank(last.tail) and _blank(parent.text):
            element.tail, last.tail = last.tail, parent.text  # the gap before each child
    else:
        indent = _indent(parent)
        if indent is not None:
            parent.text = "\n" + indent + _indent_unit(parent)
            element.tail = "\n" + indent
    parent.append(element)


def _indent(element: etree._Element) -> str | None:
    """The whitespace that starts `element`'s line, or None when it does not start one."""
    before = element.getprevious()
    parent = element.getparent()
    space = before.tail if before is not None else parent.text if parent is not None else None
    if not space or "\n" not in space or not space.isspace():
        return None
    return space.rsplit("\n", 1)[1]


def _indent_unit(element: etree._Element) -> str:
    """One level of the list's indentation, as its author wrote it (tabs, two spaces, …)."""
    for node in element.getroottree().iter():
        text = node.text or ""
        if not len(node) or "\n" not in text or not text.isspace():
            continue
        inner, outer = text.rsplit("\n", 1)[1], _indent(node) or ""
        if len(inner) > len(outer) and inner.startswith(outer):
            return inner[len(outer) :]
    return "  "


def _detach(element: etree._Element) -> None:
    """Remove `element`, keeping the layout: the last child's tail closes its parent."""
    parent = element.getparent()
    if parent is None:
        return
    if element.getnext() is None and _blank(element.tail):
        before = element.getprevious()
        if before is not None and _blank(before.tail):
            before.tail = element.tail
        elif before is None and _blank(parent.text):
            parent.text = element.tail
    parent.remove(element)
