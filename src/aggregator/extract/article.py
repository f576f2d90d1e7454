"""The main text of an article page (trafilatura)."""

from __future__ import annotations

import functools
import html
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import lxml.html
from lxml import etree

from aggregator.extract.text import html_to_text, page_tree
from aggregator.sanitize import (
    drop_control_references,
    one_line,
    strip_controls,
)


@dataclass(frozen=True, slots=True)
class Article:
    html: str
    text: str
    title: str = ""
    author: str = ""
    published: datetime | None = None


def extract_article(page: bytes | str, url: str) -> Article | None:
    """The main text of an article page, or None when nothing article-like is found.

    trafilatura with precision favoured and comments left out (F1 0.964 against 0.953 for its
    defaults on trafilatura's own benchmark; bench/extract_quality.py measures it here).
    """
    import trafilatura  # imported here: it is slow to import and only articles need it

    _quiet_extraction_logs()
    # A reference to a control (`&#27;`) made lxml refuse the text holding it, and
    # trafilatura then found no article at all. The bytes are read as latin-1 to find the
    # ASCII references and given back unchanged otherwise: the page's own charset still rules.
    if isinstance(page, bytes):
        if b"&#" in page:
            page = drop_control_references(page.decode("latin-1")).encode("latin-1")
    else:
        page = drop_control_references(page)
    try:
        result = trafilatura.extract(
            page,
            url=url,
            output_format="html",
            with_metadata=True,
            include_comments=False,
            favor_precision=True,
            include_links=True,
            include_images=True,
            include_tables=True,
        )
    except Exception:  # trafilatura raises assorted errors on hostile pages; none may stop a run
        return None
    if not result:
        return None
    try:
        root = lxml.html.document_fromstring(result)
    except (etree.ParserError, ValueError):
        return None
    meta = {m.get("name"): m.get("content") or "" for m in root.iter("meta")}
    body = root.find("body")
    if body is None:
        return None
    _inline_code_back(body)
    _numbers_back(body, page)
    # Text can sit directly in <body> before any element: keep it, escaped, with the children.
    body_html = html.escape(body.text or "") + "".join(
        lxml.html.tostring(child, encoding="unicode") for child in body.iterchildren()
    )
    text = html_to_text(body_html)
    if not text:
        return None
    return Article(
        html=strip_controls(body_html),
        text=text,
        title=one_line(meta.get("title", "")),
        author=one_line(meta.get("author", "")),
        published=_date(meta.get("date", "")),
    )


def _inline_code_back(body: Any) -> None:
    """Code within a sentence put back in it: trafilatura's HTML ends the paragraph before
    each `<code>` and makes it a `<pre>`, leaving the rest of the sentence outside any
    paragraph ("call `fetch()` with a URL" read as three blocks). A `<pre>` of one line,
    holding no element and followed by words, was code in a sentence; it joins the
    paragraph before it, with the words after it, up to the next block. (One followed by
    the next block is a line of code of its own: "Install it:", then the command.)"""
    for pre in list(body.iter("pre")):
        parent = pre.getparent()
        if len(pre) or "\n" in (pre.text or "") or parent is None:
            continue  # code of its own (trafilatura wraps a block's in a second <pre>)
        if parent is not body and parent.tag not in _HOLDERS:
            continue
        after = pre.getnext()
        if not ((pre.tail or "").strip() or (after is not None and after.tag in _INLINE)):
            continue
        pre.tag = "code"
        paragraph = pre.getprevious()
        if paragraph is None or paragraph.tag != "p":
            continue
        moving = pre
        while moving is not None and (moving is pre or moving.tag in _INLINE):
            after = moving.getnext()
            paragraph.append(moving)  # (its tail, the words after it, moves with it)
            moving = after


def _numbers_back(body: Any, page: bytes | str) -> None:
    """Numbered lists numbered again. trafilatura's HTML makes every list a `<ul>` (its XML
    keeps `rend="ol"`), so steps, rankings and footnotes lost their numbers. A `<ul>` with
    as many items as a numbered list of the page, most of them beginning with the same
    words, is that list (with its `start`). Lists are compared by their first item first,
    and a list with another first item with a few lists of its length at most: a page of
    thousands of small lists took seconds, every list against every other."""
    numbered_on_page = _NUMBERED if isinstance(page, bytes) else _NUMBERED_TEXT
    if body.find(".//ul") is None or not numbered_on_page.search(page):
        return
    root = page_tree(page)
    if root is None:
        return
    firsts: dict[tuple[int, tuple[str, ...]], str] = {}
    sized: dict[int, list[tuple[list[tuple[str, ...]], str]]] = {}
    for ol in root.iter("ol"):
        items, start = _items(ol), ol.get("start", "").strip()
        if items:
            firsts.setdefault((len(items), items[0]), start)
            sized.setdefault(len(items), []).append((items, start))
    for ul in body.iter("ul"):
        items = _items(ul)
        if not items:
            continue
        start = firsts.get((len(items), items[0]))
        if start is None:
            tried = sized.get(len(items), [])[:_TRIED]
            alike = (their_start for their, their_start in tried if _alike(items, their))
            start = next(alike, None)
        if start is not None:
            ul.tag = "ol"
            if start.isascii() and start.isdigit() and len(start) < 10:
                ul.set("start", start)


_TRIED = 8
"""Lists of the same length tried against one whose first item matches none."""


def _items(listing: Any) -> list[tuple[str, ...]]:
    """The first words of each item of a list: what extraction leaves of them."""
    return [tuple("".join(li.itertext()).split()[:6]) for li in listing if li.tag == "li"]


def _alike(items: list[tuple[str, ...]], others: list[tuple[str, ...]]) -> bool:
    """Three items in four or more begin alike (extraction drops a footnote mark here and
    there)."""
    return sum(a == b for a, b in zip(items, others, strict=True)) * 4 >= len(items) * 3


_NUMBERED = re.compile(rb"<ol[\s>]", re.IGNORECASE)
_NUMBERED_TEXT = re.compile(r"<ol[\s>]", re.IGNORECASE)
_INLINE = frozenset(("a", "b", "strong", "i", "em", "code", "span", "sub", "sup", "br", "q"))
_HOLDERS = frozenset(("li", "blockquote", "td", "th", "dd", "div"))
"""Blocks whose sentences trafilatura breaks the same way as the page's (ars-1: a list item,
"The root of the object, `rekt`, contains…")."""


@functools.cache
def _quiet_extraction_logs() -> None:
    """trafilatura and its helpers log warnings about odd pages; with no handler configured,
    Python would print them over the user's terminal."""
    for name in ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer"):
        logging.getLogger(name).addHandler(logging.NullHandler())


def _date(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
