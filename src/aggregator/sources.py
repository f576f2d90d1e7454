"""OPML in and out: the user's source list as a portable, hand-editable file.

Reading is lenient because real lists are broken: a bare `&` in an attribute (more than half of
one popular collection), HTML entities XML does not define, concatenated documents, missing end
tags. The aim is that every feed outline a person can see in the file comes in, titled exactly
as written. Writing produces strict OPML 2.0 that other readers (newsboat included) import.
Changing the user's own list edits it in place (`edit_opml`): what changed, and the repairs
XML needs when the file was broken; its comments, head and layout stay.
"""

from __future__ import annotations

import codecs
import html.entities
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from lxml import etree

from aggregator.errors import InvalidSourceError, OpmlError
from aggregator.models import OpmlDocument, SkippedOutline, Source
from aggregator.sanitize import one_line, strip_controls

KNOWN_ATTRIBUTES = (
    "text",
    "title",
    "type",
    "xmlurl",
    "htmlurl",
    "fulltext",
    "selector",
    "category",
)
"""Outline attributes this program reads (compared case-insensitively); others are kept as-is."""
LIST_TYPES = {"source", "include", "link"}
"""Outline types that point at other lists or pages, not feeds (unless they carry an xmlUrl)."""
MAX_OPML_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 2048
"""Nesting the XML parser reads (libxml2's limit with `huge_tree`; 256 without it)."""


# --- URLs -------------------------------------------------------------------------------------


def normalize_source_url(url: str) -> str:
    """Return the URL as the program will fetch it, or raise if it cannot be a source.

    Only http and https: a shared OPML must never make the program read local files or run
    commands (newsboat's `|command` and `exec:` URLs are refused here too). The old `feed:`
    pseudo-scheme is unwrapped because some exporters still write it.
    """
    raw = one_line(url)
    lowered = raw.lower()
    if lowered.startswith("feed://"):
        raw = "http://" + raw[7:]
    elif lowered.startswith("feed:"):
        raw = raw[5:]
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidSourceError(f"not a valid URL: {raw!r} ({exc})", url=raw) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise InvalidSourceError(
            f"only http and https URLs can be sources ({shown} in {raw!r})", url=raw
        )
    if not parts.hostname:
        raise InvalidSourceError(f"URL has no host: {raw!r}", url=raw)
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].lower()
    netloc_out = (netloc[0] + "@" + host) if len(netloc) == 2 else host
    return urlunsplit((scheme, netloc_out, parts.path or "/", parts.query, parts.fragment))


# --- reading ----------------------------------------------------------------------------------


