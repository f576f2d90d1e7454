"""Looking at sources over the network without storing anything: feed discovery for
`sources add`, and `sources check`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urljoin

from aggregator import pages
from aggregator.config import FetchSettings
from aggregator.errors import FetchError, InvalidSourceError, NetworkError
from aggregator.fetch import HttpClient, Response
from aggregator.models import Source, UpdateResult
from aggregator.parse import ParsedFeed, parse_feed
from aggregator.update import FEED_ACCEPT, unexpected_error

SELECTOR_HINT = (
    'to follow the page itself, add it to feeds.opml as <outline type="html" '
    'xmlUrl="{url}" selector="CSS selector of its article links"/> '
    "or run: aggregator sources add {url} --selector 'main article a'"
)


@dataclass(frozen=True, slots=True)
class Discovery:
    url: str
    """The feed to add."""
    title: str
    kind: str
    alternatives: tuple[str, ...] = ()
    warning: str = ""


def discover(settings: FetchSettings, url: str) -> Discovery:
    return asyncio.run(_discover(settings, url))


async def _discover(settings: FetchSettings, url: str) -> Discovery:
    async with HttpClient(settings) as http:
        try:
            response = await http.get(url, accept=FEED_ACCEPT)
        except NetworkError as exc:
            return Discovery(url, "", "rss", warning=f"could not check it ({exc}); added as given")
        except FetchError as exc:
            raise InvalidSourceError(f"{url}: {exc}; not added", url=url) from None
        feed = _as_feed(response)
        if feed is not None:
            return Discovery(response.moved_to or url, feed.title, _kind(feed))
        if not pages.looks_like_html(response.body, response.content_type):
            raise InvalidSourceError(f"{url} is neither a feed nor a web page; not added", url=url)
        declared = pages.discover_feeds(response.body, response.final_url)
        candidates = [f.url for f in declared] or [
            urljoin(response.final_url, path) for path in pages.COMMON_FEED_PATHS
        ]
        for candidate in candidates:
            try:
                found = await http.get(candidate, accept=FEED_ACCEPT)
            except FetchError:
                continue
            feed = _as_feed(found)
            if feed is not None:
                others = tuple(c for c in (f.url for f in declared) if c != candidate)
                return Discovery(found.moved_to or candidate, feed.title, _kind(feed), others)
        raise InvalidSourceError(
            f"no feed found at {url}; " + SELECTOR_HINT.format(url=url), url=url
        )


def _as_feed(response: Response) -> ParsedFeed | None:
    try:
        return parse_feed(response.body, response.final_url, response.headers)
    except Exception:  # a FeedError, or whatever else a parser trips on: not a feed to add
        return None


def _kind(feed: ParsedFeed) -> str:
    if feed.format.startswith("json"):
        return "json"
    return "atom" if feed.format.startswith("atom") else "rss"


def check(settings: FetchSettings, sources: Sequence[Source]) -> list[UpdateResult]:
    """Fetch and parse each source (unconditionally) and say what would come in."""
    return asyncio.run(_check(settings, sources))


async def _check(settings: FetchSettings, sources: Sequence[Source]) -> list[UpdateResult]:
    async with HttpClient(settings) as http:
        return list(await asyncio.gather(*(_check_one(http, s) for s in sources)))


async def _check_one(http: HttpClient, source: Source) -> UpdateResult:
    """`unchanged` carries how many entries (or article links) the source offers now."""
    base = UpdateResult(source.url, source.display_title, source.category, "failed")
    try:
        response = await http.get(source.url, accept=FEED_ACCEPT)
        if source.type == "html" and source.selector:
            links = pages.article_links(response.body, response.final_url, source.selector)
            if not links:
                return replace(base, error="the selector matches no links on the page")
            return replace(base, status="ok", unchanged=len(links), moved_to=response.moved_to)
        feed = await asyncio.to_thread(
            parse_feed, response.body, response.final_url, response.headers
        )
    except FetchError as exc:
        return replace(base, error=str(exc))
    except Exception as exc:  # one source's surprise must not end the check of the others
        return replace(base, error=unexpected_error(exc))
    return replace(
        base,
        status="ok",
        unchanged=len(feed.entries),
        warning=feed.warning or None,
        moved_to=response.moved_to,
    )
