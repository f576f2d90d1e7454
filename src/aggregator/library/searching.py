"""Search through the library: the index kept in step with the store, and results made whole
(titles, snippets, flags, the same story from several sources shown once)."""

from __future__ import annotations

import contextlib
import pickle
import struct
import threading
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.config import Settings
from aggregator.errors import IndexLockedError, StoreError
from aggregator.index import NO_TOPIC
from aggregator.models import FIRST_WORDS, Entry, Hit, IndexDoc, SearchResult, told_apart
from aggregator.sanitize import strip_controls
from aggregator.store import Store

if TYPE_CHECKING:
    from aggregator.index import Index
    from aggregator.index.version import Held
    from aggregator.search import RawHit, RawResults, Searcher

INDEX_BATCH = 10_000
"""Changes applied per commit: each process writing a share keeps its postings in memory
(about 9 KB per farm entry), so a share of 5,000 stays near 45 MB."""
ALL_HITS_FIRST = 1_000
"""Hits asked for by the first try at every match of a query (`mark_search_read`); a query
with more is asked again for all of them."""
MARK_WAIT_S = 2.0
"""How long a catch-up waits for another program's write to mark its batch done."""
ProgressFn = Callable[[int, int], None]


class Searching:
    settings: Settings
    store: Store
    _index: Index | None
    _searcher: Searcher | None
    use_processes: bool
    """Whether fetching and indexing may start worker processes (not from the terminal UI)."""
    _writing: threading.Lock
    """Held while this library writes the index: two threads of one process take turns."""
    tagged_sources: Callable[..., tuple[str, ...]]  # from SourceList
    source_tags: Callable[[], dict[str, tuple[str, ...]]]  # from SourceList
    _closing: threading.Event
    """Set by `stop_indexing`: indexing ends at its next check, what is left stays queued."""
    _wanted: threading.Event
    """Set by an `update_index` waiting for a `catch_up` in this process, which gives way."""

    def _open_index(self) -> Index:
        from aggregator.index import Index  # Whoosh loads only when search or indexing needs it

        if self._index is None:
            index = Index(self.settings.index_dir)
            if index.needs_rebuild or not self._holds_this_library():
                # Told again with the queue held, as every process applying it holds it from
                # reading a batch to marking it done: not from half of another's commit.
                with index.draining(self.settings.index.lock_wait):
                    if not self._holds_this_library():
                        if not index.needs_rebuild:
                            index.remake()  # another library's, or this one at another time
                        self.store.requeue_everything(self._hold())  # refilled from the store
            self._index = index
        return self._index

    def _holds_this_library(self) -> bool:
        """Whether the index holds this library as it is: made from it (its identity), and
        last told the mark the library kept (or the one before, with the batch after it
        still queued). Restored from a backup, moved aside or swapped, the library has
        another identity or an older mark; an index restored from an older copy has an
        older mark itself."""
        from aggregator.index.version import held_mark

        held = held_mark(self.settings.index_dir)
        library, mark = self.store.index_mark()
        if held is None:  # an index from before marks: trusted until the library keeps one
            return not mark
        if held.library != library:
            return False
        return mark == held.mark or bool(self._applied_unmarked(held, mark))

    def _applied_unmarked(self, held: Held, mark: str) -> int:
        """The last queue row of a batch the index committed and the library has not marked
        done yet (busy, or stopped between the two), or 0."""
        from aggregator.index.version import NONE

        unmarked = held.seq and (mark or NONE) == held.before
        return held.seq if unmarked and self.store.queued_entry(held.seq) == held.entry else 0

    def _not_searchable(self) -> int:
        """Stored entries with a change the index has not applied: a batch it committed
        that the library could not mark done is applied (its rows stay queued till then)."""
        from aggregator.index.version import held_mark

        held = held_mark(self.settings.index_dir)
        library, mark = self.store.index_mark()
        applied = 0
        if held is not None and held.library == library:
            applied = self._applied_unmarked(held, mark)
        return self.store.unindexed_entry_count(after=applied)

    def _hold(self, last_seq: int = 0) -> str:
        """A new mark, recorded by the index just committed (or emptied, to be refilled:
        no `last_seq`) with the library's mark before it and the batch's last queue row;
        the caller keeps it in the library as it marks the batch done."""
        import secrets

        from aggregator.index.version import NONE, Held, hold_mark

        library, before = self.store.index_mark()
        mark = secrets.token_hex(8)
        held = Held(library, mark)
        if last_seq and (entry := self.store.queued_entry(last_seq)):
            held = Held(library, mark, before or NONE, last_seq, entry)
        hold_mark(self.settings.index_dir, held)
        return mark

    def update_index(
        self,
        progress: ProgressFn | None = None,
        *,
        wait_s: float | None = None,
        fresh: bool = False,
    ) -> int:
        """Apply every queued change to the index, in batches; returns the entries applied.

        Each batch is committed to the index before its queue rows are dropped: a crash at any
        point leaves the rest queued, and the next run finishes it. `progress` hears (0,
        total) first, once this process has the index, when there is anything to apply.
        """
        if not self._writing.acquire(blocking=False):
            self._wanted.set()  # a catch-up running here gives way
            self._writing.acquire()
        try:
            self._wanted.clear()
            if self._outgrows_pairs():  # indexed whole, choosing the common words again
                queued = self.store.pending_index_count()
                return queued if self._rebuild(progress) else 0
            return self._drain(progress, wait_s=wait_s, fresh=fresh)
        finally:
            self._writing.release()

    def _outgrows_pairs(self) -> bool:
        """Whether what is queued takes the library past the entries the index's common
        words should be chosen again at (`pairs.outgrown`: from a few entries, or a list of
        feeds added to a library of one). Rewriting the index whole in place of applying
        the queue costs only what the index held before; applying it first and rewriting
        after would index it twice. A new index needs no rewrite: its first batch of up to
        INDEX_BATCH entries chooses, from all of them when there are no more."""
        from aggregator.index.version import looks_current

        if self._index is None and not looks_current(self.settings.index_dir):
            return False
        if not self.store.pending_index_count():
            return False
        return self._open_index().pairs_outgrown(lambda: self.store.entry_totals()[0])

    def catch_up(self, progress: ProgressFn | None = None) -> int:
        """Apply what a crash, an interrupted fetch or a new index format left queued, giving
        way to any other writer: returns at once when the index is busy (here or in another
        process, which applies it), and between batches when another wants it.

        Returns the entries applied: for a search to see everything stored, and for a program
        starting up.
        """
        if not self._writing.acquire(blocking=False):
            return 0
        try:
            # Opened even when nothing is queued: a search will open it anyway, and one found
            # damaged is made anew here and refilled before that search, not after it.
            return self._drain(progress, wait_s=0.0, fresh=False, give_way=True, open_it=True)
        finally:
            self._writing.release()

    def stop_indexing(self) -> None:
        """From another thread, when the program closes: indexing stops within a few hundred
        entries; the batches committed stay, the rest stays queued for the next run."""
        self._closing.set()

    def reindex(self, progress: ProgressFn | None = None) -> int:
        """Rebuild the index from the store (the store is the truth, the index is derived).

        The new index is written beside the old one, which searches go on reading whole until
        the new one takes its place in one commit; stopped or crashed before that, the old one
        stays. What was queued when it began is in the new one; what is stored meanwhile
        stays queued, and is applied after it. Returns the entries the new index holds.
        """
        with self._writing:
            return self._rebuild(progress)

    def _rebuild(self, progress: ProgressFn | None) -> int:
        """`reindex`, with this process's writing already held."""
        from aggregator.index import Stored, default_workers
        from aggregator.index.directory import Stopped

        wait_s = self.settings.index.lock_wait
        index = self._open_index()
        with index.draining(wait_s):  # no other process indexes while this one rebuilds
            covered = self.store.last_queued()
            ids = self.store.entry_ids()
            load = _StoredDocs(self.store)
            batches = [
                Stored(ids[i : i + INDEX_BATCH], load) for i in range(0, len(ids), INDEX_BATCH)
            ]
            workers = default_workers(min(len(ids), INDEX_BATCH)) if self.use_processes else 0
            pool = _index_pool(workers) if workers else None

            def checkpoint(written: int) -> bool:
                if progress is not None:
                    progress(written, len(ids))
                return self._closing.is_set()

            try:
                index.replace_all(
                    batches, wait_s=wait_s, pool=pool, workers=workers, checkpoint=checkpoint
                )
            except Stopped:
                return 0
            finally:
                if pool is not None:
                    pool.shutdown(cancel_futures=True)
            self.store.mark_indexed(covered, self._hold(covered))
            self._apply_queue(index, None, wait_s=wait_s, fresh=False, held=True)
            return index.doc_count()

    def _drain(
        self,
        progress: ProgressFn | None,
        *,
        wait_s: float | None,
        fresh: bool,
        give_way: bool = False,
        open_it: bool = False,
    ) -> int:
        from aggregator.index.version import looks_current

        current = self._index is None and looks_current(self.settings.index_dir)
        if current and not open_it and not self.store.pending_index_count():
            return 0  # nothing to apply to a current index: it stays closed
        index = self._open_index()
        wait_s = self.settings.index.lock_wait if wait_s is None else wait_s
        return self._apply_queue(index, progress, wait_s=wait_s, fresh=fresh, give_way=give_way)

    def _apply_queue(
        self,
        index: Index,
        progress: ProgressFn | None,
        *,
        wait_s: float,
        fresh: bool,
        give_way: bool = False,
        held: bool = False,
    ) -> int:
        """The queue's batches, each read, written and marked done while this process holds
        the queue (unless the caller `held` it already): another process indexing the same
        batch meanwhile would write it twice. Between batches another process may take a
        turn; `give_way` (a catch-up) then stops, as it does for a writer waiting here."""
        from aggregator.index import Stored, default_workers
        from aggregator.index.directory import Stopped

        def stop() -> bool:
            return self._closing.is_set() or (give_way and self._wanted.is_set())

        total = self.store.pending_index_count()
        done = 0
        pool: Executor | None = None
        try:
            while not stop():
                try:
                    with contextlib.nullcontext() if held else index.draining(wait_s):
                        last_seq, upserts, deletes = self.store.queued_changes(INDEX_BATCH)
                        if not last_seq:
                            break
                        if progress is not None and not done:
                            progress(0, total)
                        workers = default_workers(len(upserts)) if self.use_processes else 0
                        if workers and pool is None:
                            pool = _index_pool(workers)

                        def checkpoint(written: int, before: int = done) -> bool:
                            if progress is not None and written:  # about, with workers
                                progress(before + written, max(total, before + written))
                            return stop()

                        index.apply(
                            Stored(upserts, _StoredDocs(self.store)),
                            deletes,
                            wait_s=wait_s,
                            fresh=fresh,
                            pool=pool,
                            workers=workers,
                            checkpoint=checkpoint,
                        )
                        # A catch-up (before a search) does not wait out another program's
                        # long write to mark it: the next run applies this batch again.
                        with self.store.waiting_at_most(MARK_WAIT_S if give_way else None):
                            self.store.mark_indexed(last_seq, self._hold(last_seq))
                except Stopped:
                    break
                except IndexLockedError:
                    if give_way:  # another process has the index: it applies the rest
                        break
                    raise
                done += len(upserts) + len(deletes)
                if progress is not None:
                    progress(done, max(total, done))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        return done

    def search(
        self,
        query: str,
        *,
        limit: int = 20,
        sort: str = "relevance",
        category: str | None = None,
        source: str | None = None,
        unread: bool = False,
        starred: bool = False,
    ) -> SearchResult:
        from aggregator.search import snippet

        started = time.perf_counter()
        raw = self._search_index(
            query,
            limit=limit,
            sort=sort,
            text_of=self._words_as_written,
            **self._narrowing(category, source, starred=starred, unread=unread),
        )
        entries = self.store.entries_by_id([h.id for h in raw.hits])
        hits: list[Hit] = []
        for group in _by_story(raw.hits, entries)[:limit]:
            first = entries[group[0].id]
            text, spans = snippet(first.text or first.summary, raw.terms, phrases=raw.phrases)
            hits.append(_hit(group[0], first, text, spans, [entries[h.id] for h in group[1:]]))
        titles = told_apart(self.store.source_titles(list(raw.facets.get("source", {}))))
        return SearchResult(
            query=query,
            total=raw.total,
            took_ms=(time.perf_counter() - started) * 1000,
            hits=tuple(hits),
            facets=_with_tags(raw.facets, self.source_tags()),
            # Both echo the query, which may hold escape sequences (typed, or from a script).
            suggestion=strip_controls(raw.suggestion),
            interpretation=strip_controls(raw.interpretation),
            pending=self._not_searchable(),
            source_titles=titles,
            exact=raw.exact,
            sort=raw.sort,
        )

    def _words_as_written(self, eid: str) -> str:
        """An entry's title and text, for "did you mean" to spell a word from (a word may
        be in a title only)."""
        entry = self.store.entry(eid)
        return f"{entry.title}\n{entry.text}"

    def mark_search_read(
        self,
        query: str,
        *,
        category: str | None = None,
        source: str | None = None,
        starred: bool = False,
    ) -> list[str]:
        """Mark read every entry `search` finds with these arguments: all its matches, not a
        page of them, and every entry of a story that several sources carry. Returns the ids
        that were unread (and are read now)."""
        narrowing = self._narrowing(category, source, starred=starred, unread=False)
        limit = ALL_HITS_FIRST
        while True:
            raw = self._search_index(query, limit=limit, **narrowing)
            if len(raw.hits) < limit:  # fewer than asked for: every match is here
                break
            limit = max(limit * 2, raw.total + 1)
        # Only entries the store has (the index may still hold some since removed), unread.
        unread = self.store.unread_among(list(dict.fromkeys(hit.id for hit in raw.hits)))
        self.store.set_flags(unread, read=True)
        return unread

    def _narrowing(
        self, category: str | None, source: str | None, *, starred: bool, unread: bool
    ) -> dict[str, Any]:
        """`Searcher.search`'s filters for a search narrowed as asked (a topic also holds
        the sources its tags file there; the index knows only their folders)."""
        if self.names_unfiled(category):
            category = NO_TOPIC
        deny = self.store.queued_deletions()  # still in the index while its writer is busy
        if unread:
            deny |= set(self.store.read_ids())
        return {
            "category": category,
            "source": source,
            "tagged": self.tagged_sources(category, by_name=True) if category else (),
            "allow": self.store.starred_ids() if starred else None,
            "deny": deny or None,
        }

    def _search_index(self, query: str, **options: Any) -> RawResults:
        """`Searcher.search`, with a damaged index file named as such (a segment cut short
        raised EOFError, which the command line took for Ctrl-D)."""
        try:
            return self._current_searcher().search(query, **options)
        except (
            EOFError,
            struct.error,
            zlib.error,
            pickle.UnpicklingError,
            FileNotFoundError,
        ) as exc:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                traceback.clear_frames(exc.__traceback__)  # closes what Whoosh left open
            directory = str(self.settings.index_dir)
            raise StoreError(
                f"the search index in {directory} is damaged ({type(exc).__name__}: {exc}); "
                "run: aggregator reindex",
                path=directory,
            ) from None

    def _current_searcher(self) -> Searcher:
        from aggregator.search import Searcher

        index = self._open_index()
        if self._searcher is None:
            self._searcher = Searcher(index, helper=self.settings.index.search_helper)
        return self._searcher