def read_opml_file(path: str | os.PathLike[str]) -> OpmlDocument:
    """Read an OPML file; an unreadable or non-OPML file is an `OpmlError` naming it."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_OPML_BYTES + 1)
    except FileNotFoundError:
        raise OpmlError(f"{name}: no such file", path=name) from None
    except IsADirectoryError:
        raise OpmlError(f"{name}: is a directory, not an OPML file", path=name) from None
    except OSError as exc:
        raise OpmlError(f"{name}: cannot read: {exc.strerror or exc}", path=name) from None
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"{name}: larger than {MAX_OPML_BYTES // 2**20} MB", path=name)
    return read_opml(data, origin=name)


def read_opml(data: bytes, *, origin: str = "OPML") -> OpmlDocument:
    """Parse OPML bytes into sources; outlines that cannot be sources are listed, not lost.

    A list nested deeper than the XML parser goes (`MAX_DEPTH` levels) is read up to there,
    and the part it could not read is listed in `skipped` as one entry saying so
    (`unread_part`): never lost in silence.
    """
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"{origin}: larger than {MAX_OPML_BYTES // 2**20} MB", path=origin)
    text = _repair(_decode(data))
    chunks = _opml_chunks(text)
    if not chunks:
        raise OpmlError(f"{origin}: {_what_is_it(text)}", path=origin)
    title = ""
    found: list[tuple[list[str], dict[str, str]]] = []
    unread: list[SkippedOutline] = []
    for chunk in chunks:
        root, stopped = _parse_xml(chunk)
        if root is None:
            continue
        title = title or _head_title(root)
        body = _child(root, "body")
        found.extend(_feed_outlines(body if body is not None else root, []))
        if stopped and not unread:
            unread.append(SkippedOutline(url="", title=UNREAD_TITLE, reason=stopped))
    document = _collect(title, found)
    if unread:
        document = replace(document, skipped=(*document.skipped, *unread))
    return document


UNREAD_TITLE = "the rest of the list"
"""Title of the `skipped` entry that stands for what the parser could not read: shown as
"not used: the rest of the list: nested deeper than 2048 levels, where the XML parser stops"."""


def unread_part(document: OpmlDocument) -> str:
    """Why part of the list was not read ("" when all of it was): a list read in part must
    not be written anew from that part, which would delete the rest."""
    for outline in document.skipped:
        if outline.title == UNREAD_TITLE and not outline.url and not outline.attributes:
            return outline.reason
    return ""


def _decode(data: bytes) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    declared = re.match(rb"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", data)
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Files that claim nothing and are not UTF-8 are nearly always Windows-1252.
        return data.decode("cp1252", errors="replace")


_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_ENTITY_OR_AMP = re.compile(r"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)?")


_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_DOCTYPE = re.compile(r"<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.DOTALL | re.IGNORECASE)


def _repair(text: str) -> str:
    """Fix what breaks XML parsers in real lists, without changing what a reader sees."""
    text = _DECLARATION.sub("", text, count=1)
    text = re.sub(r"<!--.*?(?:-->|$)", "", text, flags=re.DOTALL)
    # No DTDs: OPML needs none, and internal entities are a classic resource attack.
    text = _DOCTYPE.sub("", text)
    return _mend_markup(text)


def _mend_markup(text: str) -> str:
    """Markup (no comments in it) as a strict XML parser takes it: control characters gone,
    outline attributes quoted, bare `&` and HTML entities written as XML wants them."""
    text = strip_controls(text)  # XML forbids most of them; a title must not carry any
    text = _requote_outlines(text)

    def entity(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref is None:
            return "&amp;"  # a bare ampersand, as in `World & Nation`
        name = ref[:-1]
        if ref.startswith("#"):
            try:
                code = int(name[2:], 16) if name[1:2] in "xX" and len(name) > 1 else int(name[1:])
            except ValueError:
                return "&amp;" + ref
            return "&" + ref if _xml_char(code) else ""
        if name in _XML_ENTITIES:
            return "&" + ref
        if name in html.entities.name2codepoint:
            return f"&#{html.entities.name2codepoint[name]};"
        return "&amp;" + ref  # undefined: keep the text as written

    return _ENTITY_OR_AMP.sub(entity, text)


_OUTLINE_START = re.compile(r"<outline\b", re.IGNORECASE)
_NAME = re.compile(r"""\s*([^\s=/<>"']+)\s*""")
_QUOTE_END = re.compile(r"""\s+[^\s=/<>"']+\s*=\s*["']|\s*/?>""")
_SPECIAL = re.compile(r"""[<>"']""")
_TAG_END = re.compile(r"\s*(/?>)")
_BARE_VALUE = re.compile(r"[^\s>]*")


def _requote_outlines(text: str) -> str:
    """Rewrite every outline tag with its attributes properly quoted and escaped.

    Real lists put raw quotes inside values (`text="Газета "Коммерсантъ". Главное"`, or a
    description holding `<a href="…">`), which makes an XML parser drop that outline and often
    the ones after it. Here a value ends at the quote that is followed by the next `name="` or
    by the end of the tag, outside any markup inside the value: how a person reads it.
    """
    out: list[str] = []
    pos = 0
    while (start := _OUTLINE_START.search(text, pos)) is not None:
        out.append(text[pos : start.start()])
        cursor = start.end()
        attrs: list[str] = []
        while not _TAG_END.match(text, cursor) and (name := _NAME.match(text, cursor)):
            cursor = name.end()
            value = ""
            if text.startswith("=", cursor):
                cursor += 1
                while cursor < len(text) and text[cursor].isspace():
                    cursor += 1
                quote = text[cursor : cursor + 1]
                if quote in ('"', "'"):
                    end = _value_end(text, cursor + 1, quote)
                    if end < 0:
                        break
                    value, cursor = text[cursor + 1 : end], end + 1
                else:
                    bare = _BARE_VALUE.match(text, cursor)
                    value, cursor = bare.group(0), bare.end()
            value = value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            attrs.append(f' {name.group(1)}="{value}"')
        end = _TAG_END.match(text, cursor)
        if end is None:  # not a tag we can read: leave it to the XML parser's recovery
            out.append(text[start.start() : cursor])
        else:
            out.append("<outline" + "".join(attrs) + end.group(1))
            cursor = end.end()
        pos = cursor
    out.append(text[pos:])
    return "".join(out)


def _value_end(text: str, i: int, quote: str) -> int:
    """Index of the quote closing a value that starts at `i`, or -1."""
    for markup_aware in (True, False):
        in_markup, inner, j = False, "", i
        while (m := _SPECIAL.search(text, j)) is not None:
            c, j = m.group(), m.start() + 1
            if in_markup:
                if inner:
                    inner = "" if c == inner else inner
                elif c in "\"'":
                    inner = c
                elif c == ">":
                    in_markup = False
            elif c == quote and _QUOTE_END.match(text, j):
                return j - 1
            elif c == "<" and markup_aware and re.match(r"[A-Za-z/!]", text[j : j + 1]):
                in_markup = True
    return -1


def _xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF


def _opml_chunks(text: str) -> list[str]:
    """Split concatenated documents; each piece starts at an `<opml` tag."""
    starts = [m.start() for m in re.finditer(r"<(?:[\w.-]+:)?opml\b", text, flags=re.IGNORECASE)]
    if not starts:
        return []
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def _xml_parser(*, recover: bool) -> etree.XMLParser:
    """No DTD, no entity expansion, no network. `huge_tree` lifts libxml2's depth limit from
    256 to `MAX_DEPTH` (a real list may nest deeper than 256) and its limit on one text node
    from 10 MB to 1 GB, which `MAX_OPML_BYTES` keeps out of reach. A DTD never gets here:
    DOCTYPEs are removed, and what is parsed starts at `<opml` or has only comments and
    processing instructions before it."""
    return etree.XMLParser(
        recover=recover, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )


def _parse_xml(text: str) -> tuple[etree._Element | None, str]:
    """The tree of `text` as a forgiving parser reads it, and, when the parser stopped before
    the end (nesting deeper than it goes), why, in one line ("" when it read it all)."""
    parser = _xml_parser(recover=True)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return None, ""
    for error in parser.error_log:
        if error.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT:  # libxml2 stops at these
            if "depth" in error.message.lower():
                return root, f"nested deeper than {MAX_DEPTH} levels, where the XML parser stops"
            return root, f"the XML parser stopped there: {one_line(error.message)}"
    return root, ""


def _what_is_it(text: str) -> str:
    root, _ = _parse_xml(text)
    if root is None:
        return "not an OPML file (not XML at all)"
    name = _local(root).lower()
    if name in ("rss", "feed", "rdf", "channel"):
        return (
            f"not an OPML file: it is a feed (<{name}>); add it with `aggregator sources add URL`"
        )
    if name == "html":
        return "not an OPML file: it is an HTML page"
    return f"not an OPML file (its root element is <{_local(root)}>, expected <opml>)"


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child).lower() == name:
            return child
    return None


