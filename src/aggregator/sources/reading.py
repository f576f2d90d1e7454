"""Reading OPML forgivingly: bytes decoded, repaired, parsed by a forgiving XML parser, and the
feed outlines collected into an `OpmlDocument`; outlines that cannot be sources are listed, not
lost."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from lxml import etree

from aggregator.errors import InvalidSourceError, OpmlError
from aggregator.models import FOLDER_SLASH, OpmlDocument, SkippedOutline, Source
from aggregator.sanitize import one_line
from aggregator.sources.repairs import _repair
from aggregator.sources.urls import normalize_source_url, site_address, source_key

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


def read_opml_file(path: str | os.PathLike[str]) -> OpmlDocument:
    """Read an OPML file; an unreadable or non-OPML file is an `OpmlError` naming it."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_OPML_BYTES + 1)
    except FileNotFoundError:
        raise OpmlError(f"{name}: {_missing(path)}", path=name) from None
    except IsADirectoryError:
        raise OpmlError(f"{name}: is a directory, not an OPML file", path=name) from None
    except OSError as exc:
        raise OpmlError(f"{name}: cannot read: {exc.strerror or exc}", path=name) from None
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"{name}: larger than {MAX_OPML_BYTES // 2**20} MB", path=name)
    return read_opml(data, origin=name)


def _missing(path: str | os.PathLike[str]) -> str:
    """Why a list cannot be found: no file, or a link (`ls` shows it) to a file that is gone."""
    try:
        return f"a link to {one_line(os.readlink(path))}, which does not exist"
    except OSError:  # not a link (or a folder on the way is missing)
        return "no such file"


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
    folders: list[str] = []
    unread: list[SkippedOutline] = []
    for chunk in chunks:
        root, stopped = _parse_xml(chunk)
        if root is None:
            continue
        title = title or _head_title(root)
        body = _child(root, "body")
        found.extend(_feed_outlines(body if body is not None else root, [], folders))
        if not stopped and not _CLOSED.search(chunk):
            stopped = CUT_SHORT
        if stopped and not unread:
            unread.append(SkippedOutline(url="", title=UNREAD_TITLE, reason=stopped))
    document = replace(_collect(title, found), folders=tuple(dict.fromkeys(folders)))
    if unread:
        document = replace(document, skipped=(*document.skipped, *unread))
    return document


_CLOSED = re.compile(r"</(?:[\w.-]+:)?opml\s*>", re.IGNORECASE)
CUT_SHORT = "the file ends before its </opml>: it may have been cut short"
"""Why a list without its end is read in part: an editor's save or a copy cut short reads
as its first part, and the outlines after the cut cannot be told from outlines never there.
What was read is used; writing the list anew from it is refused (`unread_part`)."""

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
    parent: etree._Element, path: list[str], folders: list[str] | None = None
) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Feed outlines in document order with their folder path; a loop, not recursion, so a
    list nested as deep as the parser goes does not exhaust Python's stack. Each folder's
    path is added to `folders`, an empty one too (an outline with a name and nothing else,
    as feed readers write a folder with no feed in it)."""
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
        elif not len(child) and _get(attrs, "htmlurl").strip():
            yield path, attrs  # a site with no feed address: reported as skipped too
        elif (
            folders is not None
            and kind != "html"
            and not _get(attrs, "url").strip()  # not a link to another list
            and (name := _folder_name(attrs))
        ):
            folders.append("/".join([*path, name]))
        if len(child):
            name = _folder_name(attrs)
            stack.append((iter(child), [*path, name] if name else path))


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
        if not raw_url.strip():
            site = one_line(_get(attrs, "htmlurl"))
            reason = "a web page with no feed address: aggregator sources add finds its feed"
            skipped.append(SkippedOutline(site, name, reason, folder, as_read))
            continue
        try:
            url = normalize_source_url(raw_url)
        except InvalidSourceError as exc:
            skipped.append(SkippedOutline(one_line(raw_url), name, str(exc), folder, as_read))
            continue
        tags, rooted = _category_paths(_get(attrs, "category"))
        key = source_key(url)
        if key in sources:
            merged += 1
            first = sources[key]
            extra_tags = [t for t in [folder, *tags] if t and t != first.category]
            sources[key] = _with_tags(first, extra_tags)
            continue
        site = _get(attrs, "htmlurl")  # (a page named by its htmlUrl alone has no other site)
        site = site_address(site) if site != raw_url else ""
        # Lists with no folders (newsboat's export) file each feed by its `category`: the
        # first path is its topic, unless the root is named (`_category_attribute`).
        category = folder or (tags[0] if tags and not rooted else "")
        sources[key] = Source(
            url=url,
            title=name,
            category=category,
            type="html" if kind == "html" else (kind if kind in ("rss", "atom", "json") else "rss"),
            html_url=site,
            full_text=_get(attrs, "fulltext").strip().lower() in ("true", "1", "yes"),
            selector=one_line(_get(attrs, "selector")),
            tags=tuple(t for t in tags if t != category),
            extra=_extra(attrs, kind),
        )
    return OpmlDocument(
        title=title, sources=tuple(sources.values()), skipped=tuple(skipped), merged=merged
    )


def _with_tags(source: Source, tags: Iterable[str]) -> Source:
    return replace(source, tags=tuple(dict.fromkeys([*source.tags, *tags])))


def _extra(attrs: dict[str, str], kind: str) -> tuple[tuple[str, str], ...]:
    extra = [(k, v) for k, v in attrs.items() if k.lower() not in KNOWN_ATTRIBUTES]
    if kind not in ("rss", "atom", "json", "html"):
        # An unusual type (Liferea's "pie", a typo) is read as rss but kept for the round trip.
        extra.append(("originalType", kind))
    return tuple(extra)
