"""HTTP/1.1 straight on asyncio streams: the transport under the client's httpx.AsyncClient.

httpx's own transport (httpcore's pool, over anyio) scans its pool on every request and
every response: about half a millisecond of the event loop per request, and a response
that arrives meanwhile waits for it. On the benchmark farm a warm run of 500 feeds, 16 at a
time, took 3.34 s with it against 3.27 s with this (the farm's floor: 3.24 s), and a run
imports 15 ms less. The client above already bounds the requests in flight, in all and per
host, so this transport queues nothing: it reuses an idle connection to the same origin, or
opens one, and speaks HTTP/1.1 on it. Requests through a proxy still go by httpx's
transport (the client mounts it for them).

What it reads is bounded: a response head is at most `HEAD_LIMIT` bytes and `HEAD_LINES`
lines, and so are a chunked body's trailers; a header with a control character in it is
refused, as h11 refuses it. A body's framing follows RFC 9112
section 6.3: none after HEAD, 1xx, 204 or 304; chunked when Transfer-Encoding ends with
chunked (any other transfer coding is refused, as h11 refuses it); else Content-Length;
else up to the close.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator

import httpx

HEAD_LIMIT = 64 * 1024
HEAD_LINES = 1000
KEEPALIVE_S = 5.0
"""An idle connection older than this is closed rather than reused: servers drop theirs
(Apache after 5 s), and a request sent as one is dropped is answered by nothing."""
_PORTS = {"http": 80, "https": 443}
_NO_BODY = (204, 304)
_READ = 64 * 1024
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(rb"0*([0-9A-Fa-f]{1,15})")
"""A chunk size: any number of leading zeros, then at most 15 hex digits (2**60 bytes)."""
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_BREAKS = re.compile(rb"[\r\n\0]")
_ERRNO = re.compile(r"\[Errno (\d+)\]")

Origin = tuple[str, str, int]


class Wire(httpx.AsyncBaseTransport):
    """`max_idle`: connections kept open for reuse, at most (the client's concurrency)."""

    def __init__(self, tls: ssl.SSLContext, *, max_idle: int) -> None:
        self._tls = tls
        self._max_idle = max_idle
        self._idle: list[tuple[Origin, _Connection]] = []
        """Connections free for reuse, the one idle longest first."""
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        host = url.raw_host.decode("ascii")
        if not host:
            raise httpx.UnsupportedProtocol("a URL without a host")
        origin = (url.scheme, host, url.port or _PORTS[url.scheme])
        timeouts = request.extensions.get("timeout", {})
        message = await _message(request)
        while True:
            connection = self._take(origin)
            reused = connection is not None
            if connection is None:
                tls = self._tls if url.scheme == "https" else None
                connection = await _Connection.open(origin, tls, timeouts.get("connect"))
            try:
                await connection.write(message, timeouts.get("write"))
                head = await connection.read_head(timeouts.get("read"))
            except (_Unanswered, httpx.RemoteProtocolError) as exc:
                connection.abort()
                if reused:  # closed by the server while idle, or holding what an earlier
                    continue  # response left (a 304's body): once more, on a new connection
                if isinstance(exc, _Unanswered):
                    raise exc.error from None
                raise
            except BaseException:
                connection.abort()
                raise
            break
        status, version, reason, headers = head
        try:
            length, chunked, keep = _framing(request, status, version, headers)
        except httpx.RemoteProtocolError:
            connection.abort()
            raise
        body = _Body(self, origin, connection, length, chunked, keep, timeouts.get("read"))
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    def _take(self, origin: Origin) -> _Connection | None:
        """The newest idle connection to `origin` still fit for use (others met on the way,
        too old or closed, are closed)."""
        now = time.monotonic()
        for i in range(len(self._idle) - 1, -1, -1):
            if self._idle[i][0] != origin:
                continue
            _, connection = self._idle.pop(i)
            if now - connection.idle_since < KEEPALIVE_S and connection.usable():
                return connection
            connection.abort()
        return None

    def release(self, origin: Origin, connection: _Connection) -> None:
        """A connection whose response was read to its end, free for the next request.

        The pool keeps the newest: connections idle too long are closed, and when it is
        full the one idle longest makes room (a run asks most hosts once: their idle
        connections must not keep the next host's from being kept)."""
        if self._closed or not connection.usable():
            connection.abort()
            return
        now = time.monotonic()
        while self._idle and (
            len(self._idle) >= self._max_idle or now - self._idle[0][1].idle_since >= KEEPALIVE_S
        ):
            self._idle.pop(0)[1].abort()
        connection.idle_since = now
        self._idle.append((origin, connection))

    async def aclose(self) -> None:
        self._closed = True
        for _, connection in self._idle:
            connection.abort()
        self._idle.clear()


class _Unanswered(Exception):
    """The connection ended before any byte of a response: on a reused connection, the
    server closed it while it was idle."""

    def __init__(self, error: httpx.TransportError) -> None:
        self.error = error


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    @classmethod
    async def open(
        cls, origin: Origin, tls: ssl.SSLContext | None, timeout: float | None
    ) -> _Connection:
        _, host, port = origin
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    limit=HEAD_LIMIT,
                    happy_eyeballs_delay=0.25,  # as anyio: IPv6 that hangs costs 0.25 s
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting") from None
        except OSError as exc:  # refused, unreachable, no such host, TLS failures
            raise httpx.ConnectError(_connect_failure(exc)) from None
        except UnicodeError:  # a label over 63 characters, or an empty one (`a..b`)
            raise httpx.ConnectError(f"not a host name that can be looked up: {host}") from None
        return cls(reader, writer)

    def usable(self) -> bool:
        """Open, and with nothing come in unasked: a server that times an idle connection
        out may say so (a 408) before it closes it, and that is no answer to the next
        request. (The reader's buffer has no public length.)"""
        waiting = getattr(self.reader, "_buffer", b"")
        return not (self.writer.is_closing() or self.reader.at_eof() or waiting)

    def abort(self) -> None:
        self.writer.transport.abort()

    async def write(self, data: bytes, timeout: float | None) -> None:
        self.writer.write(data)
        try:
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request") from None
        except OSError as exc:
            raise _Unanswered(httpx.WriteError(_said(exc))) from None

    async def read_head(self, timeout: float | None) -> tuple[int, bytes, bytes, list]:
        """Status, version, reason and headers of the final response (1xx are skipped)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    lines = await self.lines_to_blank("the response head", head=True)
                    status, version, reason = _status(lines[0])
                    if status >= 200:
                        return status, version, reason, _headers(lines)
                    if status == 101:
                        raise httpx.RemoteProtocolError("the server switched protocols unasked")
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for the response") from None

    async def lines_to_blank(self, what: str, *, head: bool = False) -> list[bytes]:
        """Lines up to a blank one, without their endings, at most `HEAD_LIMIT` bytes and
        `HEAD_LINES` lines in all. A `head` has one line at least (a blank line before its
        status line is stray, and skipped); trailers may have none."""
        lines: list[bytes] = []
        size = 0
        while True:
            line = await self.line(answered=bool(lines) or not head)
            size += len(line)
            if size > HEAD_LIMIT or len(lines) >= HEAD_LINES:
                raise httpx.RemoteProtocolError(
                    f"{what} is over {HEAD_LIMIT:,} bytes or {HEAD_LINES} lines"
                )
            line = line.rstrip(b"\r\n")
            if line:
                lines.append(line)
            elif lines or not head:
                return lines

    async def line(self, *, answered: bool = True) -> bytes:
        """One line, its ending kept; `answered`: part of a response has come already."""
        try:
            return await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if answered or exc.partial:
                raise httpx.RemoteProtocolError(
                    "the server closed the connection in the middle of a response"
                ) from None
            error = httpx.RemoteProtocolError("Server disconnected without sending a response.")
            raise _Unanswered(error) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(
                f"a line of the response is over {HEAD_LIMIT:,} bytes"
            ) from None
        except OSError as exc:
            error = httpx.ReadError(_said(exc))
            if answered:
                raise error from None
            raise _Unanswered(error) from None

    async def read(self, limit: int) -> bytes:
        try:
            return await self.reader.read(limit)
        except OSError as exc:
            raise httpx.ReadError(_said(exc)) from None


class _Body(httpx.AsyncByteStream):
    """A response's body as it arrives; read to its end, its connection goes back to the
    pool, else it is closed."""

    def __init__(
        self,
        wire: Wire,
        origin: Origin,
        connection: _Connection,
        length: int | None,
        chunked: bool,
        keep: bool,
        timeout: float | None,
    ) -> None:
        self._wire = wire
        self._origin = origin
        self._connection: _Connection | None = connection
        self._length = length
        self._chunked = chunked
        self._keep = keep
        self._timeout = timeout
        self._done = length == 0 and not chunked

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if self._done or connection is None:
            return
        try:
            if self._chunked:
                async for part in self._chunks(connection):
                    yield part
            else:
                async for part in self._run(connection, self._length):
                    yield part
        except TimeoutError:
            raise httpx.ReadTimeout("timed out waiting for data") from None
        self._done = True

    async def _run(self, connection: _Connection, length: int | None) -> AsyncIterator[bytes]:
        """`length` bytes, or (None) everything up to the close."""
        left = length
        while left is None or left > 0:
            async with asyncio.timeout(self._timeout):
                data = await connection.read(_READ if left is None else min(left, _READ))
            if not data:
                if left is None:
                    return
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body: "
                    f"{left:,} of {length:,} bytes missing"
                )
            if left is not None:
                left -= len(data)
            yield data

    async def _chunks(self, connection: _Connection) -> AsyncIterator[bytes]:
        while True:
            async with asyncio.timeout(self._timeout):
                line = await connection.line()
            size = line.split(b";", 1)[0].strip()
            digits = _HEX.fullmatch(size)
            if not digits:
                raise httpx.RemoteProtocolError(f"not a chunk size: {line[:40]!r}")
            if int(digits[1], 16) == 0:
                break
            async for part in self._run(connection, int(digits[1], 16)):
                yield part
            async with asyncio.timeout(self._timeout):
                end = await connection.line()
            if end.strip(b"\r\n"):
                raise httpx.RemoteProtocolError("a chunk is longer than its size says")
        async with asyncio.timeout(self._timeout):
            await connection.lines_to_blank("the trailer section")  # (unused)

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._done and self._keep:
            self._wire.release(self._origin, connection)
        else:
            connection.abort()


def _connect_failure(exc: OSError) -> str:
    """Say "connection refused" rather than asyncio's "Connect call failed ('127.0.0.1',
    8)", or its "Multiple exceptions: …" when every address refused in the same way."""
    if isinstance(exc, (socket.gaierror, ssl.SSLError)):
        return str(exc)
    codes = {int(code) for code in _ERRNO.findall(str(exc))}
    code = exc.errno or (codes.pop() if len(codes) == 1 else None)
    return os.strerror(code) if code and code > 0 else _said(exc)


