"""One fetch run: every due source fetched, parsed, stored, and its teasers completed.

The shape of a run: HTTP on an asyncio loop (the limits live in `fetch`); parsing and
extraction, the CPU-heavy part, in a process pool so both cores work; every store write on one
writer thread, one transaction per source. A source that fails becomes an `UpdateResult` with
its reason; failures are recorded at the end, so a run that finds the machine offline marks
nothing broken. Ctrl-C stops the run; what was stored stays stored.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aggregator import fetch
from aggregator.config import Settings
from aggregator.errors import (
    FetchError,
    HttpStatusError,
    NetworkError,
    SourceNotFoundError,
    StoreError,
)
from aggregator.fetch import HttpClient, Response, Trust, host_of
from aggregator.models import (
    EntryDraft,
    FetchProgress,
    FetchReport,
    SkippedSource,
    Source,
    SourceState,
    UpdateResult,
)
from aggregator.store import Failure, PendingArticle, Store

if TYPE_CHECKING:
    from aggregator.pages import FoundLink
    from aggregator.parse import ParsedFeed

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
ARTICLES_PER_SOURCE = 50
"""Article pages fetched per source and run; the rest wait for the next run."""
ARTICLE_TRIES = 3
"""Runs in which an article page may fail before the feed's teaser is kept as partial."""
BACKOFF_START = timedelta(minutes=30)
BACKOFF_CAP = timedelta(days=1)
POOL_THRESHOLD = 8
"""With fewer sources than this, parsing runs on a thread: starting processes would cost more."""

ProgressCallback = Callable[[FetchProgress], None]


# -- the run -----------------------------------------------------------------------------------


@dataclass
class _Tally:
    done: int = 0
    new: int = 0
    failed: int = 0


