"""The HTTP/1.1 transport, byte for byte: a loopback server writes exactly the responses a test
gives (framing, interim responses, folded headers, broken and hostile heads) and counts the
connections it was given."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

import pytest

from aggregator import fetch
from aggregator.config import FetchSettings
from aggregator.errors import FetchError, NetworkError
from aggregator.fetch import HttpClient, Response
from tests.httpd import Route

Answer = Callable[[bytes], tuple[bytes, bool]]
"""A request's head → the bytes to send back, and whether to keep the connection open."""


class RawServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    try:
                        data = conn.recv(65536)
                    except OSError:  # the client gave up on this connection
                        return
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                self.requests.append(head)
                reply, keep = self.answer(head)
                try:
                    conn.sendall(reply)
                except OSError:
                    return
                if not keep:
                    return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def raw():
    servers: list[RawServer] = []

    def make(answer: Answer) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def fetch_all(*urls: str, settings: FetchSettings | None = None) -> list[Response | Exception]:
    """Each URL in turn through one client, as a run does; errors are returned, not raised."""

    async def go() -> list[Response | Exception]:
        found: list[Response | Exception] = []
        async with HttpClient(settings or FetchSettings(tries=1)) as http:
            for url in urls:
                try:
                    found.append(await http.get(url))
                except FetchError as exc:
                    found.append(exc)
        return found

    return asyncio.run(go())


def always(reply: bytes, keep: bool = True) -> Answer:
    return lambda head: (reply, keep)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def test_requests_in_turn_share_one_connection(raw):
    server = raw(always(OK))
    found = fetch_all(server.url(), server.url(), server.url())
    assert [r.body for r in found] == [b"hello"] * 3
    assert server.connections == 1


def test_the_request_is_http_1_1_with_host_and_validators(raw):
    server = raw(always(b'HTTP/1.1 304 Not Modified\r\nETag: "a"\r\n\r\n'))

    async def go() -> Response:
        async with HttpClient(FetchSettings(tries=1)) as http:
            return await http.get(server.url("/feed?x=1"), etag='"a"')

    assert asyncio.run(go()).not_modified
    lines = server.requests[0].split(b"\r\n")
    assert lines[0] == b"GET /feed?x=1 HTTP/1.1"
    assert f"host: 127.0.0.1:{server.port}".encode() in [line.lower() for line in lines]
    assert b'If-None-Match: "a"' in lines


def test_a_304_and_an_empty_200_leave_the_connection_for_the_next(raw):
    replies = iter(
        [
            b"HTTP/1.1 304 Not Modified\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            OK,
        ]
    )
    server = raw(lambda head: (next(replies), True))
    found = fetch_all(server.url(), server.url(), server.url())
    assert [(r.status, r.body) for r in found] == [(304, b""), (200, b""), (200, b"hello")]
    assert server.connections == 1


def test_a_chunked_body_with_extensions_and_trailers(raw):
    body = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"7\r\n, world\r\n"
        b"0\r\nX-Checksum: 1\r\n\r\n"
    )
    server = raw(always(body))
    found = fetch_all(server.url(), server.url())
    assert [r.body for r in found] == [b"hello, world"] * 2
    assert server.connections == 1  # the trailer read, the connection was whole again


