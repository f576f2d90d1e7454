"""Reading index segments in place, without a copy of each in memory.

Whoosh keeps a segment as one compound file and reads it through a memory map, but wraps
every part of it in a `BytesIO`, which copies the part: opening a searcher (or a writer that
deletes old copies of entries) held a copy of the whole index in memory, 75 MB for an index
of 40 MB. Here the parts are read through views of the map instead: the operating system
pages in what is read and can drop it again.
"""

from __future__ import annotations

import errno
import io
from typing import Any

from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile


class _View(io.RawIOBase):
    """A read-only file over a memoryview: reads copy only what they return."""

    def __init__(self, buf: Any) -> None:
        super().__init__()
        self._buf = memoryview(buf)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._buf.release()  # the map can close once no view of it is left
        super().close()

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._buf)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _end(self, size: int | None) -> int:
        whole = len(self._buf)
        return whole if size is None or size < 0 else min(whole, self._pos + size)

    def read(self, size: int | None = -1) -> bytes:
        end = self._end(size)
        data = bytes(self._buf[self._pos : end])
        self._pos = max(self._pos, end)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = end = self._end(size)
        for start in range(self._pos, limit, 4096):  # a page at a time: lines are short
            found = bytes(self._buf[start : min(start + 4096, limit)]).find(b"\n")
            if found >= 0:
                end = start + found + 1
                break
        return self.read(end - self._pos)


class ViewBufferFile(BufferFile):
    """Whoosh's `BufferFile` over a view of the map rather than a copy of it."""

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        self._buf = buf
        self._name = name
        self.file = _View(buf)
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False


_open_compound = compound.CompoundStorage.__init__


def _open_checked(self: Any, dbfile: Any, *args: Any, **kwargs: Any) -> None:
    """Whoosh's opening of a segment, with its file closed when the segment is damaged.

    A damaged header points the directory before the file's start: the seek's OSError made
    Whoosh retry ten times (taking it for a file being replaced), leaving each file open, and
    then reached the user as "Invalid argument". It is told as damage (an EOFError, as for a
    segment cut short), once.
    """
    try:
        _open_compound(self, dbfile, *args, **kwargs)
    except BaseException as exc:
        dbfile.close()
        if isinstance(exc, OSError) and exc.errno == errno.EINVAL:
            raise EOFError("a segment's directory lies outside its file") from None
        raise


def read_in_place() -> None:
    """Make compound segments open their parts as views, and close a damaged one
    (idempotent)."""
    compound.BufferFile = ViewBufferFile  # type: ignore[misc]
    compound.CompoundStorage.__init__ = _open_checked  # type: ignore[method-assign]
