"""The HTTP client against a real loopback server: validators, redirects, errors, limits."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib
from http.server import BaseHTTPRequestHandler

import brotli
import pytest

from aggregator.config import FetchSettings
from aggregator.errors import (
    FetchError,
    HttpStatusError,
    NetworkError,
    RedirectError,
    TooLargeError,
)
from aggregator.fetch import TIMEOUTS_TO_GIVE_UP, HttpClient, Response
from aggregator.fetch.client import _reason
from tests.httpd import Route


def get(url: str, settings: FetchSettings | None = None, **kwargs) -> Response:
    async def go() -> Response:
        async with HttpClient(settings or FetchSettings(tries=1)) as http:
            return await http.get(url, **kwargs)

    return asyncio.run(go())


def test_200_then_304_with_etag(server):
    url = server.route("/feed", Route(body=b"<rss/>", etag='"v1"'))
    first = get(url)
    assert (first.status, first.body, first.etag) == (200, b"<rss/>", '"v1"')
    second = get(url, etag=first.etag)
    assert second.not_modified and second.body == b""
    assert server.hits("/feed")[-1].headers["if-none-match"] == '"v1"'


def test_304_with_last_modified(server):
    stamp = "Mon, 06 May 2024 07:08:09 GMT"
    url = server.route("/feed", Route(body=b"x", last_modified=stamp))
    assert get(url).last_modified == stamp
    assert get(url, last_modified=stamp).not_modified


def test_honest_user_agent(server):
    url = server.route("/feed", Route(body=b"x"))
    get(url)
    agent = server.hits("/feed")[0].headers["user-agent"]
    assert agent.startswith("aggregator/") and "+http" in agent


def redirect(status: int, to: str) -> Route:
    return Route(status=status, headers={"Location": to})


def test_permanent_redirect_is_recorded(server):
    server.route("/new", Route(body=b"moved here"))
    url = server.route("/old", redirect(301, "/new"))
    response = get(url)
    assert response.body == b"moved here" and response.moved_to == server.url("/new")


def test_temporary_redirect_in_the_chain_is_not_a_move(server):
    server.route("/c", Route(body=b"end"))
    server.route("/b", redirect(302, "/c"))
    url = server.route("/a", redirect(308, "/b"))
    response = get(url)
    assert response.body == b"end" and response.moved_to is None


def test_redirect_loop_and_too_many_hops(server):
    server.route("/x", redirect(302, "/y"))
    url = server.route("/y", redirect(302, "/x"))
    with pytest.raises(RedirectError, match="loop"):
        get(url)
    for i in range(8):
        server.route(f"/hop{i}", redirect(302, f"/hop{i + 1}"))
    with pytest.raises(RedirectError, match="more than 5"):
        get(server.url("/hop0"))


def test_a_password_in_an_address_is_not_in_the_message(server):
    """A redirect loop's message (kept as the source's last error) gave the password of
    the source's address (QA)."""
    server.route("/x", redirect(302, "/y"))
    server.route("/y", redirect(302, "/x"))
    secret = server.url("/x").replace("://", "://bob:S3CRET@")
    with pytest.raises(RedirectError, match="loop") as info:
        get(secret)
    assert "S3CRET" not in str(info.value) and "bob:***@" in str(info.value)


def test_redirect_to_a_local_file_is_refused(server):
    url = server.route("/evil", redirect(302, "file:///etc/passwd"))
    with pytest.raises(RedirectError, match="non-http"):
        get(url)


def test_a_port_out_of_range_is_a_one_line_error(server):
    """anyio fails on it with an ExceptionGroup, which the summary showed as its reason."""
    with pytest.raises(FetchError, match=r"^not a valid URL: port out of range 0-65535$"):
        get("http://127.0.0.1:70000/feed")
    url = server.route("/moved", redirect(302, "http://127.0.0.1:99999/feed"))
    with pytest.raises(FetchError, match="port out of range"):
        get(url)


@pytest.mark.parametrize("status", [404, 410, 403])
def test_client_errors_are_not_retried(server, status: int):
    url = server.route("/gone", Route(status=status, body=b"no"))
    with pytest.raises(HttpStatusError) as info:
        get(url, FetchSettings(tries=3))
    assert info.value.status == status and str(status) in str(info.value)
    assert len(server.hits("/gone")) == 1