def _head_title(root: etree._Element) -> str:
    head = _child(root, "head")
    title = _child(head, "title") if head is not None else None
    return one_line(title.text or "") if title is not None else ""


def _attrs(element: etree._Element) -> dict[str, str]:
    """Plain (non-namespaced) attributes; keys keep their spelling, lookups ignore case."""
    return {k: v for k, v in element.attrib.items() if isinstance(k, str) and "}" not in k}


def _get(attrs: dict[str, str], name: str) -> str:
    for key, value in attrs.items():
        if key.lower() == name:
            return value
    return ""


def _feed_outlines(
    parent: etree._Element, path: list[str]
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Feed outlines in document order with their folder path; a loop, not recursion, so a
    list nested as deep as the parser goes does not exhaust Python's stack."""
    stack = [(iter(parent), path)]
    while stack:
        children, path = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            continue
        if _local(child).lower() != "outline":
            continue
        attrs = _attrs(child)
        kind = _get(attrs, "type").strip().lower()
        if _get(attrs, "xmlurl").strip() or (kind == "html" and _page_url(attrs)):
            yield path, attrs
        elif kind in LIST_TYPES and (_get(attrs, "url") or _get(attrs, "xmlurl")):
            yield path, attrs  # reported as skipped by _collect
        if len(child):
            name = _folder_name(attrs)
            stack.append((iter(child), [*path, name] if name else path))


FOLDER_SLASH = "\u2215"
"""DIVISION SLASH: stands for a `/` inside one folder's name, in a topic path and in the
`category` attribute, where `/` separates levels (a folder's own text keeps its `/`)."""
TAG_COMMA = "\u201a"
"""SINGLE LOW-9 QUOTATION MARK: stands for a `,` inside a path of the `category` attribute,
where `,` separates paths (see `_category_attribute`)."""


def _outline_name(attrs: dict[str, str]) -> str:
    return one_line(_get(attrs, "text")) or one_line(_get(attrs, "title"))


def _folder_name(attrs: dict[str, str]) -> str:
    """A folder's name as one step of a topic path: a topic path is `/`-separated, so a
    folder named "UI / UX" keeps its slash as a look-alike that separates nothing (and gets
    it back when the list is written)."""
    return _outline_name(attrs).replace("/", FOLDER_SLASH)


def _address(attrs: dict[str, str]) -> tuple[str, str, bool]:
    """An outline's type, the address it gives, and whether it links to another list or
    page rather than being a feed."""
    kind = _get(attrs, "type").strip().lower() or "rss"
    raw_url = _page_url(attrs) if kind == "html" else _get(attrs, "xmlurl")
    link = (kind in LIST_TYPES and not _get(attrs, "xmlurl").strip()) or kind == "source"
    return kind, raw_url, link


def _page_url(attrs: dict[str, str]) -> str:
    return _get(attrs, "xmlurl") or _get(attrs, "url") or _get(attrs, "htmlurl")


def _category_paths(value: str) -> tuple[list[str], bool]:
    """`category="/a/b,/c, tag"` → ['a/b', 'c', 'tag'], with empty and repeated parts dropped,
    and whether one path is the root itself (`/`): the outline is filed where it stands, not
    under its first path (see `_category_attribute`). `TAG_COMMA` is read as `,`."""
    paths: list[str] = []
    rooted = False
    for item in value.split(","):
        parts = [p.strip().replace(TAG_COMMA, ",") for p in item.split("/") if p.strip()]
        if parts and "/".join(parts) not in paths:
            paths.append("/".join(parts))
        rooted = rooted or (not parts and "/" in item)
    return paths, rooted


def _collect(title: str, found: list[tuple[list[str], dict[str, str]]]) -> OpmlDocument:
    sources: dict[str, Source] = {}
    skipped: list[SkippedOutline] = []
    merged = 0
    for path, attrs in found:
        kind, raw_url, link = _address(attrs)
        name = _outline_name(attrs)
        folder, as_read = "/".join(path), tuple(attrs.items())
        if link:
            reason = f"a link to another list or page (type={kind}), not a feed"
            shown = one_line(raw_url or _get(attrs, "url"))
            skipped.append(SkippedOutline(shown, name, reason, folder, as_read))
            continue
        try:
            url = normalize_source_url(raw_url)
        except InvalidSourceError as exc:
            skipped.append(SkippedOutline(one_line(raw_url), name, str(exc), folder, as_read))
            continue
        tags, rooted = _category_paths(_get(attrs, "category"))
        if url in sources:
            merged += 1
            first = sources[url]
            extra_tags = [t for t in [folder, *tags] if t and t != first.category]
            sources[url] = _with_tags(first, extra_tags)
            continue
        # Lists with no folders (newsboat's export) file each feed by its `category`: the
        # first path is its topic, unless the root is named (`_category_attribute`).
        category = folder or (tags[0] if tags and not rooted else "")
        sources[url] = Source(
            url=url,
            title=name,
            category=category,
            type="html" if kind == "html" else (kind if kind in ("rss", "atom", "json") else "rss"),
            html_url=one_line(_get(attrs, "htmlurl")) if kind != "html" else "",
            full_text=_get(attrs, "fulltext").strip().lower() in ("true", "1", "yes"),
            selector=one_line(_get(attrs, "selector")),
            tags=tuple(t for t in tags if t != category),
            extra=_extra(attrs, kind),
        )
    return OpmlDocument(
        title=title, sources=tuple(sources.values()), skipped=tuple(skipped), merged=merged
    )


def _with_tags(source: Source, tags: Iterable[str]) -> Source:
    combined = list(source.tags)
    for tag in tags:
        if tag not in combined:
            combined.append(tag)
    return Source(**{**_fields(source), "tags": tuple(combined)})


def _fields(source: Source) -> dict[str, object]:
    return {name: getattr(source, name) for name in Source.__slots__}


def _extra(attrs: dict[str, str], kind: str) -> tuple[tuple[str, str], ...]:
    extra = [(k, v) for k, v in attrs.items() if k.lower() not in KNOWN_ATTRIBUTES]
    if kind not in ("rss", "atom", "json", "html"):
        # An unusual type (Liferea's "pie", a typo) is read as rss but kept for the round trip.
        extra.append(("originalType", kind))
    return tuple(extra)


# --- writing ----------------------------------------------------------------------------------


def write_opml(
    sources: Iterable[Source],
    *,
    title: str = "aggregator sources",
    kept: Iterable[SkippedOutline] = (),
) -> bytes:
    """Strict OPML 2.0: folders from each source's category path, extra attributes kept.

    `kept`: outlines of the list that are not sources here (a `file:` or `exec:` feed, a
    relative URL, a link to another list) go back where they were, as they were: the file
    is the user's, and another reader may use them.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    folders: dict[str, etree._Element] = {"": body}
    for source in sources:
        parent = _folder(folders, source.category)
        outline = etree.SubElement(parent, "outline")
        for key, value in _outline_attributes(source):
            outline.set(key, value)
    for skipped in kept:
        if not skipped.attributes:
            continue  # not an outline (the part of a list that could not be read)
        outline = etree.SubElement(_folder(folders, skipped.folder), "outline")
        for key, value in skipped.attributes:
            if _xml_name(key):
                outline.set(key, value)
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _folder(folders: dict[str, etree._Element], path: str) -> etree._Element:
    """The folder outline for a topic path, made with the ones above it where missing (a
    loop: a path may be as deep as the parser reads)."""
    parts = path.split("/") if path else []
    have = len(parts)
    while "/".join(parts[:have]) not in folders:
        have -= 1
    parent = folders["/".join(parts[:have])]
    for level in range(have + 1, len(parts) + 1):
        name = parts[level - 1].replace(FOLDER_SLASH, "/")
        parent = etree.SubElement(parent, "outline", text=name, title=name)
        folders["/".join(parts[:level])] = parent
    return parent


def _outline_attributes(source: Source) -> list[tuple[str, str]]:
    extra = dict(source.extra)
    kind = extra.pop("originalType", None) or source.type
    # OPML wants `text` on every outline; empty `title` and `htmlUrl` are only noise.
    attrs = [("text", source.title)]
    if source.title:
        attrs.append(("title", source.title))
    attrs += [("type", kind), ("xmlUrl", source.url)]
    html_url = source.html_url or (source.url if source.type == "html" else "")
    if html_url:
        attrs.append(("htmlUrl", html_url))
    if source.full_text:
        attrs.append(("fullText", "true"))
    if source.selector:
        attrs.append(("selector", source.selector))
    if source.tags:
        attrs.append(("category", _category_attribute(source)))
    attrs.extend((k, v) for k, v in extra.items() if _xml_name(k))
    return attrs


def _category_attribute(source: Source) -> str:
    """The `category` attribute for a source's tags, as OPML 2.0 has it: comma-separated,
    slash-delimited paths (`/News/World,/Science`).

    Two marks make it read back as written, and read sensibly by other readers:
    - A source that has tags but no topic starts with the root path: `/,/News/World`. A
      list's outline outside any folder is otherwise filed under its first path (how lists
      with no folders, newsboat's export, give topics). listparser drops an empty path; a
      reader that takes paths as tags as written shows a tag `/`.
    - A `,` inside one path, which would split it in two, is written `TAG_COMMA` (‚, a
      look-alike that separates nothing): `/Arts‚ Culture`. Other readers show it as it
      looks. A `/` inside one folder's name is `FOLDER_SLASH` (∕) in a path already.
    """
    paths = [tag.replace(",", TAG_COMMA) for tag in source.tags]
    return ",".join(["/"] * (not source.category) + ["/" + path for path in paths])


def edit_opml(data: bytes, sources: Sequence[Source]) -> bytes | None:
    """The list in `data` holding `sources` now, changed only where they changed.

    Outlines of sources that went are removed, a changed source's outline is rewritten (and
    moved when its topic changed), new ones are added to their folder; everything else (the
    head, comments, empty folders, folder attributes, a title that differs from the text,
    outlines that are not sources here) stays as it was. A list that is not well-formed XML
    gets the repairs a strict parser needs and no others (`_mend`): a bare `&` becomes
    `&amp;`, an HTML entity its character, a raw quote in a value `&quot;`.

    Only when that edit is exact; else None, and the caller writes the list anew: the list
    needs other repairs (a missing end tag, documents run together), nests deeper than the
    parser goes, a source that changes or goes has more than one outline (merged
    duplicates) or is also a folder holding others, or the edited list would not read back
    as `sources` and the same outlines skipped (checked, never assumed).
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
        if wanted.get(url) != before.get(url) and (
            len(elements) > 1 or next(_outline_tree(elements[0]), None) is not None
        ):
            return None
    for url, elements in placed.items():
        source = wanted.get(url)
        if source == before.get(url):
            continue  # unchanged: left as written
        (element,) = elements  # one outline, with none inside it (checked above)
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
    edited = _serialize(root, _decode(data))
    if data.startswith(codecs.BOM_UTF8):
        edited = codecs.BOM_UTF8 + edited
    return edited if _reads_as(edited, sources, document.skipped) else None