def _said(exc: OSError) -> str:
    """An error's own words; for one with none, what its kind means ("connection reset by
    peer", not "ConnectionResetError")."""
    if str(exc):
        return str(exc)
    for kind, meaning in _MEANINGS:
        if isinstance(exc, kind):
            return meaning
    return type(exc).__name__


_MEANINGS = (
    (ConnectionResetError, "connection reset by peer"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionAbortedError, "connection aborted"),
    (BrokenPipeError, "connection closed by peer"),
    (ssl.SSLEOFError, "connection closed during the TLS handshake"),
)


async def _message(request: httpx.Request) -> bytes:
    """The request as sent: line, headers (httpx has set Host), and body if any."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if _BREAKS.search(name) or _BREAKS.search(value):
            raise httpx.LocalProtocolError(f"a line break in request header {name!r}")
        lines.append(name + b": " + value)
    body = await request.aread()
    if body and request.headers.get("transfer-encoding", "").lower() == "chunked":
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _status(line: bytes) -> tuple[int, bytes, bytes]:
    version, _, rest = line.partition(b" ")
    code, _, reason = rest.lstrip(b" ").partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise httpx.RemoteProtocolError(f"not an HTTP/1.x status line: {line[:60]!r}")
    return int(code), version, reason.strip()


def _headers(lines: list[bytes]) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the header above
            if not headers:
                raise httpx.RemoteProtocolError("the response's first header is a continuation")
            name, value = headers.pop()
            value += b" " + line.strip(b" \t")
        else:
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.fullmatch(name):
                raise httpx.RemoteProtocolError(f"not a header line: {line[:60]!r}")
            value = value.strip(b" \t")
        if _CONTROL.search(value):
            raise httpx.RemoteProtocolError(f"a control character in header {name!r}")
        headers.append((name, value))
    return headers


def _framing(
    request: httpx.Request, status: int, version: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int | None, bool, bool]:
    """The body's length (None: up to the close), whether it is chunked, and whether the
    connection can be used again after it."""
    encodings: list[bytes] = []
    lengths: list[bytes] = []
    closes = version == b"HTTP/1.0"
    for name, value in headers:
        name = name.lower()
        if name == b"transfer-encoding":
            encodings += [e.strip().lower() for e in value.split(b",") if e.strip()]
        elif name == b"content-length":
            lengths += [v.strip() for v in value.split(b",")]
        elif name == b"connection":
            tokens = [t.strip().lower() for t in value.split(b",")]
            closes = b"close" in tokens or (closes and b"keep-alive" not in tokens)
    keep = not closes and request.headers.get("connection", "").lower() != "close"
    if request.method == "HEAD" or status in _NO_BODY:
        return 0, False, keep
    if encodings:
        if encodings != [b"chunked"]:
            shown = b", ".join(encodings).decode("latin-1")
            raise httpx.RemoteProtocolError(f"unsupported Transfer-Encoding {shown!r}")
        return None, True, keep and not lengths  # both: the length is a lie, do not reuse
    if lengths:
        if len(set(lengths)) != 1 or not lengths[0].isdigit() or len(lengths[0]) > 18:
            shown = b", ".join(lengths).decode("latin-1")
            raise httpx.RemoteProtocolError(f"invalid Content-Length {shown!r}")
        return int(lengths[0]), False, keep
    return None, False, False