def _with_tags(
    facets: dict[str, dict[str, int]], tags: dict[str, tuple[str, ...]]
) -> dict[str, dict[str, int]]:
    """Counts by topic with the topics that tags file sources in (the index counts by folder
    only): a tag's topic counts the matches of the sources it holds, so it can be chosen."""
    if not tags:
        return facets
    topics = dict(facets.get("category", {}))
    for url, count in facets.get("source", {}).items():
        for path in tags.get(url, ()):
            topics[path] = topics.get(path, 0) + count
    ordered = dict(sorted(topics.items(), key=lambda kv: -kv[1]))
    return {**facets, "category": ordered}


class _StoredDocs:
    """Reads entries as the index needs them: here through the library's store; in a worker
    (after pickling) through a store of the worker's own, opened once per process."""

    def __init__(self, store: Store) -> None:
        self.db_path = str(store.path)
        self._store: Store | None = store

    def __getstate__(self) -> dict[str, str]:
        return {"db_path": self.db_path}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.db_path = state["db_path"]
        self._store = None

    def __call__(self, ids: Sequence[str]) -> list[IndexDoc]:
        if self._store is None:
            self._store = _worker_stores.get(self.db_path)
            if self._store is None:
                self._store = _worker_stores[self.db_path] = Store.open(Path(self.db_path))
        return self._store.index_docs(ids)


