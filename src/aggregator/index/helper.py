"""A second process that ranks some of the index's segments, so a long search uses both cores.

Ranking is Python: one process uses one core, and at 100,000 entries a phrase of two common
words spends nearly all of its ~90 ms segment by segment. The helper opens the same index
and, for each search, ranks the segments it is given into a `Page` while this process ranks
the others; the two pages merge into the page of all of them (scores use the whole index's
statistics, so nothing else changes). It answers only for the index this process sees (the
same segments with the same deletions). Anything else (not started yet, busy with another
thread's search, behind or ahead of this process, crashed, slow) falls back to ranking
everything here: the helper makes a search faster, never different.

Run as `python -m aggregator.index.helper INDEX_DIR`; requests and pages go over its stdin
and stdout as length-prefixed pickles (a private pipe between two processes of this program).
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from aggregator.index import ranking
from aggregator.index.ranking import Page, Ranker, Unsupported

MIN_DOCS = 20_000
"""Below this many entries every search is short: a second process would cost more memory
than the milliseconds it saves."""
REPLY_WAIT_S = 5.0
"""A helper slower than this to answer is stopped, and the search finished here."""
LARGEST_REQUEST = 256 * 1024
"""A request bigger than this (a filter listing thousands of read or starred entries) is
not sent: pickling it there and back would cost more than half the ranking saves."""
_SIZE = struct.Struct("<Q")
_READY = "ready"

Signature = tuple[tuple[str, int], ...]
"""Which index a ranker sees: each segment's id and live document count (a segment's
deletions only ever grow, so the count tells them apart)."""


def signature(ranker: Ranker) -> Signature:
    return tuple((s.reader.segment().segment_id(), s.reader.doc_count()) for s in ranker.segments)


def split(ranker: Ranker) -> tuple[list[int], list[int]]:
    """The segments (by position) ranked here and in the helper, about half the documents
    each; the same index always splits the same way, so each side's caches stay warm."""
    sizes = [s.reader.doc_count_all() for s in ranker.segments]
    mine: list[int] = []
    theirs: list[int] = []
    load = [0, 0]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        side = 0 if load[0] <= load[1] else 1
        (mine if side == 0 else theirs).append(i)
        load[side] += sizes[i]
    return sorted(mine), sorted(theirs)


def supported() -> bool:
    """Two cores, and pipes that `poll` can wait on."""
    return (os.cpu_count() or 1) >= 2 and hasattr(select, "poll")


