"""HTML → Markdown for reading: made once per article, when it is first read, through
BeautifulSoup and markdownify. Only a safe set of elements survives, links and images become
plain http(s) links, and no terminal control sequence gets through."""

from __future__ import annotations

import copy
import functools
import re
import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

from aggregator.extract.reading import html_to_reading_text
from aggregator.extract.text import BLOCKS, CELLS, DROPPED
from aggregator.models import Enclosure
from aggregator.sanitize import (
    literal_markdown,
    literal_paragraphs,
    markdown_address,
    one_line,
    strip_controls,
)

MARKDOWN_DEPTH = 100
"""Elements nested deeper than this lose their tags (not their text, nor the breaks between
blocks) before Markdown is made: the converter recurses per level, and a hostile page nested
a thousand deep would crash it."""
QUOTE_DEPTH = 16
"""Quotes and lists nested deeper than this become plain paragraphs: Markdown renderers
(markdown-it) silently drop what is nested past 20 blocks, and a list level counts twice."""
_NESTING = frozenset({"blockquote", "ul", "ol", "li", "dl", "dd"})
MARKDOWN_TAGS = 50_000
"""Past this many tags an entry is shown as plain text: bs4 and markdownify take ~40 µs a
tag, and 10 MB of `<br>`s took over a minute to read."""