_worker_stores: dict[str, Store] = {}


def _index_pool(workers: int) -> Executor | None:
    """Processes that write index segments beside this one; none when they cannot start."""
    from aggregator.pools import process_pool

    try:
        return process_pool(workers)
    except (OSError, ValueError):
        return None


def _by_story(hits: list[RawHit], entries: dict[str, Entry]) -> list[list[RawHit]]:
    """Hits grouped by canonical URL, in rank order: one story from two sources shows once.

    Never two entries of one source: those are two posts, whatever their links say (a blog
    whose posts are `#anchors` on one page; a feed whose every link is its home page)."""
    groups: dict[str, list[RawHit]] = {}
    sources: dict[str, set[str]] = {}
    for hit in hits:
        entry = entries.get(hit.id)
        if entry is None:
            continue  # deleted since the index was written; the queue will catch up
        key = entry.canonical_url or hit.id
        if entry.source_url in sources.get(key, ()):
            key = hit.id
        groups.setdefault(key, []).append(hit)
        sources.setdefault(key, set()).add(entry.source_url)
    return list(groups.values())


def _hit(
    raw: RawHit, entry: Entry, text: str, spans: list[tuple[int, int]], others: list[Entry]
) -> Hit:
    return Hit(
        id=entry.id,
        title=entry.title,
        url=entry.url,
        source=entry.source_title or entry.source_url,
        source_url=entry.source_url,
        category=entry.category,
        published=entry.published,
        score=round(raw.score, 4) if raw.score is not None else None,
        snippet=text,
        highlights=tuple(spans),
        also_in=tuple(
            dict.fromkeys(
                o.source_title or o.source_url for o in others if o.source_url != entry.source_url
            )
        ),
        read=entry.read,
        starred=entry.starred,
        seen=entry.seen,
        also_ids=tuple(o.id for o in others if o.id != entry.id),
        first_words="" if entry.title else entry.summary[:FIRST_WORDS],
    )