class SearchHelper:
    """The helper process, seen from the process that searches."""

    def __init__(self, directory: Path) -> None:
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "aggregator.index.helper", str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            bufsize=0,
        )
        self._ready = False
        self._lock = threading.Lock()
        self.answered = 0
        """Searches the helper took half of (the rest were ranked here alone)."""

    def page(
        self, ranker: Ranker, query: Any, restrict: Any, exclude: Any, size: int, newest: bool
    ) -> Page:
        """`ranker.page(...)`, half of it ranked in the helper when it can take it."""
        asked = (query, restrict, exclude, size, newest)
        if len(ranker.segments) < 2 or not self._lock.acquire(blocking=False):
            return ranker.page(*asked)
        try:
            if not self._usable():
                return ranker.page(*asked)
            mine, theirs = split(ranker)
            sent = self._send((signature(ranker), theirs, *asked))
            try:
                here = ranker.view(mine).page(*asked)
            finally:
                there = self._receive() if sent else None  # read even if this side failed
            if isinstance(there, Page):
                self.answered += 1
            else:
                there = ranker.view(theirs).page(*asked)
            if here.candidates + there.candidates <= ranking.LAZY_PHRASES:
                # One process checks every candidate of a phrase this rare; a half that had
                # more than its share of them estimated: it is checked in full here.
                whole = ranking.LAZY_PHRASES
                if not here.exact:
                    here = ranker.view(mine).page(*asked, whole)
                if not there.exact:
                    there = ranker.view(theirs).page(*asked, whole)
            return Page.merged([here, there], size)
        finally:
            self._lock.release()

    @property
    def running(self) -> bool:
        return self._proc is not None

    def close(self) -> None:
        # Not under a search another thread is running (it would read a closed pipe); one
        # that takes longer than a helper may is abandoned.
        locked = self._lock.acquire(timeout=REPLY_WAIT_S + 1)
        try:
            self._stop()
        finally:
            if locked:
                self._lock.release()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # it stops at the end of its input
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    # -- the pipe ---------------------------------------------------------------------------

    def _usable(self) -> bool:
        """Started and ready (it says so once its imports are done; never waited for)."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            return False
        if proc.poll() is not None:
            self._stop()
            return False
        if not self._ready:
            if not _readable(proc.stdout, 0):
                return False
            self._ready = _read(proc.stdout, 0.5) == _READY
            if not self._ready:
                self._stop()
        return self._ready

    def _send(self, request: tuple[Any, ...]) -> bool:
        proc = self._proc
        try:
            data = _framed(request)
        except Exception:  # a query node that does not pickle: ranked here
            return False
        if len(data) > LARGEST_REQUEST:
            return False
        try:
            assert proc is not None and proc.stdin is not None
            _write_all(proc.stdin, data)
            return True
        except (OSError, ValueError):
            self._stop()
            return False

    def _receive(self) -> Any:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        reply = _read(proc.stdout, REPLY_WAIT_S)
        if reply is None:  # gone, or too slow: its answer would come out of turn
            self._stop()
        return reply


def _read(pipe: BinaryIO, wait_s: float) -> Any:
    """One message, or None when the pipe closed or stayed silent for `wait_s`."""
    head = _read_exactly(pipe, _SIZE.size, wait_s)
    if head is None:
        return None
    body = _read_exactly(pipe, _SIZE.unpack(head)[0], wait_s)
    if body is None:
        return None
    try:
        return pickle.loads(body)
    except Exception:
        return None


def _read_exactly(pipe: BinaryIO, size: int, wait_s: float) -> bytes | None:
    parts: list[bytes] = []
    try:
        while size:
            if not _readable(pipe, wait_s):
                return None
            chunk = pipe.read(size)
            if not chunk:
                return None
            parts.append(chunk)
            size -= len(chunk)
    except (OSError, ValueError):  # closed under us
        return None
    return b"".join(parts)


def _readable(pipe: BinaryIO, wait_s: float) -> bool:
    """Whether the pipe has something to read within `wait_s` (poll: any descriptor number,
    where select stops at 1024)."""
    poller = select.poll()
    poller.register(pipe.fileno(), select.POLLIN)
    return bool(poller.poll(wait_s * 1000))


def _write_all(pipe: BinaryIO, data: bytes) -> None:
    """All of `data`: an unbuffered write may take only part (a signal, a full pipe)."""
    view = memoryview(data)
    while view:
        written = pipe.write(view)
        view = view[written or 0 :]


def _framed(message: Any) -> bytes:
    """A message as it goes down the pipe: its size, then its pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _SIZE.pack(len(data)) + data


# -- the helper's side ----------------------------------------------------------------------


def serve(directory: str) -> None:
    """Answer requests until the input closes."""
    import signal

    from whoosh import index as whoosh_index

    import aggregator.index.directory  # segments read in place, as in the other process
    import aggregator.search  # noqa: F401  (its query nodes arrive pickled)
    from aggregator.index.version import INDEX_NAME

    # Ctrl-C is the other process's to handle: this one ends when its input closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol keeps the real stdout; anything printed by mistake goes nowhere.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    inp = sys.stdin.buffer
    _write_all(out, _framed(_READY))
    ix: Any = None
    searcher: Any = None
    ranker: Ranker | None = None
    while True:
        head = inp.read(_SIZE.size)
        if len(head) < _SIZE.size:
            return
        body = inp.read(_SIZE.unpack(head)[0])
        reply: Any
        try:
            seen, positions, query, restrict, exclude, size, newest = pickle.loads(body)
            if ranker is None or signature(ranker) != seen:
                if ix is None:
                    ix = whoosh_index.open_dir(directory, indexname=INDEX_NAME)
                if searcher is None or not searcher.up_to_date():
                    if searcher is not None:
                        searcher.close()
                    searcher = ix.searcher()
                    ranker = Ranker(searcher)
            if ranker is None or signature(ranker) != seen:
                reply = "stale"  # the other process is behind or ahead: it ranks it all
            else:
                reply = ranker.view(positions).page(query, restrict, exclude, size, newest)
        except Unsupported:
            reply = "unsupported"
        except Exception as exc:  # never a traceback on a terminal: the other side falls back
            reply = f"error: {type(exc).__name__}"
        _write_all(out, _framed(reply))


if __name__ == "__main__":
    serve(sys.argv[1])
