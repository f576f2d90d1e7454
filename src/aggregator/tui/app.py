"""The Textual app: one `Library`, thread workers around it, screens over it.

`make_app()` is the one factory, used by `aggregator`, `aggregator demo` and the tests.
"""

from __future__ import annotations

import threading
import webbrowser
from collections.abc import Callable, Mapping
from pathlib import Path

from textual import on, work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from aggregator.config import Settings
from aggregator.errors import AggregatorError
from aggregator.library import Library, open_library
from aggregator.models import UNFILED, EntryRow, FetchReport, Source, plural
from aggregator.tui.commands import AggregatorCommands
from aggregator.tui.keys import binding, keymap
from aggregator.tui.messages import (
    IndexCaughtUp,
    IndexProgress,
    LibraryLoaded,
    RefreshFinished,
    RefreshProgress,
    WorkerFailed,
)
from aggregator.tui.screens.confirm import ConfirmScreen
from aggregator.tui.screens.help import HelpScreen
from aggregator.tui.screens.main import MainScreen
from aggregator.tui.screens.source_form import SourceForm, SourceFormScreen
from aggregator.tui.screens.sources import SourcesScreen
from aggregator.tui.widgets.entry_list import EntryList
from aggregator.tui.widgets.reader import Reader
from aggregator.tui.widgets.sidebar import Place, Sidebar
from aggregator.tui.widgets.status_bar import StatusBar

FIRST_ROWS = 300
"""Rows shown before the whole list (and the sidebar's counts) are loaded."""