def _serialize(root: etree._Element, original: str) -> bytes:
    """The document as UTF-8, written as `original` was where a parsed tree remembers it not:
    its XML declaration (when it says UTF-8, or none), empty tags spelled `<x />` or `<x/>`,
    line ends (a parser reads CRLF as LF), a newline at the end or not. Comments and
    processing instructions around the root element go on a line of their own."""
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
    ending = "\n" if original.endswith("\n") else ""
    text = "\n".join(lines) + ending
    if original.count("\r\n") > original.count("\n") / 2:
        text = text.replace("\n", "\r\n")  # a raw line end is never part of a value
    return text.encode("utf-8")


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


def _xml_name(name: str) -> bool:
    """A name lxml takes for an attribute (XML allows letters of any script)."""
    return re.fullmatch(r"[^\W\d][\w.-]*", name) is not None


def save_opml(
    path: str | os.PathLike[str],
    sources: Iterable[Source],
    *,
    title: str,
    kept: Iterable[SkippedOutline] = (),
    in_place: bool = False,
) -> None:
    """Write atomically (temp file, fsync, rename): a crash never leaves half a list.

    `in_place`: the file is the user's own list, edited where the sources changed and left
    as it was elsewhere (`edit_opml`); written anew only when it cannot be edited that way.
    The directory must be there (the library makes its own): a mistyped one is an error,
    not a new folder."""
    target = Path(path)
    sources = list(sources)
    data = None
    if in_place and target.exists():
        try:
            original = target.read_bytes()
            data = edit_opml(original, sources)
            unread = "" if data is not None else unread_part(read_opml(original))
        except (OSError, OpmlError):
            data, unread = None, ""
        if unread:
            raise OpmlError(
                f"{target}: not changed: the rest of the list was not read ({unread}), and "
                "writing the list anew would delete it; nest its folders less deeply",
                path=str(target),
            )
    if data is None:
        data = write_opml(sources, title=title, kept=kept)
    fd, tmp = tempfile.mkstemp(prefix=".feeds-", suffix=".opml", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
