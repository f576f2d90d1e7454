"""HTML → plain text to read (`read --format text`): unlike the index's text, it keeps what
the eye needs. Code keeps its lines and indentation, list items their markers and numbers,
quotes a `> `, table rows their cells apart. Made once per `read`, so it may walk the tree
in Python."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from aggregator.extract.text import BLOCKS, CELLS, DROPPED, parse_html, words_only

_DROPPED = frozenset(DROPPED)
_BLOCKS = frozenset(BLOCKS) | {"table", "thead", "tbody", "tfoot", "caption"}
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_LIST_INDENT = "  "
_BREAK = "\x00"
"""A `<br>` in a block's text (the text's own line breaks are spaces; controls were
stripped before parsing, so none is in it)."""
_DEPTH = 150
"""Elements deeper than this are read as their text (the walk recurses per level)."""


def html_to_reading_text(markup: str, title: str = "") -> str:
    """Paragraphs apart by a blank line, spaces collapsed except in code; without a first
    heading that only repeats `title`."""
    if not markup or not markup.strip():
        return ""
    markup, root = parse_html(markup)
    if root is None:
        return words_only(markup)
    out = _Text(title)
    out.element(root)
    return out.result()


class _Text:
    """Blocks of lines, built by walking the tree once."""

    def __init__(self, title: str = "") -> None:
        self.title = " ".join(title.split()).casefold()
        self.blocks: list[str] = []
        self.line: list[str] = []  # the inline text of the block being read
        self.prefixes: list[str] = []  # indentation and quote marks of the blocks we are in
        self.marker = ""  # a list item's marker, for its first line
        self.marker_level = 0  # where in `prefixes` its list's indentation is
        self.depth = 0

    def result(self) -> str:
        self.end_block()
        return "\n\n".join(self.blocks).strip("\n") + "\n" if self.blocks else ""

    # -- building ------------------------------------------------------------------------

    def words(self, text: str | None) -> None:
        if text:
            self.line.append(text.replace("\n", " "))

    def end_block(self) -> None:
        lines = "".join(self.line).split(_BREAK)
        self.line = []
        kept: list[str] = []
        for line in (" ".join(line.split()) for line in lines):
            if line or (kept and kept[-1]):  # one empty line at most between lines
                kept.append(line)
        while kept and not kept[-1]:
            kept.pop()
        if kept:
            self.emit(kept)

    def emit(self, lines: list[str]) -> None:
        prefix = "".join(self.prefixes)
        first = self.first_prefix()
        rest = [f"{prefix}{line}".rstrip() for line in lines[1:]]
        self.blocks.append("\n".join([f"{first}{lines[0]}".rstrip(), *rest]))

    def first_prefix(self) -> str:
        """The prefix of a block's first line: a list item's marker, once, in place of its
        list's indentation (a quote or a list inside the item may come after it)."""
        if not self.marker:
            return "".join(self.prefixes)
        level = self.marker_level
        parts = [*self.prefixes[:level], self.marker, *self.prefixes[level + 1 :]]
        self.marker = ""
        return "".join(parts)

    def marker_alone(self) -> None:
        """A list item's marker on a line of its own, before a block that sets its own
        lines (code, a table)."""
        if self.marker:
            self.blocks.append(self.first_prefix().rstrip())

    # -- walking -------------------------------------------------------------------------

    def element(self, node: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _DROPPED or not tag:
            self.words(node.tail)  # (a comment or the like: its tail is text)
            return
        if self.depth > _DEPTH:
            self.words(_text_of(node, " "))
            self.words(node.tail)
            return
        self.depth += 1
        self.tag(node, tag)
        self.depth -= 1
        if tag in _BLOCKS or tag in ("pre", "ul", "ol", "blockquote", "hr", "table"):
            self.end_block()
        self.words(node.tail)

    def tag(self, node: Any, tag: str) -> None:
        if tag == "br":
            self.line.append(_BREAK)
        elif tag == "img":
            alt = " ".join((node.get("alt") or "").split())
            self.words(f" [image: {alt}] " if alt else " [image] ")
        elif tag == "pre":
            self.code(node)
        elif tag in ("ul", "ol"):
            self.items(node)
        elif tag == "blockquote":
            self.nested(node, "> ")
        elif tag == "hr":
            self.end_block()
            self.blocks.append("".join(self.prefixes) + "* * *")
        elif tag == "table":
            self.table(node)
        elif tag in _HEADINGS and not self.blocks and self.title:
            self.end_block()
            self.inside(node)
            self.end_block()
            if len(self.blocks) == 1 and " ".join(self.blocks[0].split()).casefold() == self.title:
                self.blocks.pop()  # the title again
        elif tag in _BLOCKS:
            self.end_block()
            self.inside(node)
            self.end_block()
        else:
            self.inside(node)

    def inside(self, node: Any) -> None:
        self.words(node.text)
        for child in node:
            self.element(child)

    def nested(self, node: Any, prefix: str) -> None:
        self.end_block()
        self.prefixes.append(prefix)
        self.inside(node)
        self.end_block()
        self.prefixes.pop()

    def code(self, node: Any) -> None:
        """Lines as written, set in by four spaces. Code that trafilatura wrapped in a
        second, pretty-printed `<pre>` is read from the inner one."""
        self.end_block()
        while len(node) == 1 and node[0].tag in ("pre", "code") and not _text_around(node):
            node = node[0]
        lines = _flat(node, code=True).split("\n")
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            self.marker_alone()
            prefix = "".join(self.prefixes) + "    "
            self.blocks.append("\n".join(f"{prefix}{line}".rstrip() for line in lines))

    def items(self, node: Any) -> None:
        self.end_block()
        self.marker_alone()  # an item that opens with a list: its own marker first
        self.words(node.text)  # text right in the list, outside its items
        self.end_block()
        start = node.get("start", "1").strip()
        numbered = node.tag == "ol" and start.isascii() and start.isdigit() and len(start) < 10
        number = int(start) if numbered else 1  # (nine digits at most, as in Markdown)
        self.prefixes.append(_LIST_INDENT)
        first, tight = len(self.blocks), True
        for child in node:
            if child.tag == "li":
                self.end_block()
                before = len(self.blocks)
                label = f"{number}." if node.tag == "ol" else "-"
                self.marker = f"{label} ".ljust(len(_LIST_INDENT))
                self.marker_level = len(self.prefixes) - 1
                number += 1
                self.inside(child)
                self.end_block()
                self.marker = ""
                tight = tight and len(self.blocks) - before == 1
                self.words(child.tail)
            else:
                self.element(child)
        self.end_block()
        self.prefixes.pop()
        if tight and len(self.blocks) - first > 1:  # items of a line each: no blank lines
            self.blocks[first:] = ["\n".join(self.blocks[first:])]

    def table(self, node: Any) -> None:
        """A row a line, its cells apart; a caption above (a cell's own blocks, a table
        laid out in a table, are run together: a terminal has no room for them)."""
        self.end_block()
        self.marker_alone()
        prefix = "".join(self.prefixes)
        caption = node.find("caption")
        if caption is not None:
            self.blocks.append(prefix + " ".join(_flat(caption).split()))
        rows = []
        for row in _own_rows(node):
            cells = [" ".join(_flat(c).split()) for c in row if c.tag in CELLS]
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                rows.append((prefix + " | ".join(cells)).rstrip())
        if rows:
            self.blocks.append("\n".join(rows))


def _text_around(node: Any) -> bool:
    """Whether an element with one child has text of its own beside that child."""
    return bool((node.text or "").strip() or (node[0].tail or "").strip())


def _own_rows(table: Any) -> list[Any]:
    """A table's rows, not those of a table inside one of its cells (whose text its cell
    gives already)."""
    rows = []
    for child in table:
        if child.tag == "tr":
            rows.append(child)
        elif child.tag in ("thead", "tbody", "tfoot"):
            rows += [row for row in child if row.tag == "tr"]
    return rows


_TEXTS = etree.XPath(
    ".//text()[not(" + " or ".join(f"ancestor::{tag}" for tag in DROPPED) + ")]",
    smart_strings=False,
)


def _text_of(node: Any, between: str = "") -> str:
    """The text inside an element, without that of scripts, styles and the like; its
    pieces joined by `between` (a space where cells or blocks would run together)."""
    return between.join(_TEXTS(node))


def _flat(node: Any, *, code: bool = False) -> str:
    """An element's text as one piece: a line break for each `<br>` and between blocks
    (code set a line a `<div>`), images as their descriptions, and nothing of scripts and
    the like. Not `itertext`: a word styled in two parts (`<b>Bo</b>ld`) stays one."""
    parts: list[str] = []

    def walk(element: Any, depth: int) -> None:
        parts.append(element.text or "")
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag == "br":
                parts.append("\n" if code else " ")
            elif tag == "img" and not code:
                alt = " ".join((child.get("alt") or "").split())
                parts.append(f" [image: {alt}] " if alt else " [image] ")
            elif tag and tag not in _DROPPED:
                if depth > _DEPTH:
                    parts.append(_text_of(child, " "))
                else:
                    block = tag in _BLOCKS or tag in CELLS
                    if block:
                        parts.append(_EDGE if code else " ")
                    walk(child, depth + 1)
                    if block:
                        parts.append(_EDGE if code else " ")
            parts.append(child.tail or "")

    walk(node, 0)
    if not code:
        return "".join(parts)
    return _EDGES.sub("\n", _EDGE_AT_LINE_START.sub("", "".join(parts)))


_EDGE = "\x01"
"""A block's edge in code: one line break however many edges meet (controls were
stripped before parsing, so none is in the text)."""
_EDGE_AT_LINE_START = re.compile("(?:^|(?<=\n))\x01+")
_EDGES = re.compile("\x01+")
