"""A real HTTP server on 127.0.0.1 for tests: routes with bodies, headers, validators,
redirects, compression, stalls. Never a mock: the client under test speaks real HTTP to it."""

from __future__ import annotations

import contextlib
import gzip
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    """Answer 304 to a matching If-None-Match."""
    last_modified: str | None = None
    """Answer 304 to an equal If-Modified-Since."""
    gzip: bool = False
    """Compress the body when the client accepts gzip."""
    stall: float = 0.0
    """Send half the body, then wait this long before the rest."""
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None
    """Write the whole response by hand."""


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class LoopbackServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """With `tls` (a server context), it speaks https."""
        self.routes: dict[str, list[Route]] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients hanging up mid-response is what several tests do on purpose

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, *responses: Route, **kwargs: object) -> str:
        """Serve `path`; several responses are given in turn, the last one repeating."""
        with self._lock:
            self.routes[path] = list(responses) or [Route(**kwargs)]  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(Seen(h.path, {k.lower(): v for k, v in h.headers.items()}))
            queue = self.routes.get(h.path.split("#")[0])
            route = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else None
        if route is None:
            return self._send(h, 404, b"not found", "text/plain", {})
        if route.handler is not None:
            return route.handler(h)
        if route.etag and h.headers.get("If-None-Match") == route.etag:
            return self._send(h, 304, b"", None, {"ETag": route.etag})
        if route.last_modified and h.headers.get("If-Modified-Since") == route.last_modified:
            return self._send(h, 304, b"", None, {"Last-Modified": route.last_modified})
        headers = dict(route.headers)
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        body = route.body
        if route.gzip and "gzip" in h.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._send(h, route.status, body, route.content_type, headers, stall=route.stall)

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str],
        stall: float = 0.0,
    ) -> None:
        h.send_response(status)
        if content_type:
            h.send_header("Content-Type", content_type)
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if stall:
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            time.sleep(stall)
            with contextlib.suppress(OSError):
                h.wfile.write(body[len(body) // 2 :])
            return
        h.wfile.write(body)


def rss(*items: str, title: str = "Test feed", link: str = "http://example.org/") -> bytes:
    """An RSS 2.0 document around ready-made <item> elements."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{title}</title><link>{link}</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def item(guid: str, title: str, body: str = "", link: str = "", date: str = "") -> str:
    from html import escape

    return (
        f"<item><guid>{escape(guid)}</guid><title>{escape(title)}</title>"
        + (f"<link>{escape(link)}</link>" if link else "")
        + (f"<pubDate>{date}</pubDate>" if date else "")
        + f"<description>{escape(body)}</description></item>"
    )
