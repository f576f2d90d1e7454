"""File locks between processes of this program: one writer of the index, one change of
the source list at a time. fcntl locks, so the kernel drops a lock whose holder died: a
lock left by a killed process never blocks the next."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on POSIX: no locking between processes
    fcntl = None  # type: ignore[assignment]

_FILE = os.O_WRONLY | os.O_CREAT | os.O_APPEND


@contextmanager
def exclusive(
    path: Path,
    wait_s: float | None = None,
    busy: Callable[[float], Exception] = TimeoutError,
    *,
    replaced: bool = False,
) -> Iterator[None]:
    """Hold an exclusive lock on `path` (an fcntl lock: the kernel drops it if we die).

    With `wait_s`, waited for that long at most, then `busy(wait_s)` is raised. A file
    that is `replaced` by a rename when it changes (a list saved atomically) must exist;
    it is locked as it is, and locked again when the file the path names is another once
    the lock is had: whoever replaced it held the old one.
    """
    deadline = time.monotonic() + (wait_s or 0.0)
    while True:
        handle = os.open(path, os.O_RDONLY if replaced else _FILE, 0o666)
        try:
            if fcntl is not None:
                _lock(handle, wait_s, deadline, busy)
                if replaced and not _same_file(handle, path):
                    continue  # (closed below)
            yield
            return
        finally:
            os.close(handle)  # which lets go of the lock


def _lock(
    handle: int, wait_s: float | None, deadline: float, busy: Callable[..., Exception]
) -> None:
    flags = fcntl.LOCK_EX if wait_s is None else fcntl.LOCK_EX | fcntl.LOCK_NB
    while True:
        try:
            fcntl.flock(handle, flags)
            return
        except BlockingIOError:  # held elsewhere, and not waited for without end
            if time.monotonic() >= deadline:
                raise busy(wait_s or 0.0) from None
            time.sleep(0.1)


def _same_file(handle: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except OSError:
        return False
    held = os.fstat(handle)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)
