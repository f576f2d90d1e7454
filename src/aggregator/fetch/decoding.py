"""Content-Encoding undone incrementally, so the size cap holds on the decompressed bytes and
a gzip bomb costs no memory."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import brotli

from aggregator.errors import NetworkError

CHUNK = 64 * 1024
"""The most a decoder hands back at a time."""
_CUT_SHORT = "the compressed body ends early (cut short on the way)"


class BoundedDecoder:
    """Content-Encoding undone a bounded piece at a time (gzip, deflate, br, or a chain)."""

    def __init__(self, encoding: str, *, url: str) -> None:
        self.url = url
        names = [e.strip().lower() for e in encoding.split(",") if e.strip()]
        self._steps = [_step(name, url) for name in reversed(names) if name != "identity"]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of at most 64 KB, made one at a time as the caller asks for them.

        Lazy on purpose: a 64 KB gzip bomb chunk expands to 64 MB, and the caller's size cap
        must be able to stop it after the first few pieces.
        """
        yield from (c for c in _through(self._steps, iter((data,))) if c)

    def flush(self) -> Iterator[bytes]:
        for i, step in enumerate(self._steps):
            yield from (c for c in _through(self._steps[i + 1 :], step.flush()) if c)


def _through(steps: list[_Zlib | _Brotli], chunks: Iterator[bytes]) -> Iterator[bytes]:
    for step in steps:
        chunks = _feed_each(step, chunks)
    return chunks


def _feed_each(step: _Zlib | _Brotli, chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from step.feed(chunk)


class _Zlib:
    def __init__(self, wbits: int, url: str) -> None:
        self.url = url
        self.wbits = wbits
        self._d = zlib.decompressobj(wbits)
        self._head = b""
        """What was fed before, up to a zlib header's two bytes: "deflate" is sent both with
        and without that header, and which it is shows only once both are here (a body
        may come a byte at a time). Empty until the body begins."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:  # (a loop, not a call per member: a body may hold thousands)
            try:
                out = self._d.decompress(data, CHUNK)
            except zlib.error:
                if self.wbits == zlib.MAX_WBITS and len(self._head) < 2:
                    self._d, self.wbits = zlib.decompressobj(-zlib.MAX_WBITS), -zlib.MAX_WBITS
                    data = self._head + data
                    continue
                raise NetworkError(
                    "response body is not valid compressed data", url=self.url
                ) from None
            self._head = (self._head + data)[:2]
            yield out
            while self._d.unconsumed_tail:
                yield self._d.decompress(self._d.unconsumed_tail, CHUNK)
            data = self._d.unused_data
            if not (self._d.eof and self.wbits > zlib.MAX_WBITS and data[:2] == b"\x1f\x8b"):
                return
            # Another gzip member follows (a gzip file may be several, one after another);
            # anything else after the end is ignored, as browsers do.
            self._d = zlib.decompressobj(self.wbits)

    def flush(self) -> Iterator[bytes]:
        yield self._d.flush()
        if self._head and not self._d.eof:  # a stream cut short: no end, no checksum
            raise NetworkError(_CUT_SHORT, url=self.url)


class _Brotli:
    def __init__(self, url: str) -> None:
        self.url = url
        self._d = brotli.Decompressor()
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            yield self._d.process(data, output_buffer_limit=CHUNK)
            while not self._d.can_accept_more_data():
                yield self._d.process(b"", output_buffer_limit=CHUNK)
        except brotli.error:
            raise NetworkError("response body is not valid brotli data", url=self.url) from None
        self._started = self._started or bool(data)

    def flush(self) -> Iterator[bytes]:
        if self._started and not self._d.is_finished():
            raise NetworkError(_CUT_SHORT, url=self.url)
        return iter(())


def _step(name: str, url: str) -> _Zlib | _Brotli:
    if name in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS, url)
    if name == "deflate":
        return _Zlib(zlib.MAX_WBITS, url)
    if name == "br":
        return _Brotli(url)
    raise NetworkError(f"unsupported Content-Encoding {name!r}", url=url)
