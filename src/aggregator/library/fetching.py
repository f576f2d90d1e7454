"""Fetching through the library: the run itself lives in `aggregator.update`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from aggregator.config import Settings
from aggregator.errors import EnvironmentProblem, FetchRunningError
from aggregator.locks import exclusive
from aggregator.models import FetchProgress, FetchReport, Source, UpdateResult
from aggregator.sanitize import one_line
from aggregator.store import Store

if TYPE_CHECKING:
    from aggregator.update import Updater


class Fetching:
    settings: Settings
    store: Store
    _updater: Updater | None

    select_sources: Callable[..., list[Source]]  # from SourceList
    update_index: Callable[..., int]  # from Searching
    use_processes: bool

    def fetch(
        self,
        urls: Iterable[str] = (),
        *,
        category: str | None = None,
        unfiled: bool = False,
        concurrency: int | None = None,
        per_host: int | None = None,
        progress: Callable[[FetchProgress], None] | None = None,
        index_progress: Callable[[int, int], None] | None = None,
    ) -> FetchReport:
        """Fetch due sources (every named one, when URLs are given) and store what they hold.

        Returns with everything stored also searchable: the index catches up at the end (not
        after Ctrl-C: what was stored stays queued for the next run).
        """
        from aggregator.update import Updater

        urls = list(urls)
        chosen = self.select_sources(urls, category, unfiled=unfiled)
        lock = self.settings.data_dir / "fetch.lock"

        def busy(_: float) -> FetchRunningError:
            return FetchRunningError(
                "another fetch of this library is running; this one did not start "
                "(try again when it is done)",
                path=str(lock),
            )

        # One fetch at a time: a second would ask every source again, at once, as the first.
        with exclusive(lock, 0.0, busy):
            self._updater = Updater(
                self._with_limits(concurrency, per_host), self.store, processes=self.use_processes
            )
            try:
                report = self._updater.run(chosen, force=bool(urls), progress=progress)
            finally:
                self._updater = None
            if not report.interrupted:
                try:
                    self.update_index(index_progress)
                except (EnvironmentProblem, OSError) as exc:  # the fetch is done and stored
                    return replace(report, index_error=one_line(str(exc)))
                except KeyboardInterrupt:
                    # Everything is stored; what is not indexed stays queued for the next
                    # run. The report is still the caller's to show, as for a ^C above.
                    return replace(report, interrupted=True)
            return report

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