class Updater:
    """Runs fetches for a `Library`; one instance per run."""

    def __init__(self, settings: Settings, store: Store, *, processes: bool = True) -> None:
        self.settings = settings
        self.store = store
        self.processes = processes
        self._task: asyncio.Task[FetchReport] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(
        self,
        sources: Sequence[Source],
        *,
        force: bool = False,
        progress: ProgressCallback | None = None,
    ) -> FetchReport:
        # With https sources, the CA certificates load while the sources' state is read.
        trust = Trust()
        if any(s.url[:6].lower() == "https:" for s in sources):
            trust.load_soon()
        return fetch.run(self._main(sources, force, progress, trust))

    def cancel(self) -> None:
        """Stop a run from another thread (the TUI); the run returns what it finished."""
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    async def _main(
        self,
        sources: Sequence[Source],
        force: bool,
        progress: ProgressCallback | None,
        trust: Trust,
    ) -> FetchReport:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        started = time.monotonic()
        states = await asyncio.to_thread(self.store.source_states)
        self._pending = await asyncio.to_thread(self.store.sources_with_pending_articles)
        self._not_modified: list[tuple[str, str | None]] = []
        self._stored: dict[str, UpdateResult] = {}
        due, skipped = _due(sources, states, force)
        limits = self.settings.fetch
        frontier = _Frontier(due, limits.concurrency, limits.per_host)
        self._cpu: Executor | None = None  # made on first use: an all-304 run needs none
        self._cpu_size = len(due)
        db = ThreadPoolExecutor(1, thread_name_prefix="aggregator-store")
        self._db = db
        results: dict[str, UpdateResult] = {}
        failures: list[tuple[Failure, BaseException]] = []
        tally = _Tally()
        interrupted = False
        running: set[asyncio.Task[UpdateResult]] = set()
        landed: asyncio.Queue[asyncio.Task[UpdateResult]] = asyncio.Queue()

        def launch() -> None:
            for source in frontier.take():
                task = asyncio.create_task(self._one(source, states.get(source.url), failures))
                task.add_done_callback(lambda done, source=source: land(done, source))
                running.add(task)

        def land(task: asyncio.Task[UpdateResult], source: Source) -> None:
            running.discard(task)
            frontier.finished(source)
            landed.put_nowait(task)
            launch()

        try:
            async with HttpClient(self.settings.fetch, trust) as http:
                self._http = http
                launch()
                try:
                    for _ in due:
                        result = (await landed.get()).result()
                        results[result.url] = result
                        tally.done += 1
                        tally.new += result.new
                        tally.failed += result.status == "failed"
                        if progress is not None:
                            progress(
                                FetchProgress(tally.done, len(due), tally.new, tally.failed, result)
                            )
                except BaseException:
                    # Ctrl-C, or the progress display failing (its output on a full disk):
                    # the sources still on their way stop here, while the client is open. Let
                    # go on, they would fail on a closed client, and be recorded as failing.
                    frontier.close()
                    for task in running:
                        task.cancel()
                    await asyncio.gather(*running, return_exceptions=True)
                    raise
        except asyncio.CancelledError:
            interrupted = True
            # The store's thread may be waiting for another program to let go of the
            # library: a Ctrl-C must not wait with it.
            self.store.stop_waiting()
        finally:
            if self._cpu is not None:
                self._cpu.shutdown(wait=True, cancel_futures=True)
            offline = _offline(failures, len(due))
            try:
                await asyncio.get_running_loop().run_in_executor(
                    db, self._record_end, failures, offline
                )
            except asyncio.CancelledError:  # a Ctrl-C while this waits for the library
                self.store.stop_waiting()
                raise
            except StoreError:
                if not interrupted:
                    raise
            finally:
                db.shutdown(wait=True)
                self.store.resume_waiting()
        # Sources cut off by a Ctrl-C after their entries were stored are counted as stored.
        results = {**self._stored, **results}
        ordered = tuple(results[s.url] for s in due if s.url in results)
        return FetchReport(
            results=ordered,
            skipped=tuple(skipped),
            offline=offline,
            interrupted=interrupted,
            took_s=time.monotonic() - started,
        )

    def _record_end(self, failures: list[tuple[Failure, BaseException]], offline: bool) -> None:
        """What is cheap to lose and costly to write one by one: 304s and failures."""
        self.store.record_not_modified(self._not_modified)
        if offline:
            self.store.record_attempts(f.url for f, _ in failures)
        else:
            self.store.record_failures(f for f, _ in failures)

    async def _cpu_call(self, job: str, *args: Any) -> Any:
        """Run a function of `aggregator.jobs` in the CPU pool (parsing imports load lazily)."""
        from concurrent.futures.process import BrokenProcessPool

        from aggregator import jobs

        if self._cpu is None:
            size = self._cpu_size if self.processes else 0
            self._cpu = _cpu_pool(size)
        loop = asyncio.get_running_loop()
        pool = self._cpu
        try:
            return await loop.run_in_executor(pool, getattr(jobs, job), *args)
        except (BrokenProcessPool, OSError, ValueError) as exc:
            if isinstance(pool, ThreadPoolExecutor) or raised_by_job(exc):
                raise  # the job's own error, not the pool's: its source fails, no other
            # Worker processes could not start or died (an odd __main__, no /dev/shm, a
            # kill): parse on a thread for the rest of the run rather than fail every source.
            if self._cpu is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._cpu = ThreadPoolExecutor(1, thread_name_prefix="aggregator-parse")
            return await loop.run_in_executor(self._cpu, getattr(jobs, job), *args)

    async def _db_call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))

    async def _one(
        self,
        source: Source,
        state: SourceState | None,
        failures: list[tuple[Failure, BaseException]],
    ) -> UpdateResult:
        state = state or SourceState(url=source.url)
        title = source.named(state.feed_title)  # as the sidebar names it
        base = UpdateResult(url=source.url, title=title, category=source.category, status="failed")
        try:
            if source.is_page:
                return await self._page_source(source, state, base)
            return await self._feed_source(source, state, base)
        except FetchError as exc:
            failures.append((_failure(source.url, exc, state), exc))
            return replace(base, error=str(exc))
        except SourceNotFoundError:  # no state to record a failure in: said here only
            return replace(base, error="removed from the list during this fetch; nothing stored")
        except StoreError as exc:  # the library's trouble (busy, a full disk), not the source's:
            return replace(base, error=f"not stored: {exc}")  # no backoff, due next run
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a hostile document must not stop the other sources
            error = unexpected_error(exc)
            failures.append((_failure(source.url, FetchError(error, url=source.url), state), exc))
            return replace(base, error=error)

    async def _feed_source(
        self, source: Source, state: SourceState, base: UpdateResult
    ) -> UpdateResult:
        response = await self._http.get(
            source.url, etag=state.etag, last_modified=state.last_modified, accept=FEED_ACCEPT
        )
        if response.not_modified:
            return await self._unchanged(source, response, base)
        parsed: ParsedFeed = await self._cpu_call(
            "parse_job",
            response.body,
            response.final_url,
            dict(response.headers),
            self.settings.fetch.teaser_words,
            source.full_text,
        )
        # A broken document adds what it can but changes nothing stored, and its validators
        # are not kept: a 304 to them would keep the next run from reading the whole feed.
        whole = not parsed.broken
        stored = await self._db_call(
            self._stored_in,
            replace(base, warning=parsed.warning or None, moved_to=response.moved_to),
            parsed.entries,
            etag=response.etag if whole else None,
            last_modified=response.last_modified if whole else None,
            moved_to=response.moved_to,
            feed_title=parsed.title,
            site_url=parsed.site_url,
            update=whole,
        )
        done, failed = await self._complete_articles(source)
        return replace(stored, articles=done, articles_failed=failed)

    def _stored_in(self, base: UpdateResult, *args: Any, **kwargs: Any) -> UpdateResult:
        """`record_success` for `base`'s source, and what it stored as its result, kept in
        `_stored` here in the store's thread: a Ctrl-C that cancels the source after this
        (or while this runs: the thread goes on) still counts what it stored."""
        counts = self.store.record_success(base.url, *args, **kwargs)
        stored = replace(
            base, status="ok", new=counts.new, updated=counts.updated, unchanged=counts.unchanged
        )
        self._stored[base.url] = stored
        return stored

    async def _unchanged(
        self, source: Source, response: Response, base: UpdateResult
    ) -> UpdateResult:
        """A 304: the source's state is recorded at the end of the run; articles still
        waiting (a feed's teasers, a page source's pages that failed) are fetched now."""
        self._not_modified.append((source.url, response.moved_to))
        done, failed = 0, 0
        if source.url in self._pending:
            done, failed = await self._complete_articles(source)
        return replace(
            base,
            status="not_modified",
            moved_to=response.moved_to,
            articles=done,
            articles_failed=failed,
        )

    async def _complete_articles(self, source: Source) -> tuple[int, int]:
        """Fetch the article pages of this source's teasers and keep their full text."""
        pending = await self._db_call(self.store.pending_articles, source.url, ARTICLES_PER_SOURCE)
        if not pending:
            return 0, 0
        # A source that asks for every page (fullText) gives whole posts: not a post of their
        # own beside the page, the feed's copy of it.
        keep_post = not source.full_text
        outcomes = await asyncio.gather(*(self._complete_one(p, keep_post) for p in pending))
        return sum(outcomes), len(outcomes) - sum(outcomes)

    async def _complete_one(self, pending: PendingArticle, keep_post: bool) -> bool:
        eid = pending.entry_id
        post_html = pending.post_html if keep_post else ""
        try:
            response = await self._http.get(
                pending.url,
                etag=pending.etag,
                last_modified=pending.last_modified,
                accept=PAGE_ACCEPT,
            )
            if response.not_modified:
                post = await self._post_beside_kept(pending, post_html) or ""
                await self._db_call(self.store.article_unchanged, eid, post, keep_post=keep_post)
                return True
            found = await self._cpu_call(
                "article_job", response.body, response.final_url, post_html, pending.title
            )
        except FetchError:
            give_up = pending.attempts + 1 >= ARTICLE_TRIES
            await self._failed(pending, post_html, give_up=give_up, keep_post=keep_post)
            return False
        article, post = found or (None, "")
        if article is None or len(article.text) < 0.8 * pending.chars:
            # Nothing found, or less than the feed gave: never store a cut-off article as whole.
            await self._failed(pending, post_html, give_up=True, keep_post=keep_post)
            return False
        await self._db_call(
            self.store.set_article,
            eid,
            html=article.html,
            text=article.text,
            post_text=post,  # the post's own words, if any, searched with the page's
            keep_post=keep_post,
            url=response.final_url,
            author="" if post else article.author,  # the page's author did not write the post
            etag=response.etag,
            last_modified=response.last_modified,
        )
        return True

    async def _failed(
        self, pending: PendingArticle, post_html: str, *, give_up: bool, keep_post: bool
    ) -> None:
        post = await self._post_beside_kept(pending, post_html)
        await self._db_call(
            self.store.article_failed,
            pending.entry_id,
            give_up=give_up,
            post_text=post,
            keep_post=keep_post,
        )

    async def _post_beside_kept(self, pending: PendingArticle, post_html: str) -> str | None:
        """What the post (which may have changed) says of its own beside the article the
        entry keeps, whatever the page answered: what is searched is what is shown. None
        when the entry keeps no article."""
        if not pending.article_text:
            return None
        return await self._cpu_call("post_job", post_html, pending.article_text, pending.title)

    async def _page_source(
        self, source: Source, state: SourceState, base: UpdateResult
    ) -> UpdateResult:
        """A listing page without a feed: each new link matching the selector is an entry."""
        response = await self._http.get(
            source.url, etag=state.etag, last_modified=state.last_modified, accept=PAGE_ACCEPT
        )
        if response.not_modified:
            return await self._unchanged(source, response, base)
        links, title = await self._cpu_call(
            "links_job", response.body, response.final_url, source.selector
        )
        known = await self._db_call(
            self.store.known_guids, source.url, [link.url for link in links]
        )
        fresh = [link for link in links if link.url not in known][:ARTICLES_PER_SOURCE]
        drafts = await asyncio.gather(*(self._page_entry(link) for link in fresh))
        stored = await self._db_call(
            self._stored_in,
            replace(base, moved_to=response.moved_to),
            list(drafts),
            etag=response.etag,
            last_modified=response.last_modified,
            moved_to=response.moved_to,
            feed_title=title,
            site_url=response.final_url,
        )
        articles = sum(d.full_text == "full" for d in drafts)
        done, failed = await self._complete_articles(source)  # pages that failed before
        return replace(
            stored,
            unchanged=len(known),
            articles=articles + done,
            articles_failed=len(drafts) - articles + failed,
        )

    async def _page_entry(self, link: FoundLink) -> EntryDraft:
        try:
            response: Response = await self._http.get(link.url, accept=PAGE_ACCEPT)
            return await self._cpu_call(
                "page_entry_job", response.body, response.final_url, link.url, link.text
            )
        except FetchError:
            # Stored as waiting for its article, which later runs fetch again like a feed
            # teaser's (a few tries, then partial): an outage must not leave it empty for good.
            draft = await self._cpu_call("page_entry_job", b"", link.url, link.url, link.text)
            return replace(draft, full_text="pending")


