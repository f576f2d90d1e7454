"""The main text of an article page (trafilatura)."""

from __future__ import annotations

import functools
import html
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import lxml.html
from lxml import etree

from aggregator.extract.text import html_to_text
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
