"""One Whoosh index directory: opened or rebuilt by schema version, written by one process.

The index is derived from the store and can always be rebuilt from it. Stored fields are only
what results and facets need; the store has the text.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import struct
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from itertools import chain
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.index import TOC, LockError

from aggregator.errors import IndexLockedError, StoreError
from aggregator.index import NO_TOPIC
from aggregator.index.analysis import category_keywords, fold, make_schema
from aggregator.index.pairs import (
    SAMPLE,
    choose_common,
    common_of,
    outgrown,
    sampled_of,
    settled,
)
from aggregator.index.segments import BulkWriter, write_segment
from aggregator.index.storage import read_in_place
from aggregator.index.version import (
    INDEX_NAME,
    SCHEMA_VERSION,
    UNFILLED,
    VERSION_FILE,
    hold_mark,
    looks_current,
)
from aggregator.locks import exclusive
from aggregator.models import IndexDoc

read_in_place()  # before any segment is opened, here or in a worker process
POOL_MB = 64
"""Memory for the postings of the few non-text fields before they spill to disk."""
WORKER_SHARE = 1000
"""A batch smaller than this per process is written in this process alone: handing it out
would cost more than it saves."""


class Stopped(Exception):
    """Indexing was asked to stop (the program closing, or another writer of this process
    wanting the index): the batch is not committed and stays queued."""


class Index:
    """One Whoosh index directory. Searching opens readers; `apply` is the only writer."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ix = self._open_or_create()

    @property
    def _version_file(self) -> Path:
        return self.directory / VERSION_FILE

    def _open_or_create(self) -> Any:
        """Open the index, or make a new one when it is missing or of another version.

        A new one is empty: `needs_rebuild` tells the library to refill it from the store.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if looks_current(self.directory) and (ix := _open_readable(self.directory)):
                self.needs_rebuild = False
                return ix
            # Two processes starting at once must not both create it: the second would
            # delete the files the first is writing.
            with exclusive(self.directory / "aggregator-create.lock"):
                if looks_current(self.directory) and (ix := _open_readable(self.directory)):
                    self.needs_rebuild = False
                    return ix
                return self._create()
        except OSError as exc:
            raise self._unopenable(exc) from None

    def _create(self) -> Any:
        """A new, empty index, marked as holding no library's changes until it is filled."""
        self.needs_rebuild = True
        hold_mark(self.directory, UNFILLED)
        ix = whoosh_index.create_in(str(self.directory), make_schema(), indexname=INDEX_NAME)
        self._version_file.write_text(f"{SCHEMA_VERSION}\n")
        return ix

    def remake(self) -> None:
        """Empty the index, to be refilled (the caller holds `draining`): it holds another
        library's entries, or this library's as they were at another time."""
        try:
            with exclusive(self.directory / "aggregator-create.lock"):
                self._ix = self._create()
        except OSError as exc:
            raise self._unopenable(exc) from None

    def _unopenable(self, exc: OSError) -> StoreError:
        return StoreError(
            f"cannot open the index in {self.directory}: {exc}", path=str(self.directory)
        )

    @property
    def whoosh(self) -> Any:
        return self._ix

    def doc_count(self) -> int:
        return self._ix.doc_count()

    def segment_count(self) -> int:
        return len(self._ix._segments())

    def pairs_outgrown(self, entries: Callable[[], int] | None = None) -> bool:
        """Whether the index has outgrown the entries its common words were chosen from, or
        will have once it holds the library's `entries` (`pairs.outgrown`; counted only
        for a choice not settled yet): rewritten whole, it would choose them again."""
        toc = TOC.read(self._ix.storage, INDEX_NAME)  # the schema as last committed
        field = toc.schema["content"]
        common, sampled = common_of(field), sampled_of(field)
        if settled(common, sampled):
            return False  # (before the library's entries are counted: no count needed)
        indexed = sum(segment.doc_count() for segment in toc.segments)
        return outgrown(common, sampled, indexed if entries is None else entries(), indexed)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())

    def apply(
        self,
        upserts: Iterable[IndexDoc] | Stored,
        deletes: Iterable[str] = (),
        *,
        wait_s: float = 30.0,
        fresh: bool = False,
        pool: Executor | None = None,
        workers: int = 0,
        checkpoint: Callable[[int], bool] | None = None,
    ) -> int:
        """Write one batch and commit it; returns the entries it names.

        `fresh` (nothing of the batch is in the index yet) skips the look-up of old copies.
        With a process `pool`, `workers` of its processes each write a share of the batch as
        a segment of their own while this process writes its share; all are committed
        together, or none. Another process holding the writer is waited for up to `wait_s`;
        a lock left by a killed process is an fcntl lock the kernel already released. A
        `Stored` batch is read from the store while the writer is held, by each process for
        its own share. `checkpoint`, told every READ_CHUNK entries about how many of the batch
        are written (for progress: this process's count times the shares written side by
        side), can end the batch uncommitted by answering True (`Stopped`).
        """
        batch: list[IndexDoc] | Stored = upserts if isinstance(upserts, Stored) else list(upserts)
        ids = batch.ids if isinstance(batch, Stored) else [doc.id for doc in batch]
        writer = self._writer(wait_s)
        try:
            for eid in deletes:
                writer.delete_by_term("id", eid)
            if not fresh:
                for eid in ids:
                    writer.delete_by_term("id", eid)  # the old copy, if any
            common = None
            if ids and not writer.segments:  # a new index's first batch chooses its pairs
                common = _chosen_common(writer, [batch])
            mine, theirs = self._spread(batch, pool, workers, common)
            for doc in _checked(mine, checkpoint, 0, shares=1 + len(theirs)):
                writer.add_document(**_fields(doc))
            # This process's segment is finished while the workers still write theirs.
            final = _with_own(writer, writer._merge_segments(merge_small, None, None))
            writer._commit_toc(final + self._collected(theirs, common))
            writer._finish()
        except BaseException:
            _cancel(writer)
            raise
        return len(ids)

    def replace_all(
        self,
        batches: Iterable[Stored],
        *,
        wait_s: float = 30.0,
        pool: Executor | None = None,
        workers: int = 0,
        checkpoint: Callable[[int], bool] | None = None,
    ) -> int:
        """Write the batches as new segments, then commit them in place of every old one at
        once; returns the entries written.

        Searches read the old index, whole, until that commit. A crash or a `Stopped` before
        it leaves the old index as it was: the new segments, named in no table of contents,
        are swept by the next commit. The writer is held throughout, so that no other commit
        sweeps them first. `checkpoint` is told the entries written so far, as in `apply`.
        """
        writer = self._writer(wait_s)
        segments: list[Any] = []
        written = 0
        batches = list(batches)
        try:
            common = _chosen_common(writer, batches)
            for batch in batches:
                mine, theirs = self._spread(batch, pool, workers, common)
                checked = _checked(mine, checkpoint, written, shares=1 + len(theirs))
                segments.append(_write_share(str(self.directory), checked, common))
                segments += self._collected(theirs, common)
                written += len(batch.ids)
            if checkpoint is not None and checkpoint(written):
                raise Stopped
            # As a fetch's batches do: the small segments (the last batch's) merged into one.
            writer._commit_toc(
                _with_own(writer, merge_small(writer, [s for s in segments if s.doc_count_all()]))
            )
            writer._finish()
        except BaseException:
            _cancel(writer)
            raise
        return written

    def _spread(
        self,
        batch: list[IndexDoc] | Stored,
        pool: Executor | None,
        workers: int,
        common: frozenset[str] | None,
    ) -> tuple[Any, list[tuple[Future | None, Any]]]:
        """This process's share of a batch, and the others handed to `workers` of the pool
        (none for a small batch), each with the future of its segment."""
        parts = max(1, min(workers + 1, _size(batch) // WORKER_SHARE)) if pool is not None else 1
        shares = _split(batch, parts)
        if pool is None:
            return shares[0], []
        return shares[0], [(self._submit(pool, share, common), share) for share in shares[1:]]

    def _collected(
        self, theirs: list[tuple[Future | None, Any]], common: frozenset[str] | None
    ) -> list[Any]:
        return [self._segment_of(future, share, common) for future, share in theirs]

    def _submit(
        self, pool: Executor, share: list[IndexDoc] | Stored, common: frozenset[str] | None
    ) -> Future | None:
        try:
            return pool.submit(_write_share, str(self.directory), share, common)
        except BrokenProcessPool:  # its processes died in an earlier batch (or never started)
            return None

    def _segment_of(
        self, future: Future | None, share: list[IndexDoc] | Stored, common: frozenset[str] | None
    ) -> Any:
        """A worker's segment; when the worker could not run, its share is written here."""
        if future is None:
            return _write_share(str(self.directory), share, common)
        try:
            return future.result()
        except (BrokenProcessPool, OSError, StoreError, sqlite3.Error):
            # The worker died, or could not read its share (it opens the store itself).
            return _write_share(str(self.directory), share, common)

    @contextmanager
    def draining(self, wait_s: float) -> Iterator[None]:
        """Held while one process applies the change queue, from reading a batch to marking
        it done: another process waits its turn (up to `wait_s`) instead of indexing, between
        two of this one's batches, a batch this one has read and would write again."""
        with exclusive(self.directory / "aggregator-drain.lock", wait_s, self._busy):
            yield

    def _writer(self, wait_s: float) -> BulkWriter:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return BulkWriter(self._ix, limitmb=POOL_MB)
            except LockError:
                if time.monotonic() >= deadline:
                    raise self._busy(wait_s) from None
                time.sleep(0.1)

    def _busy(self, wait_s: float) -> IndexLockedError:
        return IndexLockedError(
            f"the search index in {self.directory} is being written by another aggregator; "
            f"waited {wait_s:.0f} s",
            path=str(self.directory),
        )


_DAMAGE = (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error,
           pickle.UnpicklingError, zlib.error, whoosh_index.IndexError)  # fmt: skip
"""What reading a damaged table of contents raises (cut short, or overwritten)."""


def _open_readable(directory: Path) -> Any:
    """The index in `directory`, or None when its table of contents cannot be read: it is
    derived from the store, so a damaged one is made anew and refilled like a missing one."""
    with warnings.catch_warnings():
        # Whoosh leaves the file open when reading fails; it is closed when the error goes.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return whoosh_index.open_dir(str(directory), indexname=INDEX_NAME)
        except _DAMAGE:
            return None


READ_CHUNK = 500
"""Entries of a `Stored` batch read from the store at a time by the process writing them."""


@dataclass(frozen=True)
class Stored:
    """A batch named by entry ids, read by whichever process writes each share of it.

    A worker then reads its share itself, so the texts never pass through this process on
    their way there, and each process holds a chunk of texts at a time, not its whole share.
    """

    ids: Sequence[str]
    load: Callable[[Sequence[str]], list[IndexDoc]]
    """Reads entries by id (missing ones skipped); picklable, for worker processes."""

    def __iter__(self) -> Iterator[IndexDoc]:
        for start in range(0, len(self.ids), READ_CHUNK):
            yield from self.load(self.ids[start : start + READ_CHUNK])


def _size(batch: list[IndexDoc] | Stored) -> int:
    return len(batch.ids) if isinstance(batch, Stored) else len(batch)


def _split(batch: list[IndexDoc] | Stored, parts: int) -> list[list[IndexDoc]] | list[Stored]:
    """Shares by striding, so each gets as many old and new entries (and long and short)."""
    if isinstance(batch, Stored):
        return [Stored(batch.ids[i::parts], batch.load) for i in range(parts)]
    return [batch[i::parts] for i in range(parts)]


def _with_own(writer: BulkWriter, segments: list[Any]) -> list[Any]:
    """`segments` and the writer's own, finished (what it added, merged segments included)."""
    if writer._added:
        return [*segments, writer._finalize_segment()]
    writer._close_segment()
    return segments


def _cancel(writer: BulkWriter) -> None:
    if not writer.is_closed:
        writer.cancel()


def _checked(
    docs: Iterable[IndexDoc],
    checkpoint: Callable[[int], bool] | None,
    before: int,
    *,
    shares: int,
) -> Iterator[IndexDoc]:
    """`docs`, asking `checkpoint` every READ_CHUNK of them whether to stop; it is told about
    how many entries are written so far: `before`, and `shares` for each of these, as the
    other shares of equal size are written alongside (a bar stood at 0 until they were)."""
    for n, doc in enumerate(docs):
        if checkpoint is not None and n % READ_CHUNK == 0 and checkpoint(before + n * shares):
            raise Stopped
        yield doc


def _write_share(
    directory: str, share: Iterable[IndexDoc], common: frozenset[str] | None = None
) -> Any:
    """Write a share of a batch as a segment (in a worker process, or here as a fallback)."""
    return write_segment(directory, INDEX_NAME, map(_fields, share), common)


def _chosen_common(
    writer: BulkWriter, batches: Sequence[list[IndexDoc] | Stored]
) -> frozenset[str]:
    """The common words whose pairs an index written whole from `batches` holds, chosen from
    entries spread over them, and given to `writer` (which keeps them in its schema)."""
    strided = (_split(b, max(1, _size(b) * len(batches) // SAMPLE))[0] for b in batches)
    sample = chain.from_iterable(strided)  # every n-th entry of each: SAMPLE in all
    common = choose_common((doc.text for doc in sample), writer.schema["content"].analyzer)
    writer.use_common(common, sum(map(_size, batches)))
    return common


def _fields(doc: IndexDoc) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": doc.id,
        "title": doc.title,
        "content": doc.text,
        "author": doc.author,
        "source": doc.source,
        "source_url": doc.source_url,
        "category": category_keywords(doc.category) or NO_TOPIC,
        "topic": doc.category or NO_TOPIC,
        "url": fold(doc.url),
        "canonical": doc.canonical_url or doc.id,
    }
    if doc.published is not None:
        fields["published"] = doc.published.astimezone(UTC).replace(tzinfo=None)
    return fields


SMALL_SEGMENT = 4_000
"""Segments with fewer entries than this are merged together, a few at a time."""
MERGE_AT = 6
"""How many small segments wait before they are merged."""


def merge_small(writer: Any, segments: list[Any]) -> list[Any]:
    """Merge the smallest segments once MERGE_AT of them are small; what is merged stays under
    2 × SMALL_SEGMENT entries.

    Whoosh's own policy eventually merges every segment of a large index at once, in this
    process and in memory; here a merge is always small, so a fetch never pauses for a
    rewrite of the whole index. Large segments are left as they are (`reindex` rewrites all).
    """
    from whoosh.reading import SegmentReader

    small = sorted(
        (s for s in segments if s.doc_count_all() < SMALL_SEGMENT), key=lambda s: s.doc_count_all()
    )
    if len(small) < MERGE_AT:
        return segments
    chosen, total = [], 0
    for segment in small:
        if chosen and total + segment.doc_count_all() > 2 * SMALL_SEGMENT:
            break
        chosen.append(segment)
        total += segment.doc_count_all()
    if len(chosen) < 2:
        return segments
    for segment in chosen:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return [s for s in segments if s not in chosen]


def default_workers(batch: int) -> int:
    """Worker processes worth starting for a batch: none for small ones."""
    return max(0, min(os.cpu_count() or 1, 4) - 1) if batch >= 2 * WORKER_SHARE else 0