def test_server_errors_are_retried_with_backoff(server):
    url = server.route("/flaky", Route(status=500), Route(status=502), Route(body=b"ok"))
    assert get(url, FetchSettings(tries=3)).body == b"ok"
    assert len(server.hits("/flaky")) == 3
    url = server.route("/down", Route(status=500))
    with pytest.raises(HttpStatusError, match="500"):
        get(url, FetchSettings(tries=2))
    assert len(server.hits("/down")) == 2


def test_429_with_a_short_retry_after_is_waited_out(server):
    url = server.route(
        "/busy", Route(status=429, headers={"Retry-After": "1"}), Route(body=b"done")
    )
    started = time.monotonic()
    assert get(url, FetchSettings(tries=2)).body == b"done"
    assert time.monotonic() - started >= 0.9


def test_503_with_a_long_retry_after_ends_the_attempt(server):
    url = server.route("/later", Route(status=503, headers={"Retry-After": "3600"}))
    with pytest.raises(HttpStatusError) as info:
        get(url, FetchSettings(tries=3))
    assert info.value.retry_after == 3600 and len(server.hits("/later")) == 1


def test_gzip_deflate_and_brotli(server):
    text = b"<rss>" + b"compressible " * 1000 + b"</rss>"
    url = server.route("/gz", Route(body=text, gzip=True))
    assert get(url).body == text
    assert "gzip" in server.hits("/gz")[0].headers["accept-encoding"]
    for name, data in (
        ("deflate-zlib", zlib.compress(text)),
        ("deflate-raw", zlib.compress(text)[2:-4]),
        ("br", brotli.compress(text)),
    ):
        encoding = "br" if name == "br" else "deflate"
        url = server.route(f"/{name}", Route(body=data, headers={"Content-Encoding": encoding}))
        assert get(url).body == text, name


@pytest.mark.parametrize(
    ("encoding", "whole"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
    ],
)
def test_a_compressed_body_cut_short_is_an_error_not_a_feed(server, encoding, whole):
    """A gzip stream without its end was taken as the whole body, and the fragment of a
    feed it held stored an entry of nothing (QA)."""
    data = whole(b"<rss><channel><item><link>https://e.example/1</link>" + b"x" * 5000)
    url = server.route("/cut", Route(body=data[: len(data) // 2], headers={
        "Content-Encoding": encoding}))  # fmt: skip
    with pytest.raises(NetworkError, match="compressed body ends early"):
        get(url, FetchSettings(tries=1))


def test_a_status_other_than_200_is_its_own_reason(server):
    """Every success status but 200 lost its body and failed as "the response was empty":
    a 203 (a proxy's 200) is a feed; a 204 or a 206 not asked for says which it was (QA)."""
    url = server.route("/203", Route(status=203, body=b"<rss/>"))
    assert get(url).body == b"<rss/>"
    for status, reason in ((204, "HTTP 204 No Content"), (206, "HTTP 206 Partial Content")):
        url = server.route(f"/{status}", Route(status=status, body=b"" if status == 204 else b"<r"))
        with pytest.raises(HttpStatusError, match=reason):
            get(url, FetchSettings(tries=1))


def test_compressed_bodies_as_servers_send_them():
    """Several gzip members one after another (the review: all but the first dropped), and
    a raw deflate stream that comes a byte at a time (it failed: the fallback from a zlib
    header was tried on the first chunk only)."""
    from aggregator.fetch.decoding import BoundedDecoder

    def decoded(encoding: str, data: bytes, step: int) -> bytes:
        decoder = BoundedDecoder(encoding, url="http://e.example/f")
        pieces = [b"".join(decoder.feed(data[i : i + step])) for i in range(0, len(data), step)]
        return b"".join(pieces) + b"".join(decoder.flush())

    members = gzip.compress(b"part one, ") + gzip.compress(b"part two")
    many = b"".join(gzip.compress(b"<p>line</p>") for _ in range(3000))  # (was one call each)
    assert decoded("gzip", many, len(many)) == b"<p>line</p>" * 3000
    text = b"compressible " * 500
    for step in (1, 7, 4096):
        assert decoded("gzip", members, step) == b"part one, part two"
        assert decoded("deflate", zlib.compress(text)[2:-4], step) == text
        assert decoded("gzip", gzip.compress(text) + b"<!-- a cache's note -->", step) == text