class _Frontier:
    """Which due sources start next.

    At most `concurrency` sources run at once, from request to stored entries (without a
    bound the network outruns parsing on a cold run and every fetched body waits in memory:
    600 MB at 1,000 feeds), and at most `per_host` of one host. A source whose host has its
    share running is not started, so it holds no place that a source of another host could
    use (started, it would wait for its host while holding one: a list with sixteen feeds of
    one site first ran two at a time while every other site waited). A source keeps its
    host's turn until it is done, article pages included: those go to its host too, most
    often. Hosts take turns; each host's sources keep the list's order.
    """

    def __init__(self, sources: Sequence[Source], concurrency: int, per_host: int) -> None:
        self._queues: dict[str, deque[Source]] = {}
        for source in sources:
            self._queues.setdefault(host_of(source.url), deque()).append(source)
        self._ready = deque(self._queues)  # hosts with sources waiting and a turn free
        self._busy: Counter[str] = Counter()
        self._running = 0
        self._concurrency = max(1, concurrency)
        self._per_host = max(1, per_host)
        self._closed = False

    def take(self) -> Iterator[Source]:
        """The sources that may start now."""
        while not self._closed and self._ready and self._running < self._concurrency:
            host = self._ready.popleft()
            queue = self._queues[host]
            source = queue.popleft()
            self._busy[host] += 1
            self._running += 1
            if queue and self._busy[host] < self._per_host:
                self._ready.append(host)
            yield source

    def finished(self, source: Source) -> None:
        host = host_of(source.url)
        self._running -= 1
        self._busy[host] -= 1
        if self._queues[host] and self._busy[host] == self._per_host - 1:
            self._ready.append(host)  # it was full, so it is not among the ready hosts

    def close(self) -> None:
        """Start nothing more (the run is stopping)."""
        self._closed = True


