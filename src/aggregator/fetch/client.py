"""The client every request of a run goes through (conditional GET, limits, redirects by
hand, bodies decompressed under the size cap, retries), and the event loop it runs on."""

from __future__ import annotations

import ast
import asyncio
import random
import re
import ssl
import urllib.request
from collections import Counter
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from aggregator.config import FetchSettings
from aggregator.errors import (
    FetchError,
    HttpStatusError,
    NetworkError,
    RedirectError,
    TooLargeError,
)
from aggregator.fetch.decoding import CHUNK, BoundedDecoder
from aggregator.fetch.trust import Trust
from aggregator.fetch.wire import Wire
from aggregator.sanitize import strip_controls

MAX_REDIRECTS = 5
RETRY_AFTER_WAIT_S = 30.0
"""A Retry-After up to this long is waited out within the run; a longer one ends the attempt."""
TIMEOUTS_TO_GIVE_UP = 3
"""Tries of requests to one endpoint that time out in a row before its other requests of
the run fail at once (counted per try, not per request: the tries of many requests to one
host take turns, and fifty requests would each have had a first try first)."""
RETRY_AFTER_MAX_S = 365 * 86400.0
"""A longer Retry-After is read as this (the wait is capped far below it anyway): a number of
26 digits overflowed the date arithmetic and ended the whole run."""
_WITH_BODY = (200, 203)
"""Statuses whose body is the resource: 203 is a 200 that a proxy passed on changed."""
_WHOLE = (*_WITH_BODY, 304)
"""What a fetch can use; any other status (a 204, a 206 that was not asked for) is an error
with its status, not "the response was empty"."""


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    """The URL asked for."""
    final_url: str
    """Where the body came from, after redirects."""
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    moved_to: str | None = None
    """Set when every redirect on the way was permanent (301/308): the source's new address."""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return _sendable(self.headers.get("etag"))

    @property
    def last_modified(self) -> str | None:
        return _sendable(self.headers.get("last-modified"))

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def host_of(url: str) -> str:
    """What the per-host limit counts by: the URL's host and port."""
    return (urlsplit(url).netloc or "").lower()


def _endpoint(url: str) -> tuple[str, str, int | None]:
    """Where a connection goes: scheme, host and port (`http://h` and `https://h` are two)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


LOOKUPS = 40
"""Threads for the event loop's blocking calls, DNS lookups first (asyncio's default is the
CPU count plus four: six here)."""
T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` for a run of requests, with room for its name lookups.

    Each connection to a host by name asks the resolver on a thread of the loop's default
    executor, and a lookup that hangs (a domain long gone, a resolver that drops queries)
    holds its thread for the resolver's own timeouts, whatever the connect timeout says.
    asyncio gives that executor six threads here (CPU count + 4): six dead domains in an
    old list stopped every other connection meanwhile, with httpx's transport as with this.
    """
    with asyncio.Runner() as runner:
        threads = ThreadPoolExecutor(LOOKUPS, thread_name_prefix="aggregator-io")
        runner.get_loop().set_default_executor(threads)
        return runner.run(main)