def test_a_body_up_to_the_close_is_read_whole_and_not_reused(raw):
    server = raw(always(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n<rss/>", keep=False))
    found = fetch_all(server.url(), server.url())
    assert [r.body for r in found] == [b"<rss/>"] * 2
    assert server.connections == 2


def test_connection_close_is_honoured(raw):
    server = raw(always(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
    assert [r.body for r in fetch_all(server.url(), server.url())] == [b"ok", b"ok"]
    assert server.connections == 2


def test_interim_responses_are_skipped(raw):
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + OK
    )
    server = raw(always(reply))
    [found] = fetch_all(server.url())
    assert (found.status, found.body) == (200, b"hello")
    assert "link" not in found.headers


def test_folded_headers_and_stray_blank_lines(raw):
    reply = (
        b'\r\nHTTP/1.1 200 OK\r\nX-Note: one\r\n  two\r\nETag: "v1"\r\nContent-Length: 2\r\n\r\nok'
    )
    server = raw(always(reply))
    [found] = fetch_all(server.url())
    assert found.headers["x-note"] == "one two"
    assert found.etag == '"v1"'


def test_a_server_that_dropped_an_idle_connection_is_asked_again_on_a_new_one(raw):
    """Servers close idle connections (Apache after 5 s); the request sent as one closes
    gets nothing back, and is sent once more on a new connection."""
    server = raw(always(OK, keep=False))  # answers, then closes without saying so
    found = fetch_all(server.url(), server.url(), server.url())
    assert [r.body for r in found] == [b"hello"] * 3
    assert server.connections == 3


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
            "peer closed connection without sending complete message body: 5 of 10 bytes missing",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
            "invalid Content-Length '5, 6'",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length '-1'"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
            "unsupported Transfer-Encoding 'gzip'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "not a chunk size: 'zz'",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
            "a chunk is longer than its size says",
        ),
        (b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", "not a header line: 'Bad Header: x'"),
        (b"<html>not http</html>\r\n\r\n", "not an HTTP/1.x status line: '<html>not http</html>'"),
        (b"HTTP/1.1 200 OK\r\nContent-", "the server closed the connection in the middle of a"),
        (b"", "server disconnected without sending a response."),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "the server switched protocols unasked"),
    ],
)
def test_broken_responses_are_one_line_errors(raw, reply, message):
    server = raw(always(reply, keep=False))
    [found] = fetch_all(server.url())
    assert isinstance(found, NetworkError)
    assert str(found).startswith(f"network error: {message}")


def test_a_response_head_without_end_is_cut_off(raw):
    """A hostile server's endless headers: refused at 64 KiB, not read into memory."""
    endless = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 1000 + b"\r\n"
    server = raw(always(endless * 200))
    [found] = fetch_all(server.url())
    assert str(found) == "network error: the response head is over 65,536 bytes or 1000 lines"

    one_line = raw(always(b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 100_000))
    [found] = fetch_all(one_line.url())
    assert str(found) == "network error: a line of the response is over 65,536 bytes"


def test_a_body_left_unread_closes_its_connection(raw):
    """A body over the cap is abandoned; its connection, mid-body, is never reused."""
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + b"x" * 4096
    replies = iter([big, OK])
    server = raw(lambda head: (next(replies), True))
    found = fetch_all(server.url(), server.url(), settings=FetchSettings(tries=1, max_bytes=1024))
    assert "over the" in str(found[0])
    assert found[1].body == b"hello"
    assert server.connections == 2


def test_a_proxy_from_the_settings_carries_the_requests(raw):
    """Through a proxy, requests go by httpx's own transport: the proxy is asked for the
    whole URL (here it answers itself)."""
    proxy = raw(always(OK))
    settings = FetchSettings(tries=1, proxy=proxy.url(""))
    [found] = fetch_all("http://feeds.example.invalid/feed", settings=settings)
    assert found.body == b"hello"
    assert proxy.requests[0].startswith(b"GET http://feeds.example.invalid/feed HTTP/1.1")


def test_a_cookie_set_on_the_way_is_sent_where_the_redirect_leads(raw):
    """A site that sets a cookie and redirects to where it is needed (a consent or session
    check) is read: the run keeps the cookies responses set."""

    def answer(head: bytes) -> tuple[bytes, bool]:
        if head.startswith(b"GET /start "):
            found = b"Set-Cookie: seen=1; Path=/\r\nLocation: /feed\r\nContent-Length: 0"
            return b"HTTP/1.1 302 Found\r\n" + found + b"\r\n\r\n", True
        if b"\r\nCookie: seen=1" in head or b"\r\ncookie: seen=1" in head:
            return OK, True
        return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", True

    server = raw(answer)
    [found] = fetch_all(server.url("/start"))
    assert found.body == b"hello"


