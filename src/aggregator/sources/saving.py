"""Saving the user's list to disk atomically, edited in place when it can be."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from aggregator.errors import OpmlError
from aggregator.models import SkippedOutline, Source
from aggregator.sources.editing import edit_opml
from aggregator.sources.reading import CUT_SHORT, read_opml, unread_part
from aggregator.sources.writing import write_opml

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def save_opml(
    path: str | os.PathLike[str],
    sources: Iterable[Source],
    *,
    title: str,
    kept: Iterable[SkippedOutline] = (),
    in_place: bool = False,
) -> None:
    """Write atomically (temp file, fsync, rename): a crash never leaves half a list.

    `in_place`: the file is the user's own list, edited where the sources changed and left
    as it was elsewhere (`edit_opml`); written anew only when it cannot be edited that way.
    The directory must be there (the library makes its own): a mistyped one is an error,
    not a new folder."""
    target = Path(path)
    sources = list(sources)
    data = None
    if in_place and target.exists():
        try:
            original = target.read_bytes()
            data = edit_opml(original, sources)
            unread = "" if data is not None else unread_part(read_opml(original))
        except (OSError, OpmlError):
            data, unread = None, ""
        if unread:
            fix = "restore it or end it" if unread == CUT_SHORT else "nest its folders less deeply"
            raise OpmlError(
                f"{target}: not changed: the rest of the list was not read ({unread}), and "
                f"writing the list anew would delete it; {fix}",
                path=str(target),
            )
    if data is None:
        data = write_opml(sources, title=title, kept=kept)
    _write(target, data)


def _write(target: Path, data: bytes) -> None:
    """A symlink is followed: the file it points to is the list, and the link stays. A FIFO,
    a device or another file that is not a regular one (an export to /dev/stdout or to a
    shell's `>(command)`) is written to as it is; only a regular file is replaced."""
    try:
        mode = os.stat(target).st_mode  # through any symlink
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as fh:
            fh.write(data)
        return
    real = Path(os.path.realpath(target))
    if mode is not None and (not mode & _WRITE_BITS or not os.access(real, os.W_OK)):
        # Replacing needs only the directory's permission; the file's says not to change
        # it (and root, whom access() lets write anything, would replace it unasked).
        raise PermissionError(errno.EACCES, "read-only file, not changed", str(real))
    fd, tmp = tempfile.mkstemp(prefix=".feeds-", suffix=".opml", dir=real.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, real)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