class AggregatorApp(App[str | None]):
    """Returns "demo" when the user accepted the offer of the demo (offline, nothing stored)."""

    CSS_PATH = "app.tcss"
    TITLE = "aggregator"
    COMMANDS = App.COMMANDS | {AggregatorCommands}
    BINDINGS = [
        binding("app.quit", "quit"),
        binding("app.help", "help"),
        binding("app.refresh_all", "refresh_all"),
        binding("app.sources", "sources"),
        binding("app.add_source", "add_source"),
        # Not remappable: Textual's screens bind Tab themselves, so a remap would only add.
        Binding("tab", "focus_next", "Next pane", show=False),
        Binding("ctrl+c", "quit_now", "Quit", show=False, priority=True),  # even in a text box
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        refresh_on_start: bool = False,
        demo: bool = False,
        library: Library | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.refresh_on_start = refresh_on_start
        self.demo = demo
        self._library = library
        self.user_keys, self.unknown_keys, self.clashing_keys = keymap(settings.keys)
        self._list_problem_said = ""
        self._refreshing = False
        self._queued: dict[str, str] = {}
        """Sources added while a refresh ran (url → name): fetched when it ends."""
        self.flags_lock = threading.Lock()
        """Held while the list and its counts are read, and while read or starred flags are
        written: a load sees a flag change whole or not at all (see `mark`)."""
        if demo:
            self.sub_title = "demo · sample articles, no network"

    @property
    def library(self) -> Library:
        assert self._library is not None
        return self._library

    @property
    def main(self) -> MainScreen:
        return self.get_screen("main")  # type: ignore[return-value]

    def on_mount(self) -> None:
        if self._library is None:
            self._library = open_library(self.settings)
        # Textual owns the terminal's file descriptors and this process runs threads: worker
        # processes (parsing, indexing) cannot start cleanly from here, so threads do the work.
        self.library.use_processes = False
        self.set_keymap(self.user_keys)
        if self.unknown_keys:
            self.notify(
                f"[keys] in config.toml names no action: {', '.join(self.unknown_keys)}",
                severity="warning",
            )
        for clash in self.clashing_keys:
            message = f"[keys] in config.toml gives one key to two actions: {clash}"
            self.notify(message, severity="warning", markup=False)
        self.install_screen(MainScreen(), "main")
        self.push_screen("main")
        self.load_library()
        if self.refresh_on_start:
            self.refresh_place(Place("all"), label="all sources")  # indexes what it stores
        else:
            self._catch_up()

    async def action_quit(self) -> None:
        """Quit, but from an article being read back to the list, and from the sources screen
        back to the main one (newsboat's `q`)."""
        if self.screen is self.main and self.main.reading and isinstance(self.focused, Reader):
            self.main.action_back()
            return
        if isinstance(self.screen, SourcesScreen):
            self.pop_screen()
            return
        await self.action_quit_now()

    async def action_quit_now(self) -> None:
        self._stop_work()  # first: their threads would slow the closing down
        await super().action_quit()

    def on_unmount(self) -> None:
        self._stop_work()

    def _stop_work(self) -> None:
        if self._library is not None:
            self._library.cancel_fetch()
            self._library.stop_indexing()

    # -- loading -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_library(self, keep: str | None = None) -> None:
        """The newest screenful first (it shows at once), then everything with the counts."""
        library = self.library
        view = self.main.view
        if keep is None:
            self.call_from_thread(self._first_rows, library.entries(view, limit=FIRST_ROWS))
        # Shown before the lock is let go: a flag written after these reads is shown again
        # (`mark`) only once this list is there, never before it and then overwritten.
        with self.flags_lock:
            rows = library.entries(view)
            sources = library.sources()
            stats = library.stats()
            loaded = LibraryLoaded(
                sources,
                rows,
                stats.entries,
                stats.unread,
                stats.starred,
                view=view,
                topics=tuple(library.topics()),
            )
            self.call_from_thread(self._loaded, loaded, keep)

    @work(thread=True, group="index", exit_on_error=False)
    def _catch_up(self) -> None:
        """Entries stored but not searchable yet are indexed first, with progress shown."""
        applied = 0
        try:
            applied = self.library.catch_up(
                lambda done, total: self.post_message(IndexProgress(done, total))
            )
        finally:  # done, given way to a refresh, or failed (shown as any worker's error)
            self.post_message(IndexCaughtUp(applied))

    @on(IndexCaughtUp)
    def index_caught_up(self, event: IndexCaughtUp) -> None:
        if not self._refreshing:
            status = self.main.query_one(StatusBar)
            status.activity = ""
            status.show()
        if event.applied:
            indexed = plural(event.applied, "entry", "entries")
            self.notify(f"Indexed {indexed}: search sees them now.")
            if self.main.search_result is not None:
                self.main.search_again()

    def _first_rows(self, rows: list[EntryRow]) -> None:
        if self.main.search_result is None and len(self.main.query_one(EntryList).rows) <= len(
            rows
        ):
            self.main.show_library(rows)

    def _loaded(self, event: LibraryLoaded, keep: str | None) -> None:
        main = self.main
        if main.search_result is None:
            main.query_one(Sidebar).show_sources(
                event.sources, event.unread, event.starred, shown=main.place, topics=event.topics
            )
        current = main.query_one(EntryList).current
        main.show_library(event.rows, keep=keep or (current.id if current else None))
        status = main.query_one(StatusBar)
        status.entries, status.unread = event.total, event.unread
        status.unread_only = main.unread_only
        successes = [s.state.last_success for s in event.sources if s.state.last_success]
        status.last_refresh = max(successes) if successes else status.last_refresh
        status.show()
        main.list_loaded(event.view)  # after the counts: what `n` reads there moves them
        problem = self.library.list_problem
        if problem and problem != self._list_problem_said:  # said once, until it changes
            self.notify(
                f"{problem}: the sources shown are as last read; fix the list to change them "
                "or to refresh",
                severity="warning",
                timeout=12,
            )
        self._list_problem_said = problem

    def adjust_unread(self, changes: Mapping[str, int]) -> None:
        """Entries read or marked unread here, as a change per source: the status bar and
        the sidebar's counts follow without reading the library's counts again."""
        status = self.main.query_one(StatusBar)
        status.unread = max(0, status.unread + sum(changes.values()))
        status.show()
        self.main.query_one(Sidebar).adjust_unread(changes)

    # -- flags and links -----------------------------------------------------------------------

    def mark(self, ids: list[str], **flags: bool) -> None:
        """Entries read or unread, starred or not: shown at once, written, then shown again.
        A list loaded in between was read before the write, with counts to match; showing
        the flags again on that list moves its counts with them."""
        self.main.show_flags(ids, **flags)
        self._write_flags(ids, **flags)

    @work(thread=True, group="flags", exit_on_error=False)
    def _write_flags(self, ids: list[str], **flags: bool) -> None:
        self.store_flags(ids, **flags)
        self.call_from_thread(self.main.show_flags, ids, **flags)

    def store_flags(
        self, ids: list[str], *, read: bool | None = None, starred: bool | None = None
    ) -> None:
        """Write flags to the library, never in the middle of a list's load (a worker's job)."""
        with self.flags_lock:
            if read is not None:
                self.library.set_read(ids, read)
            if starred is not None:
                self.library.set_starred(ids, starred)

    def open_link(self, url: str) -> None:
        """Open in $BROWSER (or the system's); only http(s): a feed must not open local files."""
        if not url.lower().startswith(("http://", "https://")):
            self.notify("Only http and https links are opened.", severity="warning")
            return
        self._open_in_browser(url)

    @work(thread=True, group="browser", exit_on_error=False)
    def _open_in_browser(self, url: str) -> None:
        # Finding the browser can run `xdg-settings` (a second or more on some desktops): on
        # this thread, not the one that draws the screen and reads keys.
        if _in_this_terminal():
            self.call_from_thread(self._open_in_this_terminal, url)
        elif not webbrowser.open(url):
            self.post_message(WorkerFailed("open the link", f"no browser available for {url}"))

    def _open_in_this_terminal(self, url: str) -> None:
        """w3m, lynx and the like take the terminal: the app steps aside until they exit (run
        beside it, both drew on the screen and keys went to the app)."""
        try:
            with self.suspend():
                opened = webbrowser.open(url)
        except SuspendNotSupported:
            opened = webbrowser.open(url)
        if not opened:
            self.notify(f"Could not open the link: no browser available for {url}")

    # -- refreshing ----------------------------------------------------------------------------

    def refresh_place(self, place: Place, label: str | None = None, *, queue: bool = False) -> None:
        """Fetch a place's sources; `queue`: a source just added, fetched after the refresh
        running now rather than never (that refresh read the list before it was added)."""
        if self._refreshing:
            if queue and place.kind == "source":
                self._queued[place.value] = label or place.value
                self.notify(f"{self._queued[place.value]} is fetched next.", timeout=3)
            else:
                self.notify("A refresh is already running.", timeout=2)
            return
        urls = [place.value] if place.kind == "source" else []
        category = place.value if place.kind == "topic" else None
        if label is None:  # named as the sidebar names it (a source by its title)
            label = self.main.query_one(Sidebar).name_of(place)
        self._refreshing = True
        # The topic "" is Unfiled: the sources in no folder.
        self._refresh(urls, category or None, label, unfiled=category == "")

    def action_refresh_all(self) -> None:
        self.refresh_place(Place("all"), label="all sources")

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def _refresh(
        self, urls: list[str], category: str | None, label: str, *, unfiled: bool = False
    ) -> None:
        report = self.library.fetch(
            urls,
            category=category,
            unfiled=unfiled,
            progress=lambda p: self.post_message(RefreshProgress(p)),
            index_progress=lambda done, total: self.post_message(IndexProgress(done, total)),
        )
        self.post_message(RefreshFinished(report, label))

    def _fetch_queued(self) -> None:
        if self._queued and not self._refreshing:
            queued, self._queued = self._queued, {}
            label = next(iter(queued.values()))
            if len(queued) > 1:
                label = plural(len(queued), "added source", "added sources")
            self._refreshing = True
            self._refresh(list(queued), None, label)

    def _library_changed(self) -> None:
        """After a refresh or a removal: the list loaded again, and a search shown is run
        again (its results went stale: `A` marked matches nobody had seen)."""
        self.load_library(keep=self._current_id())
        if self.main.search_result is not None:
            self.main.search_again()

    @on(RefreshProgress)
    def refresh_progress(self, event: RefreshProgress) -> None:
        p = event.progress
        status = self.main.query_one(StatusBar)
        status.activity = f"refreshing {p.done}/{p.total} · {p.new:,} new" + (
            f" · {p.failed} failed" if p.failed else ""
        )
        status.show()

    @on(IndexProgress)
    def index_progress(self, event: IndexProgress) -> None:
        status = self.main.query_one(StatusBar)
        status.activity = f"indexing {event.done:,}/{event.total:,}"
        status.show()

    @on(RefreshFinished)
    def refresh_finished(self, event: RefreshFinished) -> None:
        self._refreshing = False
        report = event.report
        status = self.main.query_one(StatusBar)
        status.activity = ""
        status.offline = report.offline
        status.show()
        self.notify(
            _summary(report, event.label),
            timeout=6,
            severity="warning" if report.failed or report.index_error else "information",
        )
        self._library_changed()
        for screen in self.screen_stack:  # a source added there: its entries and health
            if isinstance(screen, SourcesScreen):
                screen.load()
        self._fetch_queued()
        if report.offline and not self.demo and status.entries == 0 and report.new == 0:
            self.push_screen(
                ConfirmScreen(
                    "No network, and nothing is stored yet. "
                    "Open the demo library of sample articles instead?",
                    yes="Open the demo",
                    no="Stay",
                ),
                lambda yes: self.exit("demo") if yes else None,
            )

    def _current_id(self) -> str | None:
        row = self.main.query_one(EntryList).current
        return row.id if row else None

    # -- sources -------------------------------------------------------------------------------

    def action_sources(self) -> None:
        self.push_screen(SourcesScreen())

    def action_add_source(self) -> None:
        topic = self.main.topic_in_focus()
        start = SourceForm(url="", title="", category=topic, full_text=False, selector="")
        self.add_source(typed=start if topic else None)

    def add_source(
        self, then: Callable[[], object] | None = None, typed: SourceForm | None = None
    ) -> None:
        """The add form; `typed`: how it starts (what an add that failed was given, to
        correct, or the topic highlighted)."""

        def submitted(form: SourceForm | None) -> None:
            if form is not None:
                self._add(form, then)

        self.push_screen(SourceFormScreen(typed, editing=False), submitted)

    @work(thread=True, group="sources", exit_on_error=False)
    def _add(self, form: SourceForm, then: Callable[[], object] | None) -> None:
        try:
            added = self.library.add_source(
                form.url, category=form.category, title=form.title, selector=form.selector or ""
            )
        except AggregatorError as exc:  # the form comes back as typed, to correct
            self.post_message(WorkerFailed("add the source", str(exc)))
            self.call_from_thread(self.add_source, then, form)
            return
        if form.full_text:
            self.library.update_source(added.source.url, full_text=True)
        note = f"Added {added.source.display_title}"
        if added.offered:
            named = ", ".join(f"{f.title or f.url} ({f.kind})" for f in added.offered[:3])
            more = len(added.offered) - 3
            note += f" · the page also offers {named}" + (f" and {more} more" if more > 0 else "")
        if added.warning:
            note += f" · {added.warning}"
        self.call_from_thread(self.notify, note)
        self.call_from_thread(
            self.refresh_place,
            Place("source", added.source.url),
            added.source.display_title,
            queue=True,
        )
        if then is not None:
            self.call_from_thread(then)

    def _listed(self, url: str) -> Source | None:
        """The source as the list has it now (reading the OPML file only: quick); None, said
        and the library reloaded, when the list changed meanwhile (edited by hand, another
        aggregator removed it)."""
        try:
            return self.library.select_sources([url])[0]
        except AggregatorError as exc:
            self.notify(f"{exc} (the list changed: reloaded)", severity="warning")
            self.load_library()
            return None

    def edit_source(
        self, url: str, then: Callable[[], object] | None = None, typed: SourceForm | None = None
    ) -> None:
        """The edit form; `typed`: what an edit that was refused was given, to correct."""
        source = self._listed(url)
        if source is None:
            return
        # Only a page followed without a feed has a selector to edit (a feed's outline may
        # carry a stray one: it is left alone).
        selector = source.selector if source.is_page else None

        def submitted(form: SourceForm | None) -> None:
            if form is not None:
                self._edit(url, form, then, selector)

        shown = typed or SourceForm(
            source.url, source.title, source.category, source.full_text, selector
        )
        self.push_screen(SourceFormScreen(shown, editing=True), submitted)

    @work(thread=True, group="sources", exit_on_error=False)
    def _edit(
        self, url: str, form: SourceForm, then: Callable[[], object] | None, selector: str | None
    ) -> None:
        try:
            self.library.update_source(
                url,
                title=form.title,
                category=form.category,
                full_text=form.full_text,
                # An unchanged selector is not checked again: a title edit must not fail on it.
                selector=None if form.selector == selector else form.selector,
            )
        except AggregatorError as exc:  # the form comes back as typed, to correct
            self.post_message(WorkerFailed("save the source", str(exc)))
            self.call_from_thread(self.edit_source, url, then, form)
            return
        self.call_from_thread(self.notify, "Saved.")
        self.call_from_thread(self.load_library)
        if then is not None:
            self.call_from_thread(then)

    def delete_source(self, url: str, then: Callable[[], object] | None = None) -> None:
        source = self._listed(url)
        if source is None:
            return
        name = source.display_title

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(url, then)

        self.push_screen(
            ConfirmScreen(
                f"Remove {name} and its unstarred entries?",
                yes="Remove",
                no="Keep",
            ),
            answered,
        )

    @work(thread=True, group="sources", exit_on_error=False)
    def _delete(self, url: str, then: Callable[[], object] | None) -> None:
        gone = self.library.remove_source(url)
        kept = gone.kept_starred
        self.call_from_thread(
            self.notify,
            f"Removed {gone.source.display_title} and {plural(gone.removed, 'entry', 'entries')}"
            + (f"; {kept:,} starred stay in Starred." if kept else "."),
        )
        self.call_from_thread(self._after_delete, url)
        if then is not None:
            self.call_from_thread(then)
        # Searches already leave out what the store no longer has; the index follows after
        # (behind whatever else is queued, which may take a while).
        self.library.update_index()

    def _after_delete(self, url: str) -> None:
        """The list shown stays, unless it was the source removed."""
        if self.main.place == Place("source", url):
            self.main.place = Place("all")
        self._library_changed()

    @work(thread=True, group="sources", exit_on_error=False)
    def check_source(self, url: str) -> None:
        (result,) = self.library.check_sources([url])
        if result.status == "ok":
            self.call_from_thread(
                self.notify,
                f"{result.title}: ok, {plural(result.unchanged, 'entry', 'entries')} offered.",
            )
        else:
            self.post_message(WorkerFailed(f"check {result.title}", result.error or "failed"))

    # -- OPML -----------------------------------------------------------------------------------

    @work(thread=True, group="opml", exit_on_error=False)
    def import_opml(self, path: str) -> None:
        report = self.library.import_opml(Path(path).expanduser())
        added = len(report.added)
        note = (
            f"Imported {added} source{'s' * (added != 1)} ({report.already_present} already "
            f"there, {len(report.skipped)} skipped)."
        )
        for skipped in report.skipped[:3]:  # which, and why (the sources screen has them all)
            note += f"\nSkipped {skipped.url or skipped.title or '(no URL)'}: {skipped.reason}"
        if len(report.skipped) > 3:
            note += f"\n… and {len(report.skipped) - 3} more (S lists them)"
        self.call_from_thread(self.notify, note)
        self.call_from_thread(self.load_library)

    def ask_to_export(self, path: str) -> None:
        """Export to `path`, after a confirm when that would replace a file."""
        target = Path(path).expanduser().absolute()
        if not target.exists():
            self.export_opml(target)
            return
        self.push_screen(
            ConfirmScreen(f"{target} exists. Replace it?", yes="Replace", no="Keep it"),
            lambda yes: self.export_opml(target) if yes else None,
        )

    @work(thread=True, group="opml", exit_on_error=False)
    def export_opml(self, target: Path) -> None:
        self.library.export_opml(target)
        self.call_from_thread(self.notify, f"Wrote {target}")

    # -- help and errors -------------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notice is plain text: most name a source, an entry or an error from a feed,
        and a toast that read `[/x]` in a title as markup failed to render and took the app
        down. (Screens' own `notify` asks for markup: it is refused here too.)"""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.user_keys))

    @on(WorkerFailed)
    def worker_failed(self, event: WorkerFailed) -> None:
        self.notify(f"Could not {event.what}: {event.error}", severity="error", timeout=8)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker_error(event)

    def report_worker_error(self, event: Worker.StateChanged) -> None:
        """The one place worker errors are shown (the app's, and its screens' through
        `AppScreen`): a line, never a traceback."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        message = (
            str(error) if isinstance(error, AggregatorError) else f"{type(error).__name__}: {error}"
        )
        if event.worker.group == "refresh":
            self._refreshing = False
            status = self.main.query_one(StatusBar)
            status.activity = ""
            status.show()
            self._fetch_queued()
        self.notify(" ".join(message.split()), severity="error", timeout=8)


def _in_this_terminal() -> bool:
    """Whether the browser `webbrowser` would use runs in this terminal and until it quits
    (a $BROWSER or text browser it does not know as a desktop one), rather than in a window."""
    try:
        return type(webbrowser.get()) is webbrowser.GenericBrowser
    except webbrowser.Error:
        return False


def _summary(report: FetchReport, label: str) -> str:
    if report.offline:
        return "Offline: no source could be reached; everything stored is still here."
    new_by_topic: dict[str, int] = {}
    for r in report.results:
        if r.new:
            topic = r.category.split("/")[0] or UNFILED
            new_by_topic[topic] = new_by_topic.get(topic, 0) + r.new
    parts = [f"{n:,} new in {t}" for t, n in sorted(new_by_topic.items(), key=lambda kv: -kv[1])]
    failed = [r for r in report.results if r.status == "failed"]
    if not parts and not (failed and len(failed) == len(report.results)):
        parts.append(f"Nothing new ({label})")  # (not when every source failed: "X failed")
    if len(failed) == 1:  # which, and why: the sources screen (S) has every failure
        parts.append(f"{failed[0].title or failed[0].url} failed: {failed[0].error or '?'}")
    elif failed:
        parts.append(f"{len(failed)} sources failed (S lists them)")
    if report.index_error:
        parts.append(f"not yet searchable: {report.index_error}")
    return " · ".join(parts)


def make_app(
    settings: Settings, *, refresh_on_start: bool = False, demo: bool = False
) -> AggregatorApp:
    return AggregatorApp(settings, refresh_on_start=refresh_on_start, demo=demo)