class _RunCookies(httpx.Cookies):
    """The run's cookie jar, read only where a response sets a cookie.

    A site may set a cookie and redirect to where it is needed, so the run keeps them. But
    httpx hands every response to urllib's jar, which copies its headers into an email
    message first: a fifth of the client's time per request, for feeds that set none.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            super().extract_cookies(response)
            for cookie in list(self.jar):
                # (`Zürich`: httpx cannot send it, and every later request to the host failed)
                if not _sendable(f"{cookie.name}={cookie.value or ''}"):
                    self.jar.clear(cookie.domain, cookie.path, cookie.name)


def _proxied(settings: FetchSettings) -> bool:
    """Whether requests go through a proxy: the setting's, or the environment's (HTTP_PROXY,
    HTTPS_PROXY, ALL_PROXY), as httpx reads them."""
    found = urllib.request.getproxies()
    return bool(settings.proxy) or any(found.get(kind) for kind in ("http", "https", "all"))


class HttpClient:
    """Shared by every request of a run; use as `async with HttpClient(settings) as http`."""

    def __init__(self, settings: FetchSettings, trust: Trust | None = None) -> None:
        """`trust`: one whose certificates may be loading already; by default one is made
        here, to load them before the first https request."""
        self.settings = settings
        self._trust = trust or Trust()
        concurrency = settings.concurrency
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._unreachable: dict[tuple[str, str, int | None], NetworkError] = {}
        """Endpoints no connection could be made to, after every try, or whose tries timed
        out TIMEOUTS_TO_GIVE_UP times in a row, with the error: the rest of their requests in
        this run fail at once (fifty feeds of a host that is down, or fifty article pages of
        one that never answers, would each wait through their timeouts and retries: fifty
        minutes for one source)."""
        self._timeouts: Counter[tuple[str, str, int | None]] = Counter()
        # Through a proxy, httpx's own transport carries everything: it reads the
        # environment's proxies only when it does.
        wire = None if _proxied(settings) else Wire(self._trust.context, max_idle=concurrency)
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout, pool=None),
            limits=httpx.Limits(
                max_connections=concurrency * 2,
                max_keepalive_connections=concurrency,
            ),
            headers={
                "User-Agent": settings.user_agent,
                "Accept-Encoding": "gzip, deflate, br",
            },
            proxy=settings.proxy or None,
            trust_env=True,
            verify=self._trust.context,
            transport=wire,
        )
        if isinstance(getattr(self._client, "_cookies", None), httpx.Cookies):
            self._client._cookies = _RunCookies()  # (httpx's own jar, should it rename it)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "*/*",
    ) -> Response:
        """GET with conditional headers, limits and retries; raises a `FetchError` subclass."""
        self._check_reachable(url)
        tries = max(1, self.settings.tries)
        for attempt in range(1, tries + 1):
            try:
                return await self._get_following(url, etag, last_modified, accept)
            except HttpStatusError as exc:
                retryable = exc.status >= 500 or exc.status == 429
                if not retryable or attempt == tries:
                    raise
                wait = exc.retry_after if exc.retry_after is not None else _backoff(attempt)
                if wait > RETRY_AFTER_WAIT_S:
                    raise
                await asyncio.sleep(wait)
            except NetworkError as exc:
                endpoint = _endpoint(exc.url)
                self._timeouts[endpoint] += exc.timeout  # every try: they wait their turn
                if self._timeouts[endpoint] >= TIMEOUTS_TO_GIVE_UP or (
                    exc.connection and attempt == tries
                ):
                    self._unreachable.setdefault(endpoint, exc)
                    raise
                if attempt == tries:
                    raise
                await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def _answered(self, url: str) -> None:
        if self._timeouts:  # it answers: its timeouts were not in a row
            self._timeouts.pop(_endpoint(url), None)

    def _check_reachable(self, url: str) -> None:
        if self._unreachable:  # (finding the endpoint splits the URL: not while none is)
            earlier = self._unreachable.get(_endpoint(url))
            if earlier is not None:  # (of the same kind: offline or not, as a run tells)
                raise NetworkError(
                    f"{earlier} (as earlier in this run)",
                    url=url,
                    connection=earlier.connection,
                    timeout=earlier.timeout,
                )

    async def _get_following(
        self, url: str, etag: str | None, last_modified: str | None, accept: str
    ) -> Response:
        seen = [url]
        permanent = True
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            status, headers, body = await self._get_once(current, etag, last_modified, accept)
            if status in (301, 302, 303, 307, 308):
                location = headers.get("location")
                if not location:
                    raise RedirectError(f"HTTP {status} redirect without a Location", url=url)
                target = _unmistakable(urljoin(current, location.strip()))
                if urlsplit(target).scheme.lower() not in ("http", "https"):
                    shown = _no_password(target)
                    raise RedirectError(f"refused a redirect to a non-http URL ({shown})", url=url)
                if target in seen:
                    loop = " -> ".join(map(_no_password, [*seen, target]))
                    raise RedirectError(f"redirect loop ({loop})", url=url)
                permanent = permanent and status in (301, 308)
                seen.append(target)
                current = target
                continue
            if status not in _WHOLE:  # an error; or a 204, a 206 not asked for: no feed
                raise HttpStatusError(
                    status, url=url, retry_after=_retry_after(headers.get("retry-after"))
                )
            # A feed moved with its content unchanged answers 304 at its new address: the move
            # is told all the same, or the list would keep the old address for good.
            moved = current if permanent and current != url else None
            return Response(url, current, status, headers, body, moved)
        raise RedirectError(f"more than {MAX_REDIRECTS} redirects", url=url)

    async def _get_once(
        self, url: str, etag: str | None, last_modified: str | None, accept: str
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            _ = urlsplit(url).port  # out of range, connecting would fail with no clear reason
        except ValueError as exc:
            raise FetchError(f"not a valid URL: {str(exc).lower()}", url=url) from None
        headers = {"Accept": accept}
        if _sendable(etag):
            headers["If-None-Match"] = etag
        if _sendable(last_modified):
            headers["If-Modified-Since"] = last_modified
        per_host = self._hosts.setdefault(host_of(url), asyncio.Semaphore(self.settings.per_host))
        # The host's turn first: a request waiting for its host must not hold one of the
        # global places meanwhile (fifty article pages of one slow host held all sixteen,
        # and sources of every other host waited minutes).
        async with per_host, self._global:
            self._check_reachable(url)  # (found so while this request waited its turn)
            if url[:6].lower() == "https:":
                await self._ca_loaded(url)
            try:
                async with asyncio.timeout(self.settings.timeout):
                    async with self._client.stream("GET", url, headers=headers) as response:
                        found = {k.lower(): v for k, v in response.headers.items()}
                        body = b""
                        if response.status_code in _WITH_BODY:
                            body = await self._read_body(response, url, found)
                        else:
                            await _drain(response)
                        self._answered(url)  # (this hop's address: its timeouts are counted)
                        return response.status_code, found, body
            except TimeoutError:
                raise NetworkError(
                    f"timed out after {self.settings.timeout:g} s", url=url, timeout=True
                ) from None
            except httpx.TimeoutException as exc:
                what = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for data"
                raise NetworkError(f"timed out {what}", url=url, timeout=True) from None
            except httpx.ConnectError as exc:
                raise NetworkError(
                    f"cannot connect: {_reason(exc)}", url=url, connection=True
                ) from None
            except (httpx.TransportError, httpx.InvalidURL) as exc:
                raise NetworkError(f"network error: {_reason(exc)}", url=url) from None
            except UnicodeError as exc:  # a host httpx cannot encode (`xn--zz.example`)
                raise FetchError(f"not a valid host name: {_reason(exc)}", url=url) from None

    async def _ca_loaded(self, url: str) -> None:
        try:
            await self._trust.ready()
        except (OSError, ssl.SSLError) as exc:
            raise NetworkError(f"cannot load CA certificates: {_reason(exc)}", url=url) from None

    async def _read_body(
        self, response: httpx.Response, url: str, headers: dict[str, str]
    ) -> bytes:
        cap = self.settings.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap and "content-encoding" not in headers:
            raise TooLargeError(f"body of {int(declared):,} bytes is over the cap", url=url)
        decoder = BoundedDecoder(headers.get("content-encoding", ""), url=url)
        parts: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw(CHUNK):
            for chunk in decoder.feed(raw):
                size += len(chunk)
                if size > cap:
                    raise TooLargeError(f"body over the {cap:,}-byte cap", url=url)
                parts.append(chunk)
        for chunk in decoder.flush():
            size += len(chunk)
            if size > cap:
                raise TooLargeError(f"body over the {cap:,}-byte cap", url=url)
            parts.append(chunk)
        return b"".join(parts)


async def _drain(response: httpx.Response, limit: int = CHUNK) -> None:
    """Read a small unwanted body (a 304's, a redirect's) so the connection can be reused.

    A response closed unread costs a new TCP connection for the next request to that host;
    a large one is not worth reading and its connection is simply dropped.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            return