def html_to_markdown(markup: str, base: str = "") -> str:
    """Markdown to read in a terminal: headings, lists, quotes, links; nothing executable."""
    if not markup or not markup.strip():
        return ""
    if markup.count("<") > MARKDOWN_TAGS:
        return literal_paragraphs(html_to_reading_text(markup))
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
    for element in soup.find_all(DROPPED):
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
    document = soup.html or soup  # the head too: see DROPPED
    _flatten_below(soup, document)
    _mark_lists_in_a_row(soup)
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
    an article of 25,000 characters was one row with its words run together. A table of
    data has its caption put above it (before its first row, the caption made markdownify
    take the header row for a row of data)."""
    rows: list[list[Any]] = []
    captions: list[Any] = []
    parts: list[Any] = []  # its rows, cells and caption: to be divisions of the page
    groups: list[Any] = []  # its tbody, thead, tfoot: to go
    stack = _tags(table)
    while stack:  # its own parts only, not a table's inside it: one pass over the page
        node = stack.pop()
        if node.name == "tr":
            rows.append([cell for cell in _tags(node) if cell.name in CELLS])
            parts += [node, *rows[-1]]
        elif node.name != "table":
            if node.name in ("tbody", "thead", "tfoot"):
                groups.append(node)
            elif node.name == "caption":
                captions.append(node)
            stack += _tags(node)
    cells = [cell for row in rows for cell in row]
    if not (all(len(row) <= 1 for row in rows) or any(map(_holds_structure, cells))):
        for caption in reversed(captions):  # (met last first: the walk is a stack)
            caption.name = "p"
            table.insert_before(caption)
        return
    parts += captions
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
    """(Not `²`; and not 5,000 digits, which `int` refuses.)"""
    digits = value.strip()
    return digits.isascii() and digits.isdigit() and len(digits) <= 18 and int(digits) <= largest


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
            if node.name in BLOCKS:
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

        def convert_li(self, el, text, parent_tags) -> str:  # noqa: ANN001 - markdownify's API
            # A list right after another of its kind takes the other marker (`1)`, `*`):
            # with the same one, Markdown reads the two as one list ("1. 2. 3.").
            item = super().convert_li(el, text, parent_tags)
            kind = el.parent.name if el.parent is not None else ""
            if kind in _OTHER_MARKER and el.parent.get(_OTHER):
                marker, other = _OTHER_MARKER[kind]
                return marker.sub(other, item, count=1)
            return item

        def process_text(self, el, parent_tags=None) -> str:  # noqa: ANN001 - markdownify's API
            # Text that would start a list, a quote or a heading where it starts a line
            # ("1984. That was…", "- Who is there?", "> 100 people") stays text.
            text = super().process_text(el, parent_tags)
            if parent_tags and "_noformat" in parent_tags:
                return text
            # (Text first in an inline element starts where that element starts:
            # `<br><span>- b</span>` is a line that starts with "- b".)
            node, first = el, el.previous_sibling
            while first is None and node.parent is not None and node.parent.name in _INLINE:
                node = node.parent
                first = node.previous_sibling
            if (first is None and node.parent is not None and block_inside(node.parent)) or (
                first is not None and (first.name == "br" or block_outside(first))
            ):
                return _LINE_START.sub(_literal_start, text)
            head, newline, rest = text.partition("\n")
            return head + newline + _LINE_START.sub(_literal_start, rest)

    return Converter(heading_style="ATX", bullets="-", escape_misc=False)


_INLINE = frozenset(
    ("a", "abbr", "b", "cite", "code", "em", "font", "i", "mark", "q", "s", "small", "span",
     "strong", "sub", "sup", "u")
)  # fmt: skip

_OTHER_MARKER = {
    "ol": (re.compile(r"^(\s*\d+)\.(?= )"), r"\1)"),
    "ul": (re.compile(r"^(\s*)-(?= )"), r"\1*"),
}


def _mark_lists_in_a_row(soup: Any) -> None:
    """Mark every other list of a run of lists of one kind, with nothing between them, to
    take the other marker (see `convert_li`). Wrappers (`<div>`, `<section>`) and empty
    paragraphs or breaks between them count for nothing: Markdown has none of them."""
    for element in soup.find_all(("ol", "ul")):
        before = _block_before(element)
        if before is not None and before.name == element.name and not before.get(_OTHER):
            element[_OTHER] = "1"


_WRAPPERS = frozenset(("div", "section", "article", "main", "header", "footer", "aside"))


def _block_before(element: Any) -> Any:
    """What Markdown shows just before this element: the last thing with content before it,
    looked for through wrappers, out of them and into them (None when nothing)."""
    node, steps = element, 0
    while True:
        before = node.previous_sibling
        while before is not None and (_empty(before) or before.name in _WRAPPERS):
            steps += 1
            if steps > _STEPS_BACK:  # (a run of empty lists: each would walk it all)
                return None
            if before.name in _WRAPPERS and not _empty(before):
                inner = before.contents[-1] if before.contents else None
                if inner is not None:
                    before = inner  # into the wrapper, from its end
                    continue
            before = before.previous_sibling
        if before is not None:
            return before
        node = node.parent
        if node is None or node.name not in _WRAPPERS:
            return None


_STEPS_BACK = 20


def _empty(node: Any) -> bool:
    """Whitespace, a break, or an element with no text or image in it."""
    if node.name is None:
        return not str(node).strip()
    if node.name == "br":
        return True
    return node.name != "img" and not node.get_text(strip=True) and node.find("img") is None


_OTHER = "data-other-marker"


_LINE_START = re.compile(
    r"^([ \t]*)(\d{1,9}(?=[.)](?:[ \t]|$))|[-+](?=[ \t]|$)|#{1,6}(?=[ \t]|$)|>"
    r"|=+(?=[ \t]*$)|-[- \t]*-(?=[ \t]*$)|`{3,}|~{3,})",
    re.M,
)
"""What makes a line a list item, a heading, a quote, a rule, the start of a block of code
(an unclosed one took all that followed: a post's, the article after it), or the line
above it a heading (`===`, `---` under text) in Markdown (`*` and `_` are always escaped)."""


def _literal_start(match: re.Match[str]) -> str:
    indent, mark = match.groups()
    return indent + (mark + "\\" if mark[0].isdigit() else "\\" + mark)


_HTML_IN_TEXT = re.compile(r"(<(?=[A-Za-z/!?])|&(?=#?[A-Za-z0-9]+;))")
"""What Markdown would read as raw HTML, an autolink or a character reference: text that
spelled `<img onerror=…>` or `&lt;` in the page must stay those characters when rendered."""


def _in_cell(markdown: str, parent_tags: set[str] | None) -> str:
    """A `|` in a table's cell escaped, code spans included: else it ends the cell (GFM)."""
    if parent_tags and not parent_tags.isdisjoint(CELLS):
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
