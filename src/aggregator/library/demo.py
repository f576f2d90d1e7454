"""`aggregator demo`: a sample library that needs no network, fetched the way real feeds are.

The sample articles (package data, written for this project and marked as samples) are served
as RSS, Atom and JSON feeds and as article pages by a small HTTP server on 127.0.0.1, and the
demo library fetches them through the real pipeline: feed parsing, full-text extraction for
the sources that only send teasers, storage and indexing. Everything then works offline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from aggregator.config import Settings, load_settings
from aggregator.models import Source
from aggregator.sources import save_opml

EXTENSIONS = {"rss": "xml", "atom": "atom", "json": "json"}
CONTENT_TYPES = {
    "xml": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def sample_library() -> dict[str, Any]:
    data = resources.files("aggregator").joinpath("data/demo/library.json").read_text("utf-8")
    return json.loads(data)


class DemoSite:
    """The sample publications, served on a loopback port for as long as the demo runs."""

    def __init__(self) -> None:
        self.data = sample_library()
        self.sources = {s["id"]: s for s in self.data["sources"]}
        self.articles: dict[str, list[dict[str, Any]]] = {}
        for article in sorted(self.data["articles"], key=lambda a: a["published"], reverse=True):
            self.articles.setdefault(article["source"], []).append(article)
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body, kind = site.page(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                payload = (body or "not found").encode("utf-8")
                self.send_header("Content-Type", CONTENT_TYPES.get(kind, "text/plain"))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def feed_url(self, source_id: str) -> str:
        return f"{self.base}/feeds/{source_id}.{EXTENSIONS[self.sources[source_id]['format']]}"

    def article_url(self, article: dict[str, Any]) -> str:
        return f"{self.base}/{article['source']}/{article['slug']}.html"

    def link_of(self, article: dict[str, Any]) -> str:
        """Where the item links: its own page, or the page of the same story elsewhere (so
        the demo shows one story carried by two sources, listed once)."""
        same = article.get("same_story_as")
        return f"{self.base}/{same}.html" if same else self.article_url(article)

    def outline(self) -> list[Source]:
        return [
            Source(
                url=self.feed_url(s["id"]),
                title=s["title"],
                category=s["category"],
                type=s["format"],
                html_url=f"{self.base}/{s['id']}/",
            )
            for s in self.data["sources"]
        ]

    # -- pages -------------------------------------------------------------------------------

    def page(self, path: str) -> tuple[str | None, str]:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "feeds":
            source_id, _, ext = parts[1].rpartition(".")
            if source_id in self.sources and EXTENSIONS[self.sources[source_id]["format"]] == ext:
                return self.feed(source_id), ext
        if len(parts) == 2 and parts[0] in self.sources and parts[1].endswith(".html"):
            for article in self.articles.get(parts[0], []):
                if article["slug"] == parts[1][: -len(".html")]:
                    return self.article_page(article), "html"
        return None, ""

    def feed(self, source_id: str) -> str:
        source = self.sources[source_id]
        items = self.articles.get(source_id, [])
        kind = source["format"]
        if kind == "json":
            return self._json_feed(source, items)
        if kind == "atom":
            return self._atom_feed(source, items)
        return self._rss_feed(source, items)

    def _body(self, source: dict[str, Any], article: dict[str, Any]) -> str:
        # Teaser sources send only the summary: the reader fetches the article for the rest.
        return f"<p>{escape(article['summary'])}</p>" if source.get("teaser") else article["body"]

    def _rss_feed(self, source: dict[str, Any], items: list[dict[str, Any]]) -> str:
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
            f"<title>{escape(source['title'])}</title><link>{self.base}/{source['id']}/</link>",
            f"<description>{escape(source.get('site', ''))}</description>",
        ]
        for a in items:
            body = self._body(source, a)
            parts.append(
                f"<item><title>{escape(a['title'])}</title><link>{self.link_of(a)}</link>"
                f'<guid isPermaLink="true">{self.article_url(a)}</guid>'
                f"<pubDate>{format_datetime(_when(a['published']))}</pubDate>"
                f"<dc:creator>{escape(a['author'])}</dc:creator>"
                f"<description>{escape(a['summary'])}</description>"
                + (
                    ""
                    if source.get("teaser")
                    else f"<content:encoded>{escape(body)}</content:encoded>"
                )
                + "</item>"
            )
        parts.append("</channel></rss>")
        return "".join(parts)

    def _atom_feed(self, source: dict[str, Any], items: list[dict[str, Any]]) -> str:
        updated = items[0]["published"] if items else "2026-11-01T00:00:00Z"
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
            f"<title>{escape(source['title'])}</title><id>{self.feed_url(source['id'])}</id>",
            f'<link rel="alternate" href="{self.base}/{source["id"]}/"/>',
            f"<updated>{updated}</updated>",
        ]
        for a in items:
            kind = "summary" if source.get("teaser") else "content"
            parts.append(
                f"<entry><title>{escape(a['title'])}</title><id>{self.article_url(a)}</id>"
                f'<link rel="alternate" href="{self.link_of(a)}"/>'
                f"<published>{a['published']}</published><updated>{a['published']}</updated>"
                f"<author><name>{escape(a['author'])}</name></author>"
                f'<{kind} type="html">{escape(self._body(source, a))}</{kind}></entry>'
            )
        parts.append("</feed>")
        return "".join(parts)

    def _json_feed(self, source: dict[str, Any], items: list[dict[str, Any]]) -> str:
        return json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": source["title"],
                "home_page_url": f"{self.base}/{source['id']}/",
                "feed_url": self.feed_url(source["id"]),
                "items": [
                    {
                        "id": self.article_url(a),
                        "url": self.link_of(a),
                        "title": a["title"],
                        "summary": a["summary"],
                        "content_html": self._body(source, a),
                        "date_published": a["published"],
                        "authors": [{"name": a["author"]}],
                    }
                    for a in items
                ],
            },
            ensure_ascii=False,
        )

    def article_page(self, article: dict[str, Any]) -> str:
        """A whole web page around the article: navigation and footer for extraction to drop."""
        source = self.sources[article["source"]]
        when = _when(article["published"])
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(article['title'])} · {escape(source['title'])}</title>"
            f'<meta name="author" content="{escape(article["author"])}"></head><body>'
            f'<header><a href="{self.base}/{source["id"]}/">{escape(source["title"])}</a>'
            "<nav><a href='/'>Home</a> <a href='/about'>About</a> "
            "<a href='/subscribe'>Subscribe</a></nav></header>"
            f"<main><article><h1>{escape(article['title'])}</h1>"
            f"<p class='byline'>By {escape(article['author'])} · {when:%d %B %Y}</p>"
            f"{article['body']}</article></main>"
            "<aside>Sign up for our newsletter.</aside>"
            "<footer><p>A sample publication of the aggregator demo.</p></footer></body></html>"
        )


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class DemoLibrary:
    """A demo's settings and its running site; `close()` stops the site and removes the files."""

    settings: Settings
    site: DemoSite
    directory: Path

    def close(self) -> None:
        self.site.close()
        shutil.rmtree(self.directory, ignore_errors=True)


DEMO_PREFIX = "aggregator-demo-"
OWNER_FILE = "pid"
"""The process a demo's files belong to: they outlive it when it is killed (a terminal
window closed on it), and the next demo removes them."""


def open_demo() -> DemoLibrary:
    """A fresh, empty demo library pointed at a freshly started sample site."""
    _remove_orphans()
    site = DemoSite()
    directory = Path(tempfile.mkdtemp(prefix=DEMO_PREFIX))
    (directory / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
    opml = directory / "demo.opml"
    save_opml(opml, site.outline(), title="aggregator demo (sample articles)")
    settings = load_settings(data_dir=directory, opml=str(opml), env={})
    return DemoLibrary(settings=settings, site=site, directory=directory)


def _remove_orphans() -> None:
    for directory in Path(tempfile.gettempdir()).glob(DEMO_PREFIX + "*"):
        try:
            if directory.stat().st_uid != os.getuid():
                continue
            pid = int((directory / OWNER_FILE).read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # not a demo's, or one being made
        if not _running(pid):
            shutil.rmtree(directory, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        pass
    return True
