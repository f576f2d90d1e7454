"""HTML → what the library keeps: plain text for the index, Markdown for reading, and the
main text of an article page.

Plain text is made at fetch time for every entry, so it uses lxml directly (tens of
microseconds an entry). Markdown is made once per article, when it is first read, through
BeautifulSoup and markdownify: only a safe set of elements survives, links and images become
plain http(s) links, and no terminal control sequence gets through.
"""

from __future__ import annotations

import copy
import functools
import html
import logging
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from aggregator.models import Enclosure
from aggregator.sanitize import (
    drop_control_references,
    literal_markdown,
    markdown_address,
    one_line,
    strip_controls,
)

_DROP = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math",
    "form", "input", "button", "select", "textarea", "canvas", "audio", "video", "title",
    "meta", "link", "base",
)  # fmt: skip
"""Not `head`: libxml2 (an HTML 4 parser) files what follows a `<base>`, `<meta>` or `<style>`
at the start of a fragment in the head, HTML5's `<article>` and `<section>` included: feed
content stored after its `<base href>` was lost whole."""
_BLOCKS = (
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "table", "tr", "section", "article", "header", "footer", "aside",
    "figure", "figcaption", "hr", "address", "main", "nav", "details", "summary",
)  # fmt: skip
_CELLS = ("td", "th")
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
MARKDOWN_DEPTH = 100
"""Elements nested deeper than this lose their tags (not their text, nor the breaks between
blocks) before Markdown is made: the converter recurses per level, and a hostile page nested
a thousand deep would crash it."""
QUOTE_DEPTH = 16
"""Quotes and lists nested deeper than this become plain paragraphs: Markdown renderers
(markdown-it) silently drop what is nested past 20 blocks, and a list level counts twice."""
_NESTING = frozenset({"blockquote", "ul", "ol", "li", "dl", "dd"})


