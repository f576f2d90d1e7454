"""Every source with its topic, health and entry count; add, edit, remove and check them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from aggregator.models import SkippedOutline, SourceInfo
from aggregator.tui.keys import binding
from aggregator.tui.screens.base import AppScreen
from aggregator.tui.text import fitted

if TYPE_CHECKING:
    from aggregator.tui.app import AggregatorApp


UNUSED = "unused:"
"""The table's key for an outline of the list that is not a source (a link, a bad address)."""


OTHER_COLUMNS = 66
"""Cells the table's columns other than topic and name take (a short health, the padding)."""


class SourcesScreen(AppScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="sources.back"),
        binding("app.add_source", "add"),
        binding("source.edit", "edit"),
        binding("source.delete", "delete"),
        binding("source.check", "check"),  # fetch and parse the highlighted one, store nothing
        Binding("j", "move(1)", "Down", show=False, id="sources.down"),
        Binding("k", "move(-1)", "Up", show=False, id="sources.up"),
    ]

    def action_move(self, step: int) -> None:
        """j and k move in the table, as in the list."""
        table = self.query_one(DataTable)
        table.move_cursor(row=table.cursor_row + step)

    app: AggregatorApp

    def compose(self) -> ComposeResult:
        yield Static(Text("Sources", style="bold"), id="sources-title")
        table: DataTable[Text] = DataTable(
            cursor_type="row", zebra_stripes=True, id="sources-table"
        )
        yield table
        yield Static("", id="sources-detail")
        yield Footer()

    def __init__(self) -> None:
        super().__init__()
        self._infos: dict[str, SourceInfo] = {}
        self._unused: dict[str, SkippedOutline] = {}

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        # Health last: an error can be long, and the columns after it would go off screen.
        for label in ("Topic", "Source", "Entries", "Unread", "Last success", "Next try", "Health"):
            table.add_column(label, key=label)
        self.load()
        table.focus()

    @work(thread=True, exclusive=True, group="sources", exit_on_error=False)
    def load(self) -> None:
        library = self.app.library
        infos = library.sources()
        self.app.call_from_thread(self.show, infos, library.refused_outlines())

    def on_resize(self) -> None:
        if self._infos or self._unused:  # names cut to the new width
            self.show(list(self._infos.values()), tuple(self._unused.values()))

    def show(self, infos: list[SourceInfo], unused: tuple[SkippedOutline, ...] = ()) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        # Topic and name are cut to leave the counts and the health in view (a name can be a
        # whole sentence); the highlighted source's are whole below the table.
        room = self.size.width - OTHER_COLUMNS
        topic_cap = max(8, room // 3)
        name_cap = max(12, room - topic_cap)
        self._infos = {info.source.url: info for info in infos}
        self._unused = {f"{UNUSED}{i}": outline for i, outline in enumerate(unused)}
        for info in infos:
            state = info.state
            if state.gone:
                health = Text("gone (410)", style="red")
            elif state.last_error:
                health = Text(f"✗ {state.last_error}", style="red")
            elif state.last_success:
                health = Text("✓ ok", style="green")
            else:
                health = Text("not fetched yet", style="dim")
            if state.moved_to:
                health.append(f" · moved to {state.moved_to}", style="yellow")
            table.add_row(
                fitted(info.source.category or "—", topic_cap),
                fitted(info.display_title, name_cap),
                Text(f"{info.entries:,}", justify="right"),
                Text(f"{info.unread:,}", justify="right"),
                Text(_when(state.last_success)),
                Text(_when(state.next_attempt)),
                health,
                key=info.source.url,
            )
        for key, outline in self._unused.items():  # outlines of the list that are no source
            table.add_row(
                fitted(outline.folder or "—", topic_cap),
                fitted(outline.title or outline.url or "(no address)", name_cap),
                *(Text("") for _ in range(4)),
                Text(f"not used: {outline.reason}", style="yellow"),
                key=key,
            )
        if row:
            table.move_cursor(row=row)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted source's address and whole last error, below the table."""
        key = str(event.row_key.value)
        info = self._infos.get(key)
        detail = self.query_one("#sources-detail", Static)
        outline = self._unused.get(key)
        if outline is not None:
            line = Text(f"{outline.folder or '—'} › {outline.title or '(no title)'}\n")
            line.append(outline.url or "(no address)", style="dim")
            line.append(f"\nnot used: {outline.reason}", style="yellow")
            detail.update(line)
            return
        if info is None:
            detail.update("")
            return
        line = Text(f"{info.source.category or '—'} › {info.display_title}\n")
        line.append(info.source.url, style="dim")
        if info.state.last_error:
            line.append(f"\n{info.state.last_error}", style="red")
        detail.update(line)

    def _selected(self) -> str | None:
        """The highlighted source's address (None on an outline that is not a source)."""
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        return None if key.startswith(UNUSED) else key

    def action_add(self) -> None:
        self.app.add_source(then=self.load)

    def action_edit(self) -> None:
        url = self._selected()
        if url:
            self.app.edit_source(url, then=self.load)

    def action_delete(self) -> None:
        url = self._selected()
        if url:
            self.app.delete_source(url, then=self.load)

    def action_check(self) -> None:
        url = self._selected()
        if url:
            self.app.check_source(url)


def _when(value: object) -> str:
    from datetime import datetime

    if isinstance(value, datetime):
        return value.astimezone().strftime("%d %b %H:%M")
    return "—"