def test_a_304_that_carries_a_body_costs_a_new_connection_not_a_failure(raw):
    """A 304 has no body, whatever it sends: bytes after it are not the next response. The
    request that reads them is sent again on a new connection (it failed before)."""
    replies = iter([b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello", OK, OK])
    server = raw(lambda head: (next(replies), True))
    found = fetch_all(server.url(), server.url())
    assert [(r.status, r.body) for r in found] == [(304, b""), (200, b"hello")]
    assert server.connections == 2


def test_lookups_that_hang_leave_room_for_other_hosts(monkeypatch, server):
    """A lookup that hangs (a domain long gone) holds its thread until the resolver gives
    up. Twelve of them, as an old list can hold, took every thread asyncio has by default
    (six): a feed on a host that resolves waited for them all."""
    release = threading.Event()
    resolve = socket.getaddrinfo

    def lookup(host: str, *args, **kwargs):
        if str(host).endswith(".hang.test"):
            release.wait(20)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    url = server.route("/feed", Route(body=b"<rss/>")).replace("127.0.0.1", "localhost")

    async def go() -> bytes:
        async with HttpClient(FetchSettings(tries=1, connect_timeout=30)) as http:
            hung = [asyncio.create_task(http.get(f"http://h{i}.hang.test/")) for i in range(12)]
            await asyncio.sleep(0.2)  # every lookup under way
            try:
                return (await asyncio.wait_for(http.get(url), 10)).body
            finally:
                release.set()
                await asyncio.gather(*hung, return_exceptions=True)

    assert fetch.run(go()) == b"<rss/>"


def test_a_proxy_from_the_environment_carries_the_requests(raw, monkeypatch):
    """httpx reads HTTP_PROXY and the like only with its own transport: with a proxy in the
    environment, it is the one used (the environment's proxies were ignored, QA)."""
    proxy = raw(always(OK))
    monkeypatch.setenv("HTTP_PROXY", proxy.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    [found] = fetch_all("http://feeds.example.invalid/feed")
    assert found.body == b"hello"
    assert proxy.requests[0].startswith(b"GET http://feeds.example.invalid/feed HTTP/1.1")


def test_what_an_idle_connection_was_told_is_no_answer(raw):
    """A server timing an idle connection out may send a 408 before closing it; that
    connection is not used again (the 408 was taken for the next request's answer, QA)."""
    server = raw(always(OK + b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"))
    found = fetch_all(server.url(), server.url())
    assert [(r.status, r.body) for r in found] == [(200, b"hello")] * 2
    assert server.connections == 2


def test_hosts_asked_once_do_not_keep_the_next_from_reusing_its_connection(raw):
    """The pool keeps the newest idle connections: twenty hosts asked once filled it, and
    every later connection was closed after one request (QA)."""
    once = [raw(always(OK)) for _ in range(20)]
    busy = raw(always(OK))
    found = fetch_all(*(s.url() for s in once), *[busy.url()] * 5)
    assert all(r.body == b"hello" for r in found)
    assert busy.connections == 1


def test_a_header_with_a_control_character_is_refused(raw):
    """A NUL or a lone CR in a header is refused, as h11 refused it (such a cookie, once
    kept, failed every later request to its host, QA)."""
    server = raw(always(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\x00c\r\nContent-Length: 2\r\n\r\nok"))
    [found] = fetch_all(server.url())
    assert str(found) == "network error: a control character in header 'Set-Cookie'"


def test_a_cookie_that_cannot_be_sent_is_not_kept(raw):
    """`city=Zürich` cannot go in a request's header: kept, it failed every later request to
    its host with a UnicodeEncodeError (QA)."""
    cookie = "Set-Cookie: city=Zürich; Path=/\r\n".encode()
    replies = iter([b"HTTP/1.1 200 OK\r\n" + cookie + b"Content-Length: 2\r\n\r\nok", OK])
    server = raw(lambda head: (next(replies), True))
    found = fetch_all(server.url(), server.url())
    assert [r.body for r in found] == [b"ok", b"hello"]
    assert b"cookie:" not in server.requests[1].lower()


def test_long_heads_and_padded_chunk_sizes_are_read(raw):
    """A head of 140 short lines and a chunk size with leading zeros are well formed
    (both were refused, QA)."""
    cookies = b"".join(b"Set-Cookie: c%d=1\r\n" % i for i in range(140))
    reply = (
        b"HTTP/1.1 200 OK\r\n" + cookies + b"Transfer-Encoding: chunked\r\n\r\n"
        b"0000000000000005\r\nhello\r\n0\r\n\r\n"
    )
    server = raw(always(reply))
    [found] = fetch_all(server.url())
    assert found.body == b"hello"


@pytest.mark.parametrize("host", ["a..example", "a" * 64 + ".example"])
def test_a_host_name_that_cannot_be_looked_up_is_one_line(host):
    [found] = fetch_all(f"http://{host}/feed")
    assert isinstance(found, FetchError)
    assert str(found) == f"cannot connect: not a host name that can be looked up: {host}"