_TEXT_XSLT = etree.XSLT(
    etree.XML(
        f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
        <xsl:output method="text" encoding="utf-8"/>
        <xsl:template match="{"|".join(_BLOCKS)}"><xsl:text>&#10;&#10;</xsl:text>
            <xsl:apply-templates/><xsl:text>&#10;&#10;</xsl:text></xsl:template>
        <xsl:template match="br"><xsl:text>&#10;</xsl:text></xsl:template>
        <xsl:template match="{"|".join(_CELLS)}"><xsl:apply-templates/>
            <xsl:text> </xsl:text></xsl:template>
        <xsl:template match="{"|".join(_DROP)}"/>
        </xsl:stylesheet>"""
    )
)
"""Plain text in one pass of C: blocks set apart by blank lines, cells by a space, scripts
and the like dropped. A third faster than editing each block's text from Python."""


def html_to_text(markup: str) -> str:
    """Readable plain text: paragraphs separated by a blank line, spaces collapsed."""
    if not markup or not markup.strip():
        return ""
    # Controls go before parsing: lxml keeps them in text nodes and then refuses to edit them.
    markup = drop_control_references(strip_controls(markup))
    parser = _text_parser()
    try:
        root = etree.fromstring(markup, parser)
        if root is not None and not parser.error_log.filter_types(_LIMIT_HIT):
            return _tidy(str(_TEXT_XSLT(root)))
    except (etree.ParserError, etree.XSLTApplyError, ValueError):
        pass
    # lxml found no document, or stopped at its depth limit (255: kept, as the stylesheet
    # recurses in C per level and a deeper tree could exhaust a thread's stack), or the
    # stylesheet could not run: the tags go, the text stays.
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


# -- Markdown ----------------------------------------------------------------------------------


def html_to_markdown(markup: str, base: str = "") -> str:
    """Markdown to read in a terminal: headings, lists, quotes, links; nothing executable."""
    if not markup or not markup.strip():
        return ""
    from bs4 import BeautifulSoup, Comment  # only reading needs these; the fetch path does not

    with warnings.catch_warnings():
        # bs4 warns about markup that looks like XML or a URL: feed content often does, and
        # a warning printed over a terminal UI helps nobody.
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(markup, "lxml")
    base_tag = soup.find("base", href=True)
    if base_tag is not None:
        base = urljoin(base, str(base_tag["href"]))
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for element in soup.find_all(_DROP):
        element.decompose()
    for outer in soup.find_all("pre"):
        if outer.find("pre") is not None:
            _one_block_of_code(outer)
    for table in soup.find_all("table"):  # outer ones first: each looks only at its own
        _unless_laid_out(table)
    for element in soup.find_all(True):
        if element.name == "a":
            href = _safe_url(element.get("href"), base)
            element.attrs = {"href": href} if href else {}
            if not href:
                element.unwrap()
        elif element.name == "img":
            # A lazy-loading page's `src` is a placeholder (a `data:` image) until a script
            # puts the image's address, kept in `data-src`, in its place.
            found = (_safe_url(element.get(key), base) for key in _IMAGE_SOURCES)
            src = next(filter(None, found), "")
            alt = element.get("alt") or ""
            element.attrs = {"src": src, "alt": alt} if src else {}
            if not src:
                element.decompose()
        else:
            # A list's first number and a cell's span are kept: without them a list went on
            # from 1 after a note, and a row's values stood under the wrong headers.
            kept = _KEPT_NUMBERS.get(element.name, {})
            element.attrs = {
                k: v
                for k, v in element.attrs.items()
                if k in kept and isinstance(v, str) and _number_up_to(v, kept[k])
            }
    document = soup.html or soup  # the head too: see _DROP
    _flatten_below(soup, document)
    return _tidy_markdown(strip_controls(_converter().convert_soup(document)))


def _one_block_of_code(outer: Any) -> None:
    """A block of code trafilatura wrapped in two `<pre>`s, as one: without the outer one's
    pretty-printing (a first or last piece of only spaces and a line break), which moved
    the code's first line; the code's own spaces and lines stay."""
    for end in (outer.contents[:1], outer.contents[-1:]):
        for piece in end:
            if piece.name is None and not piece.strip() and "\n" in piece:
                piece.extract()
    for inner in outer.find_all("pre"):
        inner.unwrap()


_STRUCTURE = frozenset(("h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "pre",
                       "blockquote", "table", "section", "article"))  # fmt: skip
"""What a cell of a table that lays a page out holds, and a cell of data does not (a data
cell may hold one paragraph: Google Docs and Confluence write each cell so)."""


def _unless_laid_out(table: Any) -> None:
    """A table that lays a page out (an article in one cell, headings or several paragraphs
    in a cell, or one column) becomes its cells' content, one after another: as a table,
    an article of 25,000 characters was one row with its words run together."""
    rows: list[list[Any]] = []
    parts: list[Any] = []  # its rows, cells and caption: to be divisions of the page
    groups: list[Any] = []  # its tbody, thead, tfoot: to go
    stack = _tags(table)
    while stack:  # its own parts only, not a table's inside it: one pass over the page
        node = stack.pop()
        if node.name == "tr":
            rows.append([cell for cell in _tags(node) if cell.name in _CELLS])
            parts += [node, *rows[-1]]
        elif node.name != "table":
            if node.name in ("tbody", "thead", "tfoot"):
                groups.append(node)
            elif node.name == "caption":
                parts.append(node)
            stack += _tags(node)
    cells = [cell for row in rows for cell in row]
    if not (all(len(row) <= 1 for row in rows) or any(map(_holds_structure, cells))):
        return
    for group in groups:
        group.unwrap()
    for part in parts:
        part.name = "div"
    table.name = "div"


def _tags(node: Any) -> list[Any]:
    """A node's child elements (bs4's `find_all(recursive=False)` builds a filter per call:
    a page of nested tables spent seconds on them)."""
    return [child for child in node.children if child.name is not None]


def _holds_structure(cell: Any) -> bool:
    """Headings, lists, code, quotes, a table, or two paragraphs, in the cell itself (a
    table inside it is one thing it holds, not looked into)."""
    paragraphs = 0
    stack = _tags(cell)
    while stack:
        node = stack.pop()
        if node.name in _STRUCTURE:
            return True
        paragraphs += node.name in ("p", "div")
        if paragraphs > 1:  # (email-style pages write their paragraphs as divs)
            return True
        stack += _tags(node)
    return False


_IMAGE_SOURCES = ("src", "data-src", "data-lazy-src", "data-original")
_KEPT_NUMBERS = {
    "ol": {"start": 999_999_999},  # (a list item's number has nine digits at most)
    "td": {"colspan": 20},
    "th": {"colspan": 20},
}
"""Attributes kept, with the largest number each may be: a page of cells spanning 1,000
columns made 2.4 MB of Markdown out of 23 KB."""


def _number_up_to(value: str, largest: int) -> bool:
    return value.isascii() and value.isdigit() and int(value) <= largest  # (not `²`)


_FENCE = re.compile(r"(`{3,}|~{3,})")


def _tidy_markdown(markdown: str) -> str:
    """Spaces at line ends dropped and blank lines squeezed to one, outside code blocks
    (inside, the code's own blank lines and spaces stay as written); a line break in a
    paragraph (`<br>`: two spaces, then the next line) stays one."""
    out: list[str] = []
    fence = ""
    for line in markdown.split("\n"):
        opening = _FENCE.match(line.lstrip())
        if fence:
            out.append(line)
            if opening and opening[0].startswith(fence) and not line.strip(fence[0] + " "):
                fence = ""
            continue
        if opening:
            fence = opening[0]
        kept = line.rstrip()
        if kept and line.endswith("  ") and not opening:
            kept += "  "  # a line break, if a line follows
        elif out and out[-1].endswith("  ") and out[-1].strip() and not kept:
            out[-1] = out[-1].rstrip()  # the paragraph ends here: no break to keep
        if kept or (out and out[-1]):
            out.append(kept)
    if out and out[-1].endswith("  "):
        out[-1] = out[-1].rstrip()
    return "\n".join(out).strip() + "\n"


def _flatten_below(soup: Any, root: Any) -> None:
    """Make what is nested too deep for Markdown shallow (walked without recursion).

    Quotes and lists nested more than `QUOTE_DEPTH` deep become paragraphs. Elements more
    than `MARKDOWN_DEPTH` below `root` lose their tags, but a block's edges stay line breaks and an
    element holding no other keeps its tag (links, code): words never run together.
    """
    stack, deep, renamed = [(root, 0, 0)], [], []
    while stack:
        node, level, quotes = stack.pop()
        if level >= MARKDOWN_DEPTH:
            deep.append(node)
            continue
        for child in node.find_all(True, recursive=False):
            nested = quotes + (child.name in _NESTING)
            if nested > QUOTE_DEPTH and child.name in _NESTING:
                renamed.append(child)
                nested -= 1  # its content stays at its parent's depth
            stack.append((child, level + 1, nested))
    for element in renamed:
        element.name = "p" if element.name in ("li", "dd") else "div"
    for element in deep:
        _flattened(soup, element)


def _flattened(soup: Any, top: Any) -> None:
    """`top`'s content, every tag that holds another gone, in one pass over it.

    Unwrapping tag by tag costs a walk of what each holds (bs4 relinks the document), so a
    hostile page of 20,000 nested `<div>`s took a minute; this builds the flat content anew.
    """
    flat: list[Any] = []

    def line_break() -> None:  # two in a row at most: a blank line
        if not (len(flat) > 1 and flat[-1].name == flat[-2].name == "br"):
            flat.append(soup.new_tag("br"))

    todo: list[tuple[Any, bool]] = [(child, True) for child in reversed(top.contents)]
    while todo:
        node, entering = todo.pop()
        if not entering:
            line_break()
        elif node.name is None:
            flat.append(type(node)(str(node)))  # a string, of its own kind
        elif node.find(True, recursive=False) is None:
            flat.append(copy.copy(node))  # holds no other tag: kept whole
        else:
            if node.name in _BLOCKS:
                line_break()
                todo.append((node, False))
            todo.extend((child, True) for child in reversed(node.contents))
    top.clear()
    top.extend(flat)


@functools.cache
def _converter() -> object:
    from markdownify import MarkdownConverter
    from markdownify import should_remove_whitespace_inside as block_inside
    from markdownify import should_remove_whitespace_outside as block_outside

    class Converter(MarkdownConverter):
        """Images as links (a terminal cannot show them); links are http(s) by now."""

        def convert_img(self, el, text, parent_tags) -> str:  # noqa: ANN001 - markdownify's API
            src = el.get("src") or ""
            alt = _brackets_escaped(one_line(el.get("alt") or "")) or "image"
            if parent_tags and "a" in parent_tags:
                return f"image: {alt}"  # the link it is in is the link: no link in a link
            return f"[image: {alt}]({src})" if src else ""

        def escape(self, text, parent_tags) -> str:  # noqa: ANN001 - markdownify's API
            # Text that spells a link ("[x](javascript:…)") must stay text for whatever
            # renders this Markdown next (`aggregator read` is for other tools too).
            escaped = _brackets_escaped(super().escape(text, parent_tags))
            return _in_cell(_HTML_IN_TEXT.sub(r"\\\1", escaped), parent_tags)

        def convert_code(self, el, text, parent_tags) -> str:  # noqa: ANN001 - markdownify's API
            return _in_cell(super().convert_code(el, text, parent_tags), parent_tags)

        def convert_pre(self, el, text, parent_tags) -> str:  # noqa: ANN001 - markdownify's API
            # A fence longer than any run of backticks in the code: code showing a Markdown
            # example closed its block early, and the rest of the article became code.
            block = super().convert_pre(el, text, parent_tags)
            longest = max(map(len, re.findall("`{3,}", text)), default=0)
            if not longest:
                return block
            start, end, fence = block.index("```"), block.rindex("```"), "`" * (longest + 1)
            return block[:start] + fence + block[start + 3 : end] + fence + block[end + 3 :]

        def process_text(self, el, parent_tags=None) -> str:  # noqa: ANN001 - markdownify's API
            # Text that would start a list, a quote or a heading where it starts a line
            # ("1984. That was…", "- Who is there?", "> 100 people") stays text.
            text = super().process_text(el, parent_tags)
            if parent_tags and "_noformat" in parent_tags:
                return text
            first = el.previous_sibling
            if (first is None and block_inside(el.parent)) or (
                first is not None and (first.name == "br" or block_outside(first))
            ):
                return _LINE_START.sub(_literal_start, text)
            head, newline, rest = text.partition("\n")
            return head + newline + _LINE_START.sub(_literal_start, rest)

    return Converter(heading_style="ATX", bullets="-", escape_misc=False)


_LINE_START = re.compile(
    r"^([ \t]*)(\d{1,9}(?=[.)](?:[ \t]|$))|[-+](?=[ \t]|$)|#{1,6}(?=[ \t]|$)|>"
    r"|=+(?=[ \t]*$)|-[- \t]*-(?=[ \t]*$))",
    re.M,
)
"""What makes a line a list item, a heading, a quote, a rule, or the line above it a
heading (`===`, `---` under text) in Markdown (`*` and `_` are always escaped)."""


def _literal_start(match: re.Match[str]) -> str:
    indent, mark = match.groups()
    return indent + (mark + "\\" if mark[0].isdigit() else "\\" + mark)


_HTML_IN_TEXT = re.compile(r"(<(?=[A-Za-z/!?])|&(?=#?[A-Za-z0-9]+;))")
"""What Markdown would read as raw HTML, an autolink or a character reference: text that
spelled `<img onerror=…>` or `&lt;` in the page must stay those characters when rendered."""


def _in_cell(markdown: str, parent_tags: set[str] | None) -> str:
    """A `|` in a table's cell escaped, code spans included: else it ends the cell (GFM)."""
    if parent_tags and not parent_tags.isdisjoint(_CELLS):
        return markdown.replace("|", "\\|")
    return markdown


def _safe_url(value: object, base: str) -> str:
    """An http(s) URL that cannot end a Markdown link early: `(`, `)`, `<`, `>` and spaces
    are percent-encoded (`…/x)](javascript:…)` stays one address)."""
    if not isinstance(value, str) or not value.strip():
        return ""
    try:
        absolute = urljoin(base, one_line(value))
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return ""
    return markdown_address(absolute) if scheme in ("http", "https") else ""


def _brackets_escaped(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]") if text else text


def enclosures_markdown(files: Sequence[Enclosure]) -> str:
    """The files an entry carries, as links under its text: each named, with its type,
    size and length. Their names and types are the feed's text, so escaped."""
    lines = []
    for file in files:
        url = _safe_url(file.url, "")
        if url:
            lines.append(
                f"- [{literal_markdown(file.name)}]({url}) · {literal_markdown(file.describe())}"
            )
    return "**Attachments**\n\n" + "\n".join(lines) + "\n" if lines else ""


# -- article pages -----------------------------------------------------------------------------


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
        if len(pre) or "\n" in (pre.text or "") or pre.getparent() is not body:
            continue  # code of its own (trafilatura wraps a block's in a second <pre>)
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
