"""The entry list: virtual, so a hundred thousand entries cost only the lines on screen."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from aggregator.models import EntryRow
from aggregator.tui.keys import binding
from aggregator.tui.text import fitted, unjoined


@dataclass(frozen=True)
class Snippet:
    text: str
    spans: tuple[tuple[int, int], ...]


class EntryList(ScrollView, can_focus=True):
    """One line an entry (two with a search snippet): marks, title, source, date."""

    DEFAULT_CSS = """
    EntryList { background: $surface; overflow-x: hidden; }
    EntryList > .entry-list--cursor { background: $accent 40%; }
    EntryList:focus > .entry-list--cursor { background: $accent; color: $text; }
    EntryList > .entry-list--unread { text-style: bold; }
    EntryList > .entry-list--read { color: $text-muted; }
    EntryList > .entry-list--meta { color: $text-muted; }
    EntryList > .entry-list--snippet { color: $text-muted; }
    EntryList > .entry-list--match { color: $warning; text-style: bold; }
    EntryList > .entry-list--star { color: $warning; }
    EntryList > .entry-list--empty { color: $text-muted; text-style: italic; }
    """
    COMPONENT_CLASSES = {
        "entry-list--cursor", "entry-list--unread", "entry-list--read", "entry-list--meta",
        "entry-list--snippet", "entry-list--match", "entry-list--star", "entry-list--empty",
    }  # fmt: skip
    BINDINGS = [
        binding("list.down", "cursor(1)"),
        binding("list.up", "cursor(-1)"),
        binding("list.page_down", "page(1)"),
        binding("list.page_up", "page(-1)"),
        binding("list.first", "jump(0)"),
        binding("list.last", "jump(-1)"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        def __init__(self, row: EntryRow | None) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[EntryRow] = []
        self.snippets: dict[str, Snippet] = {}
        self.empty_text = "Loading…"
        self.untouched = True
        """The cursor is where the list was loaded with it (its first row), not moved since:
        `n` counts that row as the next one, as a reader just opened on a list does."""

    # -- content -----------------------------------------------------------------------------

    @property
    def line_height(self) -> int:
        return 2 if self.snippets else 1

    def set_rows(
        self,
        rows: list[EntryRow],
        snippets: dict[str, Snippet] | None = None,
        keep: str | None = None,
    ) -> None:
        """Show these rows; the cursor stays on entry `keep` when it is still there."""
        self.rows = rows
        self.snippets = snippets or {}
        index = next((i for i, r in enumerate(rows) if r.id == keep), -1) if keep else -1
        if index < 0:
            index, self.untouched = 0, True
        self.virtual_size = Size(0, max(1, len(rows)) * self.line_height)  # lines cut to fit
        self.cursor = index
        self.scroll_to(y=max(0, index * self.line_height - self.size.height // 3), animate=False)
        self.refresh()

    @property
    def current(self) -> EntryRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    # -- movement ----------------------------------------------------------------------------

    def watch_cursor(self, value: int) -> None:
        if not self.rows:
            self.post_message(self.Highlighted(None))
            return
        self._show_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.current))

    def _show_cursor(self) -> None:
        """Scroll just enough for the cursor's row to be in view."""
        top = self.cursor * self.line_height
        bottom = top + self.line_height
        height = self.scrollable_content_region.height  # the rows' lines, no scrollbar
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False)
        elif bottom > self.scroll_y + height:
            self.scroll_to(y=bottom - height, animate=False)

    def move_to(self, index: int) -> None:
        self.untouched = False
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, index))

    def action_cursor(self, step: int) -> None:
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.size.height // self.line_height - 1))

    def action_jump(self, where: int) -> None:
        self.move_to(0 if where == 0 else len(self.rows) - 1)

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", 0)
        self.move_to((int(self.scroll_y) + y) // self.line_height)

    def on_resize(self) -> None:
        self.virtual_size = Size(0, max(1, len(self.rows)) * self.line_height)
        # The cursor may have moved while the list was hidden (the reader in its place on a
        # narrow terminal) or the terminal shrank: its row comes back into view.
        if self.rows and self.size.height:
            self.call_after_refresh(self._show_cursor)

    # -- drawing -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = int(self.scroll_y) + y
        if not self.rows:
            lines = textwrap.wrap(self.empty_text, max(10, width - 2)) or [""]
            if y < len(lines):
                style = self.get_component_rich_style("entry-list--empty")
                return Strip([Segment(f" {lines[y]}"[:width].ljust(width), style)], width)
            return Strip.blank(width, self.rich_style)
        index, part = divmod(line, self.line_height)
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        text = self._title_line(row, width) if part == 0 else self._snippet_line(row, width)
        if index == self.cursor:
            text.stylize(self.get_component_rich_style("entry-list--cursor"))
        segments = list(text.render(self.app.console))
        return Strip(segments, width).crop(0, width).extend_cell_length(width, self.rich_style)

    def _title_line(self, row: EntryRow, width: int) -> Text:
        base = self.get_component_rich_style(
            "entry-list--read" if row.read else "entry-list--unread"
        )
        meta_style = self.get_component_rich_style("entry-list--meta")
        marks = Text(no_wrap=True)
        marks.append("●" if not row.read else " ", base)
        marks.append("★" if row.starred else " ", self.get_component_rich_style("entry-list--star"))
        marks.append(" ")
        # The source's name, where the title keeps most of the line: a list of every source
        # (or of search results) says where each entry is from.
        source = fitted(unjoined(row.source), min(22, width // 4)).plain if width >= 48 else ""
        meta = Text(f" {source} · " if source else " ", meta_style)
        # A source that gives no date: the day it arrived, in italics (the reader says so).
        date_style = meta_style + Style(italic=True) if row.undated else meta_style
        meta.append(_short_date(row.published), date_style)
        meta.append(" ", meta_style)
        title_width = max(4, width - marks.cell_len - meta.cell_len)
        # No title from the source: its first words, in italics (as newsboat and NetNewsWire do).
        style = base + Style(italic=True) if row.untitled else base
        title = Text(
            unjoined(row.title) or "(untitled)", style=style, no_wrap=True, overflow="ellipsis"
        )
        title.truncate(title_width, overflow="ellipsis", pad=True)
        line = Text(no_wrap=True, style=self.rich_style)
        line.append_text(marks)
        line.append_text(title)
        line.append_text(meta)
        return line

    def _snippet_line(self, row: EntryRow, width: int) -> Text:
        snippet = self.snippets.get(row.id)
        if snippet is None:
            return Text(" " * width)
        style = self.get_component_rich_style("entry-list--snippet")
        text = Text("   " + snippet.text.replace("\n", " "), style=style, no_wrap=True)
        match = self.get_component_rich_style("entry-list--match")
        for start, end in snippet.spans:
            text.stylize(match, start + 3, end + 3)
        text.truncate(width, overflow="ellipsis", pad=True)
        return text


def _short_date(value: datetime | None) -> str:
    if value is None:
        return "      "
    local = value.astimezone()
    now = datetime.now(UTC).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M ")
    if local.year == now.year:
        return local.strftime("%b %d")
    return local.strftime("%Y-%m")
