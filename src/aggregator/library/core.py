"""The library object: opening it (data dir, first run, store) and what spans all of it."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aggregator.config import Settings
from aggregator.errors import DataDirError, EntryNotFoundError, OpmlError, StoreError
from aggregator.library.fetching import Fetching
from aggregator.library.searching import Searching
from aggregator.library.source_list import DEFAULT_LIST_TITLE, SourceList
from aggregator.models import Entry, EntryRow, Source, Stats, View
from aggregator.sanitize import literal_markdown, literal_paragraphs, markdown_address
from aggregator.store import Store

if TYPE_CHECKING:
    from aggregator.index import Index
    from aggregator.search import Searcher
    from aggregator.update import Updater


def default_opml() -> bytes:
    """The source list shipped with the program (the repository's feeds.opml)."""
    from importlib import resources  # (6 ms, and only the first run needs it)

    return resources.files("aggregator").joinpath("data/feeds.opml").read_bytes()


def open_library(settings: Settings, *, new_list: bool = False) -> Library:
    """The library; with `new_list`, also when the list named does not exist yet (the first
    change made to it will write it)."""
    first_run = _prepare_dirs(settings)
    return Library(settings, first_run=first_run, new_list=new_list)


def _prepare_dirs(settings: Settings) -> bool:
    """Create the data dir (0700) and, on first run, the user's copy of the default list."""
    for directory in (settings.data_dir, settings.config_dir):
        try:
            if not directory.exists():
                directory.mkdir(parents=True, mode=0o700)
                directory.chmod(0o700)  # mkdir's mode is filtered by the umask
        except OSError as exc:
            raise DataDirError(
                f"cannot create {directory}: {exc.strerror or exc}", path=str(directory)
            ) from None
        if not directory.is_dir():
            raise DataDirError(f"{directory} exists and is not a directory", path=str(directory))
        if not os.access(directory, os.W_OK | os.X_OK):
            raise DataDirError(f"{directory} is not writable", path=str(directory))
    # SQLite's side files take the library's mode when made: a library once read-only leaves
    # a read-only `-shm` that fails every write after the library itself is made writable,
    # with a message naming the library. Named here, before any fetching is done.
    db = settings.db_path
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if path.exists() and not os.access(path, os.W_OK):
            raise DataDirError(f"{path} is not writable", path=str(path))
    default_path = settings.config_dir / "feeds.opml"
    if settings.opml_path == default_path and not default_path.exists():
        try:
            default_path.write_bytes(default_opml())
        except OSError as exc:
            raise DataDirError(
                f"cannot write {default_path}: {exc.strerror or exc}", path=str(default_path)
            ) from None
        return True
    return False


class Library(SourceList, Fetching, Searching):
    """Sources, entries and their state, behind one object. Cheap to open, safe to close twice."""

    def __init__(
        self, settings: Settings, *, first_run: bool = False, new_list: bool = False
    ) -> None:
        self.settings = settings
        self.first_run = first_run
        self._list_title = DEFAULT_LIST_TITLE
        self._list_cache = None
        self._updater: Updater | None = None
        self._index: Index | None = None
        self.use_processes = True
        self._searcher: Searcher | None = None
        self._writing = threading.Lock()
        self._closing = threading.Event()
        self._wanted = threading.Event()
        starting = new_list and not os.path.lexists(settings.opml_path)
        try:
            sources: list[Source] | None = None if starting else self._read_list_file()
        except OpmlError:
            # Before the store is touched: a mistyped --opml must not make a library. A list
            # that exists but cannot be read leaves the library as last read (`_read_list`).
            if not (settings.db_path.exists() and settings.opml_path.exists()):
                raise
            sources = None
        self.store = Store.open(settings.db_path)
        if sources is not None:
            self.store.sync_sources(sources)
        elif not starting:  # (a list to start: the store waits for the change that writes it)
            self._read_list()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------

    def entry(self, entry_id: str) -> Entry:
        """A stored entry with its Markdown (made from its HTML the first time it is read,
        then kept; the list of its files is added each time, so a changed list shows)."""
        from aggregator import extract

        eid = entry_id.strip().lower()
        if not eid.isascii():  # ids are hex: an argument that was not UTF-8 names none
            raise EntryNotFoundError(eid.encode("utf-8", "backslashreplace").decode())
        entry = self.store.entry(eid)
        if not entry.markdown and entry.html:
            base = entry.article_url or entry.url or entry.source_url
            markdown = _with_post(
                entry, _without_title(extract.html_to_markdown(entry.html, base), entry.title)
            )
            # Kept, to be quicker next time; busy or full, shown all the same (made again).
            with contextlib.suppress(StoreError):
                self.store.set_markdown(entry.id, markdown)
            entry = replace(entry, markdown=markdown)
        # With no HTML, or none that makes Markdown, its text is shown as written: never
        # read as Markdown (or HTML, by whatever renders `read --format markdown` next).
        body = entry.markdown.rstrip() or literal_paragraphs(entry.text or entry.summary)
        files = extract.enclosures_markdown(entry.enclosures)
        return replace(entry, markdown="\n\n".join(filter(None, (body, files))))

    def entry_text(self, entry: Entry) -> str:
        """An entry's text to read as plain text (`read --format text`): code keeps its lines
        and indentation, lists their markers, as the index's text does not; the feed's own
        post comes first, as in its Markdown."""
        from aggregator import extract

        # (A page's first heading that repeats the title goes, as in its Markdown.)
        body = extract.html_to_reading_text(entry.html, entry.title) or entry.text or entry.summary
        return _with_post(entry, body, plain=True)

    def entries(self, view: View | None = None, limit: int | None = None) -> list[EntryRow]:
        """Rows for a list, newest first: all entries, a topic (with subtopics), a source."""
        view = view or View()
        if view.category and not view.tagged:
            view = replace(view, tagged=self.tagged_sources(view.category))
        return self.store.list_entries(view, limit)

    def set_read(self, entry_ids: list[str], read: bool = True) -> None:
        self.store.set_flags(entry_ids, read=read)

    def set_starred(self, entry_ids: list[str], starred: bool = True) -> None:
        self.store.set_flags(entry_ids, starred=starred)

    def mark(
        self, entry_ids: Iterable[str], *, read: bool | None = None, starred: bool | None = None
    ) -> int:
        """Read or unread, starred or not, entries named by id (as `search` and `read` give
        them): all of them, or none when one names no entry. Returns how many were named."""
        ids = list(dict.fromkeys(i.strip().lower() for i in entry_ids if i.strip()))
        known = self.store.known_among([i for i in ids if i.isascii()])
        missing = next((i for i in ids if i not in known), None)
        if missing is not None:
            raise EntryNotFoundError(missing.encode("utf-8", "backslashreplace").decode())
        self.store.set_flags(ids, read=read, starred=starred)
        return len(ids)

    def last_refresh(self) -> datetime | None:
        """When a source was last fetched successfully, if ever."""
        successes = [s.last_success for s in self.store.source_states().values() if s.last_success]
        return max(successes) if successes else None

    # -- the library as a whole --------------------------------------------------------------

    def stats(self) -> Stats:
        entries, unread, starred = self.store.entry_totals()
        return Stats(
            sources=len(self._read_list()),
            entries=entries,
            unread=unread,
            starred=starred,
            indexed=entries - self.store.unindexed_entry_count(),
            pending_index=self.store.pending_index_count(),
        )


def markdown_page(title: str, meta: list[str], url: str, note: str, body: str) -> str:
    """An entry as one Markdown document (`read --format markdown`), which other tools may
    render as HTML: only the body's own structure is Markdown; the title and the lines about
    it (the feed's words: source name, author) show as written, and the address is one."""
    head = [f"# {literal_markdown(title)}", "", " · ".join(map(literal_markdown, meta))]
    if url:
        head.append(f"<{markdown_address(url)}>")
    if note:
        head += ["", note]
    return "\n".join([*head, "", body.strip()]).rstrip() + "\n"


def _with_post(entry: Entry, article: str, *, plain: bool = False) -> str:
    """The feed's own post above the page it links to, unless it is only a teaser of it, in
    Markdown or (`plain`) as plain text: the post, a rule, where the page came from (the
    host it was fetched from in the end, not a redirector's the link named), the page."""
    from aggregator import extract

    if not _post_shown(entry):
        return article.strip() if plain else article
    host = urlsplit(entry.article_url or entry.url).hostname or "the linked page"
    if plain:
        post, origin = extract.html_to_reading_text(entry.post_html), f"From {host}:"
    else:
        post = extract.html_to_markdown(entry.post_html, entry.url or entry.source_url)
        origin = f"*From {literal_markdown(host)}:*"
    return f"{post.strip()}\n\n* * *\n\n{origin}\n\n{article}".strip()


def _post_shown(entry: Entry) -> bool:
    """Whether the post says something the page does not. Judged when the page was
    fetched, beside everything the page shows (its credits and bylines, which the article
    leaves out): `post_said`. Judged here beside the article too, for a post edited since
    (its page not fetched again yet), and for a post without words (an image alone)."""
    from aggregator import extract

    if not entry.post_html:
        return False
    article = extract.html_to_text(entry.html)
    if extract.is_teaser(entry.post_html, article, entry.title):
        return False
    return entry.post_said or not extract.html_to_text(entry.post_html)


def _without_title(markdown: str, title: str) -> str:
    """Drop a first heading that only repeats the title (article pages usually open with it)."""
    first, _, rest = markdown.lstrip().partition("\n")
    if first.startswith("#") and first.lstrip("#").strip().casefold() == title.strip().casefold():
        return rest.lstrip("\n")
    return markdown
