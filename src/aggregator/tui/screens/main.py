"""The main screen: sidebar, entry list and reader, with search on top and status below."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Footer, Markdown, Static

from aggregator.models import Entry, EntryRow, SearchResult, View, plural
from aggregator.tui.keys import binding
from aggregator.tui.messages import SearchFinished
from aggregator.tui.screens.base import AppScreen
from aggregator.tui.widgets.entry_list import EntryList, Snippet
from aggregator.tui.widgets.reader import Reader
from aggregator.tui.widgets.search_bar import SearchBar
from aggregator.tui.widgets.sidebar import Place, Sidebar
from aggregator.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from aggregator.tui.app import AggregatorApp

PREVIEW_DELAY_S = 0.12
SEARCH_PAGE = 50
"""Hits shown for a search; each costs a snippet, so fewer keep typing responsive."""
WIDE = 110
"""From this width the reader sits beside the list; below it, it takes the list's place."""
SIDEBAR_SIZES = ("", "widened", "hidden")
"""What `b` goes through, in turn: the sidebar as the screen's width makes it (`_layout`),
widened, hidden."""
PLACES = ("topic", "source")
"""The sidebar's places that `n` and `p` go on from, to the next (previous) of their kind."""


class MainScreen(AppScreen):
    AUTO_FOCUS = "#entries"
    """Not the first widget (the search bar): keys typed while the app starts are commands."""
    BINDINGS = [
        # A priority binding runs as the key arrives, before the keys queued behind it are
        # sent on: letters typed in the same burst as / then reach the search bar.
        binding("app.search", "search", priority=True),
        binding("app.back", "back"),
        binding("entry.open", "open_entry"),
        binding("entry.page", "page"),
        binding("entry.next_unread", "unread(1)"),
        binding("entry.prev_unread", "unread(-1)"),
        binding("entry.toggle_read", "toggle_read"),
        binding("entry.star", "star"),
        binding("entry.all_read", "all_read"),
        binding("entry.undo_all_read", "undo_all_read"),
        binding("entry.unread_only", "unread_only"),
        binding("entry.open_link", "open_link"),
        binding("entry.open_file", "open_file"),
        binding("search.sort", "toggle_sort"),
        binding("search.suggestion", "use_suggestion"),
        binding("app.refresh", "refresh_here"),
        binding("source.edit", "edit_source"),
        binding("source.delete", "delete_source"),
        binding("app.sidebar", "sidebar"),
    ]

    app: AggregatorApp

    def __init__(self) -> None:
        super().__init__()
        self.place = Place("all")
        self.search_result: SearchResult | None = None
        self._undo_read: list[str] = []
        """What the last A marked read, for U."""
        self.search_query = ""
        self.search_sort = "relevance"
        self.search_filter: Place | None = None
        self.search_limit = SEARCH_PAGE
        """Results asked for: a page more each time the cursor reaches the last one."""
        self._in_place = False
        self.unread_only = False
        """`u`: the list shows only unread entries (of the place chosen)."""
        self._generation = 0
        self._before_search: tuple[Place, str | None] | None = None
        self._unread_on_load: tuple[View, int] | None = None
        """`n` or `p` went on to another place: once its list (this view) is loaded, the
        cursor goes to its first (1) or last (-1) unread entry."""
        self._reading = False
        self._preview: Timer | None = None

    def compose(self) -> ComposeResult:
        yield SearchBar(id="search")
        with Horizontal(id="panes"):
            yield Sidebar(id="sidebar")
            yield EntryList(id="entries")
            yield Reader(id="reader")
        yield Static("", id="notice")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(EntryList).focus()
        self._layout()

    def on_resize(self) -> None:
        self._layout()
        if self.size.width >= WIDE and not self._reader_shows_cursor():
            self._preview_now()  # the cursor moved while the reader was not beside the list

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The list has the focus back (Shift+Tab, a search's Enter): it is shown again, as
        Esc would, rather than moving a cursor the reader hides on a narrow terminal."""
        if self.reading and isinstance(event.widget, EntryList):
            self.reading = False

    def _reader_shows_cursor(self) -> bool:
        row = self.query_one(EntryList).current
        entry = self.query_one(Reader).entry
        return row is None or (entry is not None and entry.id == row.id)

    def _preview_now(self) -> None:
        """Show the entry under the cursor beside the list, without waiting for it to rest."""
        self._cancel_preview()
        row = self.query_one(EntryList).current
        if row is not None:
            self.load_entry(row.id, mark_read=False)

    def _cancel_preview(self) -> None:
        """The entry load the cursor's last move set off, if it has not started, is not."""
        if self._preview is not None:
            self._preview.stop()

    @property
    def reading(self) -> bool:
        """An entry is open: on a narrow terminal, the reader in the list's place."""
        return self._reading

    @reading.setter
    def reading(self, value: bool) -> None:
        self._reading = value
        self._layout()

    def _layout(self) -> None:
        wide = self.size.width >= WIDE
        self.set_class(wide, "wide")
        self.set_class(self.reading and not wide, "reading")
        self.query_one(Sidebar).set_class(self.size.width < 100, "narrow")

    # -- showing the library ---------------------------------------------------------------

    @property
    def view(self) -> View:
        only = self.unread_only
        if self.place.kind == "topic":
            if not self.place.value:
                return View(unfiled=True, unread_only=only)
            return View(category=self.place.value, unread_only=only)
        if self.place.kind == "source":
            return View(source_url=self.place.value, unread_only=only)
        if self.place.kind == "starred":
            return View(starred_only=True, unread_only=only)
        return View(unread_only=only)

    def action_sidebar(self) -> None:
        """The sidebar wide (a narrow one cuts long source names short), then hidden (the
        list takes its room), then as it was."""
        sidebar = self.query_one(Sidebar)
        now = next((size for size in SIDEBAR_SIZES[1:] if sidebar.has_class(size)), "")
        then = SIDEBAR_SIZES[(SIDEBAR_SIZES.index(now) + 1) % len(SIDEBAR_SIZES)]
        for size in SIDEBAR_SIZES[1:]:
            sidebar.set_class(size == then, size)
        if then == "hidden" and sidebar.has_focus:
            self.query_one(EntryList).focus()

    def action_unread_only(self) -> None:
        """List only unread entries, or all again (entries read meanwhile stay listed until
        the list is loaded again: the cursor never loses its place under you)."""
        self.unread_only = not self.unread_only
        self._unread_on_load = None
        if self.search_result is not None:
            self.run_search()  # the results, of unread entries only (or all again)
        else:
            current = self.query_one(EntryList).current
            self.app.load_library(keep=current.id if current else None)
        shown = "Only unread entries are listed" if self.unread_only else "All entries are listed"
        self.app.notify(f"{shown} (u to change).", timeout=2)

    def show_library(self, rows: list[EntryRow], keep: str | None = None) -> None:
        entries = self.query_one(EntryList)
        entries.empty_text = self._nothing_here()
        if self.search_result is None:
            entries.set_rows(rows, keep=keep)

    def _nothing_here(self) -> str:
        """What an empty list says: a view emptied by the user's own filter says which, not
        that the library is empty (refreshing would not help)."""
        if self.place.kind == "starred":
            unread = "unread " if self.unread_only else ""
            return f"No {unread}starred entries: s stars the entry under the cursor."
        if self.unread_only:
            return "No unread entries here (u lists them all)."
        return "No entries here yet: press R to refresh, or a to add a source."

    def list_loaded(self, view: View | None) -> None:
        """The whole list of `view` is shown: the cursor goes on to the unread entry that
        `n` or `p` went to another place for."""
        wanted = self._unread_on_load
        if wanted is None or self.search_result is not None or view != wanted[0]:
            return
        self._unread_on_load = None
        step = wanted[1]
        rows = self.query_one(EntryList).rows
        unread = [i for i, row in enumerate(rows) if not row.read]
        if not unread:  # read meanwhile (elsewhere: another window, the command line)
            self.app.notify("No more unread entries here.", timeout=2)
            return
        self._go_to_unread(unread[0] if step > 0 else unread[-1])

    @on(Sidebar.Chosen)
    def chosen(self, event: Sidebar.Chosen) -> None:
        self._unread_on_load = None
        if self.search_result is not None:
            self.search_filter = None if event.place.kind == "all" else event.place
            self.run_search()
            return
        self.place = event.place
        self.app.load_library()
        self.query_one(EntryList).focus()

    @on(EntryList.Highlighted)
    async def highlighted(self, event: EntryList.Highlighted) -> None:
        """In the wide layout the reader follows the cursor, once the cursor rests: moving
        through the list never waits for an article to render. An empty list (no results)
        empties it: an article left there would read as one of them."""
        self._cancel_preview()
        entries = self.query_one(EntryList)
        result = self.search_result
        if (
            # A full page came back, so there may be more (a page asked for and not in yet
            # is not full: this asks once).
            result is not None
            and len(result.hits) >= self.search_limit
            and event.row is not None
            and entries.cursor == len(entries.rows) - 1
        ):
            self.search_limit += SEARCH_PAGE
            self.run_search(in_place=True)
        if self.size.width < WIDE:
            return
        if event.row is None:
            await self.query_one(Reader).show(None)
        else:
            entry_id = event.row.id
            self._preview = self.set_timer(
                PREVIEW_DELAY_S, lambda: self.load_entry(entry_id, mark_read=False)
            )

    def action_open_entry(self) -> None:
        focused = self.focused
        if isinstance(focused, Sidebar):
            return  # the tree selects on Enter itself
        row = self.query_one(EntryList).current
        if row is None:
            return
        # A preview still to come would replace this load (one entry load at a time) and the
        # entry opened would stay unread: Enter pressed within the preview's delay.
        self._open(row)

    def _open(self, row: EntryRow) -> None:
        """The reader on this row's entry, which is read by that."""
        self._cancel_preview()
        self.query_one(EntryList).untouched = False
        self.reading = True
        self.load_entry(row.id, mark_read=True)
        self.query_one(Reader).focus()

    def load_entry(self, entry_id: str, *, mark_read: bool) -> None:
        """Open (and mark read) or preview an entry. The two are apart: a preview set off
        by the cursor's move could otherwise replace an open whose Enter came first (one
        entry load at a time), and leave the entry opened unread."""
        if mark_read:
            self._open_load(entry_id)
        else:
            self._preview_load(entry_id)

    @work(thread=True, exclusive=True, group="entry", exit_on_error=False)
    def _open_load(self, entry_id: str) -> None:
        self._load(entry_id, mark_read=True)

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False)
    def _preview_load(self, entry_id: str) -> None:
        self._load(entry_id, mark_read=False)

    def _load(self, entry_id: str, *, mark_read: bool) -> None:
        library = self.app.library
        entry = library.entry(entry_id)
        if mark_read and not entry.read:
            self.app.store_flags(self._with_copies([entry_id]), read=True)
        self.app.call_from_thread(self._show_entry, entry, mark_read)

    async def _show_entry(self, entry: object, marked: bool) -> None:
        from aggregator.models import Entry

        assert isinstance(entry, Entry)
        if not self.is_attached:
            return  # the app is closing: nothing left to show it in
        if marked and not entry.read:
            # Stored as read: its row says so, wherever the cursor went meanwhile (`n n`
            # pressed quickly left the first one unread in the list, and `p` went back to it).
            self.show_flags(self._with_copies([entry.id]), read=True)
        current = self.query_one(EntryList).current
        if current is None or current.id != entry.id:
            return  # the list moved on (or emptied) while the entry was read
        await self.query_one(Reader).show(entry, also_in=self._also_in(entry.id))

    def show_flags(self, ids: Collection[str], **changes: bool) -> None:
        """These entries' rows with these flags; unread counts move by the rows that change."""
        wanted = set(ids)
        entries = self.query_one(EntryList)
        moved: Counter[str] = Counter()
        starred = 0
        for i, row in enumerate(entries.rows):
            if row.id in wanted:
                shown = replace(row, **changes)
                if shown != row:
                    entries.rows[i] = shown
                    if shown.read != row.read:
                        moved[row.source_url] += -1 if shown.read else 1
                    if shown.starred != row.starred:
                        starred += 1 if shown.starred else -1
        entries.refresh()
        if moved:
            self.app.adjust_unread(moved)
        if starred:
            self.query_one(Sidebar).adjust_starred(starred)

    # -- keys --------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.reading:
            self.reading = False
            in_reader = isinstance(self.focused, Reader)
            self.query_one(EntryList).focus()
            if self.size.width < WIDE or in_reader:
                return  # back to the list: that was the step
        if self.search_result is not None or self.query_one(SearchBar).value:
            self.clear_search()
        elif isinstance(self.focused, SearchBar):
            self.query_one(EntryList).focus()

    def action_search(self) -> None:
        bar = self.query_one(SearchBar)
        if self.focused is bar:
            # The key goes on to the bar, behind the letters typed before it (a query can
            # hold a / : url:, category:).
            raise SkipAction
        # At once, not after the messages already queued (as `focus()` does): "/night" typed
        # fast, or pasted, sent its letters to the list, where n, t, r and a are commands.
        self.set_focus(bar)

    def action_page(self) -> None:
        reader = self.query_one(Reader)
        if self.reading or self.size.width >= WIDE:
            if not self._reader_shows_cursor():
                # The cursor moved and the reader has not caught up: paging would go through
                # (and mark read) an entry other than the one under the cursor.
                self._preview_now()
            elif reader.scroll_y >= reader.max_scroll_y:
                shown = self.query_one(EntryList).current
                if shown is not None and not shown.read:  # paged through to its end: read
                    self.app.mark(self._with_copies([shown.id]), read=True)
                self.action_unread(1)
            else:
                reader.scroll_page_down(animate=False)
        else:
            self.query_one(EntryList).action_page(1)

    def action_unread(self, step: int) -> None:
        """The next (1) or previous (-1) unread entry in the list; past its end, for a topic
        or source chosen in the sidebar, in the next (previous) one that has any, in the
        sidebar's order. Search results keep to themselves."""
        entries = self.query_one(EntryList)
        index = entries.cursor + step
        if step > 0 and entries.untouched and not self.reading:
            index = entries.cursor  # a list just shown: its first row is the next one
        while 0 <= index < len(entries.rows):
            if not entries.rows[index].read:
                self._go_to_unread(index)
                return
            index += step
        if self.search_result is not None:
            self.app.notify("No more unread results.", timeout=2)
            return
        sidebar = self.query_one(Sidebar)
        found = sidebar.next_unread(self.place, step) if self.place.kind in PLACES else None
        if found is not None:
            place, name, count = found
            sidebar.select(place)
            self.place = place
            self._unread_on_load = (self.view, step)
            self.app.load_library()
            self.app.notify(f"On to {name} ({count:,} unread).", timeout=2)
        elif sidebar.unread == 0:
            self.app.notify("No unread entries left.", timeout=2)
        else:
            self.app.notify("No more unread entries here.", timeout=2)

    def _go_to_unread(self, index: int) -> None:
        entries = self.query_one(EntryList)
        entries.move_to(index)
        # Going to the next unread is reading it, in either layout (the cursor keys only
        # show an entry beside the list, and leave it unread).
        row = entries.rows[index]
        if self.reading or self.size.width >= WIDE:
            if not row.read:  # read now, not when the entry has loaded: `n n` reads both
                self.app.mark(self._with_copies([row.id]), read=True)
            self.load_entry(row.id, mark_read=False)
        else:  # narrow, in the list: the reader takes the list's place, as Enter has it
            self._open(row)

    def action_toggle_read(self) -> None:
        entries = self.query_one(EntryList)
        row = entries.current
        if row is not None:
            entries.untouched = False  # marked unread by hand: `n` goes on past it
            self.app.mark(self._with_copies([row.id]), read=not row.read)

    def _also_in(self, entry_id: str) -> tuple[str, ...]:
        """The other sources of a story that search results show as one hit."""
        if self.search_result is None:
            return ()
        return next((h.also_in for h in self.search_result.hits if h.id == entry_id), ())

    def _with_copies(self, ids: list[str]) -> list[str]:
        """In search results, a story two sources carry is one hit: read (or unread) as one,
        its copies too, so the other source's list does not offer it again."""
        if self.search_result is None:
            return ids
        copies = {h.id: h.also_ids for h in self.search_result.hits}
        return list(dict.fromkeys(i for eid in ids for i in (eid, *copies.get(eid, ()))))

    def action_star(self) -> None:
        row = self.query_one(EntryList).current
        if row is not None:
            self.app.mark([row.id], starred=not row.starred)

    def action_all_read(self) -> None:
        entries = self.query_one(EntryList)
        unread = [r.id for r in entries.rows if not r.read]
        if self.search_result is not None:
            if not self.search_result.hits:
                return
            # Every entry the search finds, not only the pages loaded: those loaded show it
            # at once, the library marks them all.
            self.show_flags(unread, read=True)
            self._mark_results_read(self.search_result.query, self.search_filter)
            return
        if not unread:
            return
        self.app.mark(unread, read=True)
        self._marked_read(unread)

    def _marked_read(self, ids: list[str]) -> None:
        """Kept for U: A takes a whole view at once, and one key too many should not cost
        the user what they had not read yet."""
        self._undo_read = ids
        self._say_marked(ids, "read (U to undo)", timeout=4)

    def _say_marked(self, ids: list[str], how: str, *, timeout: float) -> None:
        self.app.notify(f"Marked {plural(len(ids), 'entry', 'entries')} {how}.", timeout=timeout)

    def action_undo_all_read(self) -> None:
        ids, self._undo_read = self._undo_read, []
        if not ids:
            self.app.notify("Nothing to undo: U takes back the last A (all read).", timeout=2)
            return
        # Shown at once where they are listed; the counts are the library's once written:
        # the list now shown may not be the one `A` marked (a topic's counts stayed stale).
        self.show_flags(ids, read=False)
        self._write_unread_again(ids)

    @work(thread=True, group="flags", exit_on_error=False)
    def _write_unread_again(self, ids: list[str]) -> None:
        """What `A` marked, most of it perhaps not loaded: the unread count is the library's
        afterwards, as `_mark_results_read` takes it."""
        library = self.app.library
        with self.app.flags_lock:
            library.set_read(ids, False)
            unread = library.stats().unread
        self.app.call_from_thread(self._unread_again, ids, unread)

    def _unread_again(self, ids: list[str], unread: int) -> None:
        self._show_written(ids, unread, read=False)
        self._say_marked(ids, "unread again", timeout=2)

    @work(thread=True, group="flags", exit_on_error=False)
    def _mark_results_read(self, query: str, narrow: Place | None) -> None:
        library = self.app.library
        with self.app.flags_lock:
            marked = library.mark_search_read(query, **_narrowing(narrow))
            unread = library.stats().unread
        self.app.call_from_thread(self._results_read, marked, unread)

    def _results_read(self, marked: list[str], unread: int) -> None:
        self._show_written(marked, unread, read=True)
        if marked:
            self._marked_read(marked)
        else:
            self.app.notify("Every entry found was read already.", timeout=2)

    def _show_written(self, ids: list[str], unread: int, *, read: bool) -> None:
        """A search's matches marked in the library (`unread`: its count afterwards)."""
        if self.search_result is None:
            # Cleared meanwhile: the list and counts loaded since may be from before.
            current = self.query_one(EntryList).current
            self.app.load_library(keep=current.id if current else None)
        else:
            self.show_flags(ids, read=read)
            status = self.query_one(StatusBar)
            status.unread = unread  # the library's: most of those marked are not listed
            status.show()

    def action_open_link(self) -> None:
        self._open_entry(file=False)

    def action_open_file(self) -> None:
        self._open_entry(file=True)

    def _open_entry(self, *, file: bool) -> None:
        """Open the link (or the first attached file) of the entry read, else the row's."""
        reader = self.query_one(Reader)
        row = self.query_one(EntryList).current
        beside = self.reading or self.size.width >= WIDE
        if reader.entry is not None and beside and self._reader_shows_cursor():
            self._open_of(reader.entry, file=file)
        elif row is not None:  # the row's own link, whatever the reader shows
            self.open_row_link(row.id, file=file)

    @work(thread=True, group="entry", exit_on_error=False)
    def open_row_link(self, entry_id: str, *, file: bool = False) -> None:
        entry = self.app.library.entry(entry_id)
        self.app.call_from_thread(self._open_of, entry, file=file)

    def _open_of(self, entry: Entry, *, file: bool) -> None:
        if not file:
            self.app.open_link(entry.url)
        elif entry.enclosures:
            self.app.open_link(entry.enclosures[0].url)
        else:
            self.notify("This entry has no attached file.")

    @on(Markdown.LinkClicked)
    def link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        self.app.open_link(event.href)

    def action_refresh_here(self) -> None:
        place = self._place_in_focus()
        if place.kind not in ("topic", "source"):
            place = self.place if self.place.kind in ("topic", "source") else Place("all")
        self.app.refresh_place(place)

    def action_edit_source(self) -> None:
        url = self._source_in_focus()
        if url:
            self.app.edit_source(url)

    def action_delete_source(self) -> None:
        url = self._source_in_focus()
        if url:
            self.app.delete_source(url)

    def topic_in_focus(self) -> str:
        """The topic of what is highlighted in the sidebar, or else shown in the list: where
        a source added now goes unless the user types another."""
        return self.query_one(Sidebar).topic_of(self._place_in_focus())

    def _place_in_focus(self) -> Place:
        """The sidebar's highlighted node while the sidebar has focus (what the cursor is
        on, not only what Enter last chose), else the place the list shows."""
        sidebar = self.query_one(Sidebar)
        node = sidebar.cursor_node
        if self.focused is sidebar and node is not None and node.data is not None:
            return node.data
        return self.place

    def _source_in_focus(self) -> str | None:
        """The source that `e` and `d` act on: the one highlighted or chosen in the sidebar,
        else the source of the entry under the cursor."""
        place = self._place_in_focus()
        if place.kind in ("source", "facet-source"):
            return place.value
        row = self.query_one(EntryList).current
        if row is not None and row.source_url and not isinstance(self.focused, Sidebar):
            return row.source_url
        self.app.notify("Highlight a source in the sidebar, or one of its entries.", timeout=2)
        return None

    # -- search ------------------------------------------------------------------------------

    @on(SearchBar.QueryChanged)
    def search_changed(self, event: SearchBar.QueryChanged) -> None:
        if event.query != self.query_one(SearchBar).value:
            return  # typed on since: that text's own message follows (and this one would clear it)
        if not event.query.strip():
            if self.search_result is not None:
                self.clear_search(keep_focus=True)
            return
        self._unread_on_load = None
        if self._before_search is None:
            current = self.query_one(EntryList).current
            self._before_search = (self.place, current.id if current else None)
        if event.query.strip() != self.search_query.strip():
            self.search_filter = None  # a new query: its own facets, not the last one's choice
        self.search_query = event.query
        self.run_search()

    @on(SearchBar.QueryDone)
    def search_done(self) -> None:
        self.query_one(EntryList).focus()

    def run_search(self, *, in_place: bool = False) -> None:
        """Search again: a new query, order or narrowing from its first page; `in_place` for
        the same search where it is shown (its pages, the cursor and the article kept), with
        another page when `search_limit` was raised, or the library having changed."""
        if not in_place:
            self.search_limit = SEARCH_PAGE
        self._in_place = in_place
        self._generation += 1
        self._search(
            self.search_query, self.search_sort, self.search_filter, self._generation,
            self.search_limit,
        )  # fmt: skip

    def search_again(self) -> None:
        """The same search once the library changed (a refresh, an index catching up, a
        removal): as many results as were loaded, the cursor and the article kept."""
        self.run_search(in_place=True)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def _search(
        self, query: str, sort: str, narrow: Place | None, generation: int, limit: int
    ) -> None:
        result = self.app.library.search(
            query, limit=limit, sort=sort, unread=self.unread_only, **_narrowing(narrow)
        )
        self.post_message(SearchFinished(result, generation))

    @on(SearchFinished)
    def search_finished(self, event: SearchFinished) -> None:
        if event.generation != self._generation or not self.query_one(SearchBar).value.strip():
            return  # a newer keystroke's search is on its way, or the search was cleared
        result = event.result
        self.search_result = result
        rows = [
            EntryRow(
                h.id,
                h.title or h.first_words,
                ", ".join([h.source, *h.also_in]),  # a story two sources carry names both
                h.category,
                h.published or h.seen,
                h.read,
                h.starred,
                source_url=h.source_url,
                undated=h.published is None,
                untitled=not h.title and bool(h.first_words),
            )
            for h in result.hits
        ]
        snippets = {h.id: Snippet(h.snippet, h.highlights) for h in result.hits}
        entries = self.query_one(EntryList)
        if self.reading and not self._in_place:
            # New results (typed, re-sorted): shown, not left behind the article being read.
            self.reading = False
        entries.empty_text = "No results."
        current = entries.current
        entries.set_rows(rows, snippets, keep=current.id if self._in_place and current else None)
        if self.search_filter is None:
            self.query_one(Sidebar).show_facets(
                result.facets, result.source_titles, result.total, more=self._in_place
            )
        notes = []
        if result.suggestion:
            notes.append(f"Did you mean: {result.suggestion}  (ctrl+y)")
        if result.interpretation:
            notes.append(f"Read as: {result.interpretation}")
        order = "newest first" if result.sort == "newest" else "by relevance"
        if result.sort != self.search_sort:
            order += " (nothing to rank by)"
        about = "" if result.exact else "about "
        # Entries, not rows: a story carried by several sources is one row naming them all.
        unread = "unread " if self.unread_only else ""  # (u): unread entries only, said so
        found = about + plural(result.total, f"{unread}entry", f"{unread}entries")
        narrow = self.search_filter
        if narrow is not None and narrow.kind in ("facet-topic", "facet-source"):
            name = result.source_titles.get(narrow.value, narrow.value)
            found += f" in {name}"  # the sidebar's choice narrows them: say so
        change = "" if result.sort != self.search_sort else " (t to change)"
        summary = f"{found} {order}{change} · {result.took_ms:.0f} ms"
        self.query_one("#notice", Static).update(Text("  ·  ".join([summary, *notes])))
        self.set_class(True, "searching")

    def action_toggle_sort(self) -> None:
        if self.search_result is not None:
            self.search_sort = "newest" if self.search_sort == "relevance" else "relevance"
            self.run_search()

    def action_use_suggestion(self) -> None:
        if self.search_result is not None and self.search_result.suggestion:
            bar = self.query_one(SearchBar)
            bar.value = self.search_result.suggestion
            bar.cursor_position = len(bar.value)  # typing goes on at the end

    def clear_search(self, *, keep_focus: bool = False) -> None:
        """Back to the list as it was before the search."""
        self.search_result = None
        self.search_filter = None
        self.search_query = ""
        self._generation += 1
        bar = self.query_one(SearchBar)
        if bar.value:
            bar.value = ""
        self.query_one("#notice", Static).update("")
        self.set_class(False, "searching")
        place, keep = self._before_search or (self.place, None)
        self._before_search = None
        self.place = place
        self.app.load_library(keep=keep)
        if not keep_focus:
            self.query_one(EntryList).focus()


def _narrowing(narrow: Place | None) -> dict[str, str]:
    """The search's arguments for the topic or source chosen among its facets."""
    if narrow is not None and narrow.kind == "facet-topic":
        return {"category": narrow.value}
    if narrow is not None and narrow.kind == "facet-source":
        return {"source": narrow.value}
    return {}
