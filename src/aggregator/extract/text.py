"""HTML → plain text, for the index and snippets: made at fetch time for every entry, so
it uses lxml directly (tens of microseconds an entry)."""

from __future__ import annotations

import contextlib
import html
import re
import threading
from typing import Any

from lxml import etree

from aggregator.sanitize import (
    drop_control_references,
    strip_controls,
)

DROPPED = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math",
    "form", "input", "button", "select", "textarea", "canvas", "audio", "video", "title",
    "meta", "link", "base",
)  # fmt: skip
"""Not `head`: libxml2 (an HTML 4 parser) files what follows a `<base>`, `<meta>` or `<style>`
at the start of a fragment in the head, HTML5's `<article>` and `<section>` included: feed
content stored after its `<base href>` was lost whole."""
BLOCKS = (
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "table", "tr", "section", "article", "header", "footer", "aside",
    "figure", "figcaption", "hr", "address", "main", "nav", "details", "summary",
    "center", "fieldset", "legend", "hgroup", "dir", "menu", "dialog", "search", "optgroup",
)  # fmt: skip
CELLS = ("td", "th")
# Patterns that start with a literal let the regex engine skip ahead fast: "\n\n\n+" is several
# times quicker than "\n{3,}" here, and an ASCII class quicker than one with Unicode ranges.
_BLANK_LINES = re.compile("\n\n\n+")
_ODD_SPACE = re.compile("[\t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ODD_SPACE_ONE = re.compile("[\t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]")
"""Searching for one is several times faster than for a run ("+"), which only `sub` needs."""
_ODD_ASCII_SPACE = re.compile("[\t\r\f\v]+")
_SPACE_RUN = re.compile("  +")
_TAG = re.compile(r"<[^>]*>")
_PARSERS = threading.local()
"""A text parser per thread: a parser's error log (read to see whether it stopped at its
depth limit) is cleared by the next parse, which another thread could start."""
_LIMIT_HIT = [etree.ErrorTypes.ERR_RESOURCE_LIMIT]

_TEXT_XSLT = etree.XSLT(
    etree.XML(
        f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
        <xsl:output method="text" encoding="utf-8"/>
        <xsl:template match="{"|".join(BLOCKS)}"><xsl:text>&#10;&#10;</xsl:text>
            <xsl:apply-templates/><xsl:text>&#10;&#10;</xsl:text></xsl:template>
        <xsl:template match="br"><xsl:text>&#10;</xsl:text></xsl:template>
        <xsl:template match="{"|".join(CELLS)}"><xsl:apply-templates/>
            <xsl:text> </xsl:text></xsl:template>
        <xsl:template match="{"|".join(DROPPED)}"/>
        </xsl:stylesheet>"""
    )
)
"""Plain text in one pass of C: blocks set apart by blank lines, cells by a space, scripts
and the like dropped. A third faster than editing each block's text from Python."""


def html_to_text(markup: str) -> str:
    """Readable plain text: paragraphs separated by a blank line, spaces collapsed."""
    if not markup or not markup.strip():
        return ""
    markup, root = parse_html(markup)
    if root is not None:
        try:
            return _tidy(str(_TEXT_XSLT(root)))
        except (etree.XSLTApplyError, ValueError):
            pass
    return words_only(markup)


def parse_html(markup: str) -> tuple[str, Any]:
    """The markup without controls, and its tree: None when lxml found no document, or
    stopped at its depth limit (255: kept, as the stylesheet recurses in C per level and a
    deeper tree could exhaust a thread's stack)."""
    # Controls go before parsing: lxml keeps them in text nodes and then refuses to edit them.
    markup = drop_control_references(strip_controls(markup))
    parser = _text_parser()
    try:
        root = etree.fromstring(markup, parser)
    except (etree.ParserError, ValueError):
        return markup, None
    return markup, None if parser.error_log.filter_types(_LIMIT_HIT) else root


def page_tree(page: bytes | str) -> Any:
    """What a fetched page shows, as a tree (its scripts, styles and templates gone), its
    bytes read as trafilatura reads them: as UTF-8 when they are, else as the page declares
    (lxml alone takes undeclared bytes for Latin-1, and a Russian page's words then matched
    nothing of its article's). None when unreadable."""
    root = None
    if isinstance(page, bytes):
        try:
            page = page.decode("utf-8")
        except UnicodeDecodeError:
            with contextlib.suppress(etree.ParserError, ValueError):
                root = etree.fromstring(page, _text_parser())
    if isinstance(page, str):
        root = parse_html(_DECLARATION.sub("", page, count=1))[1]
    if root is not None:
        etree.strip_elements(root, "script", "style", "noscript", "template", with_tail=False)
    return root


_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
"""An XML declaration, which lxml refuses in text it is given decoded."""


def words_only(markup: str) -> str:
    """What to show of markup that cannot be read as a tree: the tags go, the text stays."""
    return " ".join(strip_controls(html.unescape(_TAG.sub(" ", markup))).split())


def _text_parser() -> etree.HTMLParser:
    """Plain lxml elements (not lxml.html's, whose class lookup runs in Python per node)."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.HTMLParser(
            remove_comments=True, remove_pis=True, no_network=True, default_doctype=False
        )
    return parser


def _tidy(text: str) -> str:
    """Spaces collapsed, lines trimmed, at most one blank line in a row.

    Written as whole-string passes that the regex engine can skip through quickly (a pattern
    that may start with a space is tried at every position: several times slower): this runs
    for every entry of every fetch.
    """
    if text.isascii():
        if "\t" in text or "\r" in text or "\f" in text or "\v" in text:
            text = _ODD_ASCII_SPACE.sub(" ", text)
    elif _ODD_SPACE_ONE.search(text) is not None:
        text = _ODD_SPACE.sub(" ", text)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    text = "\n".join([line.strip(" ") for line in text.split("\n")])
    return _BLANK_LINES.sub("\n\n", text).strip()


def has_words(text: str, count: int) -> bool:
    """At least `count` words, without splitting a long text all the way."""
    return len(text.split(maxsplit=count)) > count