def _due(
    sources: Sequence[Source], states: dict[str, SourceState], force: bool
) -> tuple[list[Source], list[SkippedSource]]:
    now = datetime.now(UTC)
    due, skipped = [], []
    seen: set[str] = set()
    for source in sources:
        if source.url in seen:
            continue  # named twice (`fetch --source URL --source URL`): fetched once
        seen.add(source.url)
        state = states.get(source.url)
        if not force and state is not None:
            if state.gone:
                skipped.append(
                    SkippedSource(
                        source.url,
                        source.display_title,
                        "gone (HTTP 410); fetch it with --source to retry",
                    )
                )
                continue
            if state.next_attempt is not None and state.next_attempt > now:
                when = state.next_attempt.astimezone().strftime("%Y-%m-%d %H:%M")
                failures = f"{state.failures} failure{'s' * (state.failures != 1)}"
                skipped.append(
                    SkippedSource(
                        source.url,
                        source.display_title,
                        f"backing off after {failures} until {when}",
                    )
                )
                continue
        due.append(source)
    return due, skipped


def _failure(url: str, exc: FetchError, state: SourceState) -> Failure:
    now = datetime.now(UTC)
    gone = isinstance(exc, HttpStatusError) and exc.status == 410
    retry_after = exc.retry_after if isinstance(exc, HttpStatusError) else None
    if retry_after is not None:
        delay = min(timedelta(seconds=retry_after), BACKOFF_CAP)
    else:
        delay = min(BACKOFF_START * 2**state.failures, BACKOFF_CAP) * random.uniform(0.9, 1.1)
    return Failure(
        url=url,
        error=str(exc),
        next_attempt=None if gone else now + delay,
        gone=gone,
        attempted_at=now,
    )


