"""HTML pages that are not articles: finding a site's feeds, and article links on a listing page.

A page source (`type="html"` with a CSS `selector`) is a listing whose matching links are
articles; every new link becomes an entry. Discovery looks for `<link rel="alternate">` first
and leaves guessing common paths to the caller, which has the network.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from soupsieve import SelectorSyntaxError

from aggregator.errors import FeedError
from aggregator.sanitize import one_line

FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/rdf+xml": "rss",
    "application/feed+json": "json",
    "application/json": "json",
    "text/xml": "rss",
    "application/xml": "rss",
}
COMMON_FEED_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/atom.xml",
    "/index.xml",
    "/feed.xml",
    "/feed.json",
)


@dataclass(frozen=True, slots=True)
class FoundFeed:
    url: str
    title: str
    type: str
    plain: str = ""
    """The same feed's http address, when the page declares it over both: tried when the
    https one fails (a site whose https does not work)."""


@dataclass(frozen=True, slots=True)
class FoundLink:
    url: str
    text: str


def looks_like_html(body: bytes, content_type: str = "") -> bool:
    head = body[:2048].lstrip().lower()
    return (
        "html" in content_type.lower()
        or head.startswith((b"<!doctype html", b"<html"))
        or (b"<html" in head and b"<rss" not in head and b"<feed" not in head)
    )


def discover_feeds(page: bytes | str, base_url: str) -> list[FoundFeed]:
    """Feeds a page declares with `<link rel="alternate" type=…>`, in page order, no repeats.

    Only http and https addresses, without their fragment. One feed declared twice (relative
    and absolute, with a fragment, over http and https: see `address_key`) is kept once, at
    its first place, by its https address when it has one.
    """
    soup = _soup(page)
    base = _base(soup, base_url)
    found: dict[tuple[str, int | None, str, str], FoundFeed] = {}
    for link in soup.find_all("link", href=True):
        rel = link.get("rel") or []
        rels = {r.lower() for r in (rel if isinstance(rel, list) else str(rel).split())}
        kind = FEED_TYPES.get(str(link.get("type", "")).split(";")[0].strip().lower())
        if "alternate" not in rels or kind is None:
            continue
        url = _http_url(str(link["href"]), base).split("#", 1)[0]
        if not url:
            continue
        title = one_line(str(link.get("title") or ""))
        key = address_key(url)
        kept = found.get(key)
        if kept is None:
            found[key] = FoundFeed(url=url, title=title, type=kind)
        elif kept.url.startswith("http:") and url.startswith("https:"):
            found[key] = replace(kept, url=url, title=kept.title or title, plain=kept.url)
        elif kept.url.startswith("https:") and url.startswith("http:") and not kept.plain:
            found[key] = replace(kept, plain=url)
    return list(found.values())


def address_key(url: str) -> tuple[str, int | None, str, str]:
    """What two addresses of one feed share: host (any case), port (the scheme's default
    left out), path and query. The scheme (http or https) and the fragment do not count."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == {"http": 80, "https": 443}.get(scheme):
        port = None
    return (parts.hostname or "").lower(), port, parts.path or "/", parts.query


_BAD_SELECTOR = (SelectorSyntaxError, ValueError, NotImplementedError)
"""What soupsieve raises for a selector it cannot use."""


def selector_problem(selector: str) -> str:
    """Why a CSS selector cannot be used ("" when it can): checked when a page source is
    added, not first at its next fetch."""
    try:
        BeautifulSoup("", "html.parser").select(selector)
    except _BAD_SELECTOR as exc:
        return one_line(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:120]
    return ""


NO_LINKS = "the selector matches no links on the page"
"""A page source's failure when its selector finds nothing (the page changed, a typo)."""


def article_links(page: bytes | str, base_url: str, selector: str) -> list[FoundLink]:
    """Links matched by the CSS selector (or inside the matched elements), absolute, http(s)."""
    soup = _soup(page)
    base = _base(soup, base_url)
    try:
        matches = soup.select(selector)
    except _BAD_SELECTOR as exc:
        raise FeedError(
            f"bad selector {selector!r}: {one_line(str(exc))[:120]}", url=base_url
        ) from None
    found: dict[str, FoundLink] = {}
    for match in matches:
        anchors = [match] if match.name == "a" else match.find_all("a", href=True)
        for anchor in anchors:
            url = _http_url(str(anchor.get("href") or ""), base)
            if url and url not in found:
                url = url.split("#", 1)[0]
                found.setdefault(url, FoundLink(url=url, text=one_line(anchor.get_text(" "))))
    return list(found.values())


def page_title(page: bytes | str) -> str:
    soup = _soup(page)
    return one_line(soup.title.get_text(" ")) if soup.title else ""


def _soup(page: bytes | str) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4's guesses about XML-looking pages are noise here
        return BeautifulSoup(page, "lxml")


def _base(soup: BeautifulSoup, base_url: str) -> str:
    tag = soup.find("base", href=True)
    return urljoin(base_url, str(tag["href"])) if tag is not None else base_url


def _http_url(value: str, base: str) -> str:
    try:
        url = urljoin(base, one_line(value))
        return url if urlsplit(url).scheme.lower() in ("http", "https") else ""
    except ValueError:
        return ""
