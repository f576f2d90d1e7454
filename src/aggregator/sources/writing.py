"""Writing OPML anew: strict OPML 2.0 that other readers (newsboat included) import, folders
from each source's topic path, extra attributes kept."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from aggregator.models import SkippedOutline, Source
from aggregator.sources.reading import FOLDER_SLASH, TAG_COMMA


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


def _xml_name(name: str) -> bool:
    """A name lxml takes for an attribute (XML allows letters of any script)."""
    return re.fullmatch(r"[^\W\d][\w.-]*", name) is not None