def _offline(failures: list[tuple[Failure, BaseException]], attempted: int) -> bool:
    """Every attempted source failed to connect at all, on more than one host: the machine,
    not the sources. One host that cannot be reached (a single source refreshed, or every
    feed of one site) says nothing about the machine: its sources are recorded as failing."""
    return (
        attempted > 0
        and len(failures) == attempted
        and all(isinstance(e, NetworkError) and e.connection for _, e in failures)
        and len({host_of(f.url) for f, _ in failures}) > 1
    )


def unexpected_error(exc: BaseException) -> str:
    """The one line a source gets for an exception nothing expected (a bug, or a document
    a library trips on)."""
    return f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def raised_by_job(exc: BaseException) -> bool:
    """Whether a worker process raised this from the job it ran (the pool hands it over with
    the worker's traceback as its cause), rather than the pool failing to run the job.

    A job's own ValueError or OSError (a hostile document) must fail only its source: taken
    for the pool's, it shut the pool down and cancelled every other source's parse, and the
    run ended as if interrupted.
    """
    from concurrent.futures.process import _RemoteTraceback

    return isinstance(exc.__cause__, _RemoteTraceback)


def _cpu_pool(sources: int) -> Executor:
    cpus = os.cpu_count() or 1
    if sources < POOL_THRESHOLD or cpus < 2:
        return ThreadPoolExecutor(1, thread_name_prefix="aggregator-parse")
    from aggregator.pools import process_pool  # multiprocessing: only for runs that parse

    return process_pool(min(cpus, 4))  # its workers never see Ctrl-C: the parent's to handle