def _backoff(attempt: int) -> float:
    """Exponential with full jitter: 0.5 s, 1 s, 2 s … plus up to as much again at random."""
    base = 0.5 * 2 ** (attempt - 1)
    return base + random.uniform(0, base)


def _sendable(value: str | None) -> str | None:
    """A value that can be sent back in a header (a validator, a cookie): printable ASCII.
    Another (`"v1-é"`, as a server sent) failed every later request of its source, once
    stored, before it left."""
    return value if value and value.isascii() and value.isprintable() else None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - datetime.now(UTC)).total_seconds()), RETRY_AFTER_MAX_S)


_UNSEEN_IN_URL = re.compile("[\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _unmistakable(url: str) -> str:
    """A redirect's address with what a terminal would act on or hide (controls, spaces,
    bidi overrides) percent-encoded, as a browser sends it: the new address is shown to the
    user and kept in their list."""
    if url.isprintable() and url.isascii() and " " not in url:
        return url
    return _UNSEEN_IN_URL.sub(lambda m: "".join(f"%{b:02X}" for b in m[0].encode()), url)


def _no_password(url: str) -> str:
    """An address as a message shows it (and `sources list` keeps it): a password in it is
    `***` (`http://bob:***@host/`)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return url
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}").geturl()


_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
_QUOTED = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_BYTES = re.compile(rf"bytearray\(b{_QUOTED}\)|(?<![\w'\"])b{_QUOTED}")
"""Python's way of writing bytes (`bytearray(b'HTTP/1.1 2000 OK')`, from h11)."""


def _bytes_as_text(match: re.Match[str]) -> str:
    try:
        value = ast.literal_eval("b" + (match[1] or match[2])).decode("latin-1")
    except (ValueError, SyntaxError):
        return match[0]
    return "'" + " ".join(strip_controls(value).split()) + "'"


def _reason(exc: Exception) -> str:
    """One line a person can read: "[Errno 111] Connection refused" is "connection refused"."""
    text = _BYTES.sub(_bytes_as_text, _ERRNO.sub("", " ".join(str(exc).split())))
    if not text:
        return type(exc).__name__
    if text[1:2].islower():  # a capitalised sentence, not "SSL: ..." or a name
        text = text[0].lower() + text[1:]
    return text[:200]