def test_a_body_that_stalls_past_the_timeout(server):
    url = server.route("/slow", Route(body=b"x" * 10000, stall=5))
    started = time.monotonic()
    with pytest.raises(NetworkError, match="timed out"):
        get(url, FetchSettings(tries=1, timeout=1.0))
    assert time.monotonic() - started < 4


def test_a_body_over_the_cap(server):
    url = server.route("/big", Route(body=b"x" * 200_000))
    with pytest.raises(TooLargeError):
        get(url, FetchSettings(tries=1, max_bytes=100_000))


def _bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped (about a thousandth of the size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


def test_a_gzip_bomb_is_stopped_without_using_its_size_in_memory(server):
    bomb = _bomb(512 << 20)  # 512 MB of zeros in well under 1 MB
    assert len(bomb) < 1 << 20
    url = server.route("/bomb", Route(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError):
            get(url, FetchSettings(tries=1, max_bytes=2 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"peak {peak / 2**20:.0f} MB"


def test_invalid_compressed_data_is_a_clear_error(server):
    url = server.route(
        "/broken", Route(body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    )
    with pytest.raises(NetworkError, match="compressed"):
        get(url)


def test_connection_refused_is_flagged_as_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(NetworkError) as info:
        get(f"http://127.0.0.1:{port}/feed")
    assert info.value.connection
    assert str(info.value) == "cannot connect: connection refused"


def test_a_network_error_reads_as_a_sentence_without_its_errno():
    assert _reason(OSError(-2, "Name or service not known")) == "name or service not known"
    assert _reason(OSError("SSL: CERTIFICATE_VERIFY_FAILED")) == "SSL: CERTIFICATE_VERIFY_FAILED"
    assert _reason(TimeoutError()) == "TimeoutError"


def test_per_host_limit_is_kept(server):
    in_flight, peak = 0, 0

    def slow(h: BaseHTTPRequestHandler) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        time.sleep(0.2)
        in_flight -= 1
        h.send_response(200)
        h.send_header("Content-Length", "2")
        h.end_headers()
        h.wfile.write(b"ok")

    urls = [server.route(f"/p{i}", Route(handler=slow)) for i in range(6)]

    async def go() -> None:
        async with HttpClient(FetchSettings(concurrency=16, per_host=2, tries=1)) as http:
            await asyncio.gather(*(http.get(u) for u in urls))

    asyncio.run(go())
    assert peak == 2


def test_a_request_waiting_for_its_host_holds_no_place_another_host_could_use(server):
    """Article pages of one stuck host held every global place while they waited for their
    host's turn, and sources of other hosts waited minutes (QA)."""
    import threading

    from tests.httpd import LoopbackServer

    release = threading.Event()

    def stuck(h: BaseHTTPRequestHandler) -> None:
        release.wait(30)
        h.send_response(200)
        h.send_header("Content-Length", "2")
        h.end_headers()
        h.wfile.write(b"ok")

    slow = [server.route(f"/s{i}", Route(handler=stuck)) for i in range(3)]
    other = LoopbackServer()
    try:
        quick = other.route("/q", Route(body=b"quick"))

        async def go() -> bytes:
            settings = FetchSettings(concurrency=2, per_host=1, tries=1, timeout=60)
            async with HttpClient(settings) as http:
                waiting = [asyncio.create_task(http.get(url)) for url in slow]
                await asyncio.sleep(0)  # they take what they can, then wait
                try:
                    return (await asyncio.wait_for(http.get(quick), 20)).body
                finally:
                    release.set()
                    await asyncio.gather(*waiting)

        assert asyncio.run(go()) == b"quick"
    finally:
        release.set()
        other.close()


def test_a_host_that_keeps_timing_out_is_given_up_on_for_the_run(server):
    """Fifty article pages of a host that never answers each waited out their timeouts and
    retries: fifty minutes for one source at the defaults (QA)."""
    urls = [server.route(f"/never{i}", Route(body=b"x" * 1000, stall=5)) for i in range(6)]
    other = server.route("/fine", Route(body=b"fine"))

    async def go() -> list[BaseException | Response]:
        settings = FetchSettings(per_host=1, tries=2, timeout=0.5)
        async with HttpClient(settings) as http:
            return await asyncio.gather(*(http.get(u) for u in urls), return_exceptions=True)

    results = asyncio.run(go())
    assert all(isinstance(r, NetworkError) for r in results)
    assert sum(len(server.hits(f"/never{i}")) for i in range(6)) == TIMEOUTS_TO_GIVE_UP
    assert "(as earlier in this run)" in str(results[-1])
    assert get(other).body == b"fine"  # a new run asks again


def test_answers_through_a_redirect_count_for_the_host_that_gave_them(server):
    """Timeouts were counted for the address a redirect led to, answers for the address
    asked: a host reached through `http` → `https` kept answering and was given up on
    (review)."""
    from tests.httpd import LoopbackServer

    target = LoopbackServer()
    try:
        for i in range(3):
            target.route(f"/slow{i}", Route(body=b"x" * 1000, stall=5))
            target.route(f"/ok{i}", Route(body=b"ok"))
            for name in (f"slow{i}", f"ok{i}"):
                server.route(f"/{name}", redirect(301, target.url(f"/{name}")))

        async def go() -> list[object]:
            settings = FetchSettings(tries=1, timeout=0.5)
            async with HttpClient(settings) as http:
                found: list[object] = []
                for i in range(3):  # slow, answered, slow, answered, …: never three in a row
                    for name in (f"slow{i}", f"ok{i}"):
                        try:
                            found.append((await http.get(server.url(f"/{name}"))).body)
                        except NetworkError as exc:
                            found.append(type(exc))
                return found

        assert asyncio.run(go()) == [NetworkError, b"ok"] * 3
    finally:
        target.close()


def test_gzip_helper_round_trip():
    assert gzip.decompress(_bomb(1 << 20)) == bytes(1 << 20)


def test_https_uses_the_ca_certificates_of_ssl_cert_file(tls_server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    url = tls_server.route("/feed", Route(body=b"<rss/>"))
    assert get(url).body == b"<rss/>"


def test_https_with_an_untrusted_certificate_fails_with_its_reason(tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    url = tls_server.route("/feed", Route(body=b"<rss/>"))
    with pytest.raises(NetworkError, match="certificate verify failed"):
        get(url)


def test_unreadable_ca_file_is_a_one_line_error(tls_server, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    url = tls_server.route("/feed", Route(body=b"<rss/>"))
    with pytest.raises(NetworkError, match="cannot load CA certificates"):
        get(url)


def test_plain_http_never_loads_ca_certificates(server, tmp_path, monkeypatch):
    # A CA file that cannot be read would fail any request that loaded it.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    url = server.route("/feed", Route(body=b"<rss/>"))
    assert get(url).body == b"<rss/>"


def test_a_broken_status_line_is_told_as_text_not_a_python_value(server):
    def broken(h) -> None:
        h.wfile.write(b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n")

    url = server.route("/broken", Route(handler=broken))
    with pytest.raises(NetworkError) as caught:
        get(url, FetchSettings(tries=1))
    assert str(caught.value) == "network error: not an HTTP/1.x status line: 'HTTP/1.1 2000 OK'"


@pytest.mark.parametrize(
    ("said", "told"),
    [
        (
            "illegal status line: bytearray(b'HTTP/1.1 2000 OK')",
            "illegal status line: 'HTTP/1.1 2000 OK'",
        ),
        (
            """illegal status line: bytearray(b'HTTP/1.1 2000 it\\'s "OK"')""",
            """illegal status line: 'HTTP/1.1 2000 it's "OK"'""",
        ),
        ("bad b'\\x1b[31mred\\r\\n' end", "bad 'red' end"),
        ("unknown flag 'b' in 'abc'", "unknown flag 'b' in 'abc'"),  # no bytes in it
    ],
)
def test_bytes_in_an_error_are_told_as_text(said, told):
    assert _reason(ValueError(said)) == told
