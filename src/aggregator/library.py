"""The one API the command line and the terminal UI use.

`open_library(settings)` prepares the data dir, copies the default source list on first run,
opens the store and mirrors the OPML list into it. The OPML file is the truth for *which*
sources there are; the store keeps everything learned about them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from importlib import resources
from types import TracebackType
from typing import TYPE_CHECKING

from aggregator import sources as opml
from aggregator.config import Settings
from aggregator.errors import (
    DataDirError,
    InvalidSourceError,
    OpmlError,
    SourceNotFoundError,
)
from aggregator.models import (
    AddedSource,
    Entry,
    FetchProgress,
    FetchReport,
    ImportReport,
    Source,
    SourceInfo,
    SourceState,
    Stats,
    UpdateResult,
)
from aggregator.store import Store

if TYPE_CHECKING:
    from aggregator.update import Updater

# The network and HTML modules (httpx, feedparser, BeautifulSoup) are imported by the methods
# that need them: listing sources or reading an entry should not pay for them at start-up.

DEFAULT_LIST_TITLE = "aggregator sources"


def default_opml() -> bytes:
    """The source list shipped with the program (the repository's feeds.opml)."""
    return resources.files("aggregator").joinpath("data/feeds.opml").read_bytes()


def open_library(settings: Settings) -> Library:
    first_run = _prepare_dirs(settings)
    return Library(settings, first_run=first_run)


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


class Library:
    """Sources, entries and their state, behind one object. Cheap to open, safe to close twice."""

    def __init__(self, settings: Settings, *, first_run: bool = False) -> None:
        self.settings = settings
        self.first_run = first_run
        self._list_title = DEFAULT_LIST_TITLE
        self._updater: Updater | None = None
        sources = self._read_list()  # a broken list fails before the store is touched
        self.store = Store.open(settings.db_path)
        self.store.sync_sources(sources)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
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

    # -- the source list ---------------------------------------------------------------------

    def _read_list(self) -> list[Source]:
        document = opml.read_opml_file(self.settings.opml_path)
        self._list_title = document.title or DEFAULT_LIST_TITLE
        return list(document.sources)

    def _save_list(self, sources: list[Source]) -> None:
        try:
            opml.save_opml(self.settings.opml_path, sources, title=self._list_title)
        except OSError as exc:
            path = str(self.settings.opml_path)
            raise DataDirError(f"cannot write {path}: {exc.strerror or exc}", path=path) from None
        self.store.sync_sources(sources)

    def sources(self) -> list[SourceInfo]:
        """Every source in list order, with its fetch health and entry counts."""
        listed = self._read_list()
        states = self.store.source_states()
        counts = self.store.source_counts()
        return [
            SourceInfo(
                source=s,
                state=states.get(s.url, SourceState(url=s.url)),
                entries=counts.get(s.url, (0, 0))[0],
                unread=counts.get(s.url, (0, 0))[1],
            )
            for s in listed
        ]

    def add_source(
        self,
        url: str,
        *,
        category: str = "",
        title: str = "",
        selector: str = "",
        discover: bool = True,
    ) -> AddedSource:
        """Add a feed, or a page: a page's own feed is found and added in its place.

        With a `selector` the page itself becomes the source (its matching links are the
        articles). With `discover=False` the URL is added as given, without the network.
        """
        from aggregator import probe

        normalized = opml.normalize_source_url(url)
        listed = self._read_list()
        _refuse_duplicate(listed, normalized)
        category = _clean_category(category)
        if selector:
            source = Source(normalized, title.strip(), category, type="html", selector=selector)
            self._save_list([*listed, source])
            return AddedSource(source)
        found = (
            probe.discover(self.settings.fetch, normalized)
            if discover
            else probe.Discovery(normalized, "", "rss")
        )
        feed_url = opml.normalize_source_url(found.url)
        _refuse_duplicate(listed, feed_url)
        source = Source(
            url=feed_url,
            title=title.strip() or found.title,
            category=category,
            type=found.kind,
            html_url=normalized if feed_url != normalized else "",
        )
        self._save_list([*listed, source])
        return AddedSource(source, found.alternatives, found.warning)

    def remove_source(self, url: str) -> tuple[Source, int]:
        """Remove a source from the list and its entries from the library."""
        listed = self._read_list()
        target = _find(listed, url)
        self._save_list([s for s in listed if s.url != target.url])
        return target, self.store.delete_source(target.url)

    def import_opml(self, path: str | os.PathLike[str]) -> ImportReport:
        """Merge another OPML list into the user's: new sources are appended, none replaced."""
        document = opml.read_opml_file(path)
        if not document.sources:
            why = f" ({len(document.skipped)} outlines skipped)" if document.skipped else ""
            raise OpmlError(f"{path}: no feeds to import{why}", path=str(path))
        listed = self._read_list()
        known = {s.url for s in listed}
        added = tuple(s for s in document.sources if s.url not in known)
        if added:
            self._save_list([*listed, *added])
        return ImportReport(
            added=added,
            already_present=len(document.sources) - len(added),
            skipped=document.skipped,
            merged=document.merged,
        )

    def export_opml(self, path: str | os.PathLike[str] | None = None) -> bytes:
        """The list as strict OPML 2.0, written atomically to `path` when one is given."""
        listed = self._read_list()
        if path is not None:
            try:
                opml.save_opml(path, listed, title=self._list_title)
            except OSError as exc:
                raise OpmlError(
                    f"cannot write {path}: {exc.strerror or exc}", path=str(path)
                ) from None
        return opml.write_opml(listed, title=self._list_title)

    def select_sources(self, urls: Iterable[str] = (), category: str | None = None) -> list[Source]:
        """Sources named by URL (each must exist) and/or under a category (and its subfolders)."""
        listed = self._read_list()
        chosen = [_find(listed, url) for url in urls] or listed
        if category:
            wanted = _clean_category(category).lower()
            chosen = [
                s
                for s in chosen
                if s.category.lower() == wanted or s.category.lower().startswith(wanted + "/")
            ]
        return chosen

    # -- fetching ----------------------------------------------------------------------------

    def fetch(
        self,
        urls: Iterable[str] = (),
        *,
        category: str | None = None,
        concurrency: int | None = None,
        per_host: int | None = None,
        progress: Callable[[FetchProgress], None] | None = None,
    ) -> FetchReport:
        """Fetch due sources (every named one, when URLs are given) and store what they hold."""
        from aggregator.update import Updater

        urls = list(urls)
        chosen = self.select_sources(urls, category)
        self._updater = Updater(self._with_limits(concurrency, per_host), self.store)
        try:
            return self._updater.run(chosen, force=bool(urls), progress=progress)
        finally:
            self._updater = None

    def cancel_fetch(self) -> None:
        """Stop a running fetch from another thread; it returns what it finished."""
        if self._updater is not None:
            self._updater.cancel()

    def check_sources(self, urls: Iterable[str] = ()) -> list[UpdateResult]:
        """Fetch and parse sources without storing anything."""
        from aggregator import probe

        return probe.check(self.settings.fetch, self.select_sources(list(urls)))

    def _with_limits(self, concurrency: int | None, per_host: int | None) -> Settings:
        fetch = self.settings.fetch
        if concurrency:
            fetch = replace(fetch, concurrency=concurrency)
        if per_host:
            fetch = replace(fetch, per_host=per_host)
        return replace(self.settings, fetch=fetch)

    # -- reading -----------------------------------------------------------------------------

    def entry(self, entry_id: str) -> Entry:
        """A stored entry with its Markdown (made from its HTML the first time it is read)."""
        from aggregator import extract

        entry = self.store.entry(entry_id.strip().lower())
        if not entry.markdown and entry.html:
            markdown = extract.html_to_markdown(entry.html, entry.url or entry.source_url)
            self.store.set_markdown(entry.id, markdown)
            entry = replace(entry, markdown=markdown)
        return entry

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


def _refuse_duplicate(listed: list[Source], url: str) -> None:
    if any(s.url == url for s in listed):
        raise InvalidSourceError(f"{url} is already a source", url=url)


def _find(listed: list[Source], url: str) -> Source:
    try:
        normalized = opml.normalize_source_url(url)
    except InvalidSourceError:
        normalized = url.strip()
    for source in listed:
        if source.url in (normalized, url.strip()):
            return source
    raise SourceNotFoundError(url.strip())


def _clean_category(category: str) -> str:
    return "/".join(part.strip() for part in category.split("/") if part.strip())


__all__ = ["Library", "default_opml", "open_library"]
