"""Looking at sources over the network without storing anything: feed discovery for
`sources add`, and `sources check`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import urljoin

from aggregator import fetch, pages
from aggregator.config import FetchSettings
from aggregator.errors import FetchError, InvalidSourceError, NetworkError
from aggregator.fetch import HttpClient, Response
from aggregator.models import OfferedFeed, Source, UpdateResult
from aggregator.parse import ParsedFeed, parse_feed
from aggregator.update import FEED_ACCEPT, unexpected_error

SELECTOR_HINT = (
    'to follow the page itself, add it to feeds.opml as <outline type="html" '
    'xmlUrl="{url}" selector="CSS selector of its article links"/> '
    "or run: aggregator sources add {url} --selector 'main article a'"
)


MAX_ALTERNATIVES = 5
"""How many of the feeds a page declares after the one added are checked (and, when they
answer with a feed, offered)."""
ALTERNATIVES_WAIT_S = 10.0
"""How long the alternatives may still take once the feed to add is known; later ones are
left out, as a feed that could not be confirmed."""


@dataclass(frozen=True, slots=True)
class Discovery:
    url: str
    """The feed to add."""
    title: str
    kind: str
    offered: tuple[OfferedFeed, ...] = ()
    """Other feeds the page declares that answered with a feed, in page order, each once,
    never the one to add. Declared feeds that failed (an HTTP error, not a feed, too slow)
    are left out."""
    warning: str = ""

    @property
    def alternatives(self) -> tuple[str, ...]:
        """The addresses of `offered`."""
        return tuple(a.url for a in self.offered)


@dataclass(frozen=True, slots=True)
class _Answer:
    """A candidate that answered with a feed."""

    asked: str
    final_url: str
    """Where the feed came from, after redirects."""
    feed: OfferedFeed
    """Its address to add (the permanent redirect's target, if any), title and kind."""

    @property
    def keys(self) -> set[tuple[str, int | None, str, str]]:
        return {pages.address_key(u) for u in (self.asked, self.final_url, self.feed.url)}


def discover(settings: FetchSettings, url: str) -> Discovery:
    return fetch.run(_discover(settings, url))


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
        # A page whose declared feeds all fail may still serve one at a usual address.
        found = await _declared_feed(http, declared) if declared else None
        if found is None:
            found = await _common_path_feed(http, response.final_url)
        if found is None and declared:  # the page names its feed: say why it failed
            named = declared[0].url
            reason = await _why_not(http, named)
            raise InvalidSourceError(
                f"{url} names its feed at {named}, which could not be read ({reason}); to "
                f"add it as it is, to be tried at each fetch: aggregator sources add {named} "
                "--no-discover",
                url=url,
            )
        if found is None:
            raise InvalidSourceError(
                f"no feed found at {url}; " + SELECTOR_HINT.format(url=url), url=url
            )
        return found


def check_page(settings: FetchSettings, url: str, selector: str) -> tuple[str, str]:
    """A page to follow by a selector, looked at before it is added: a page that is not
    there, or whose selector finds no links now, would fail every fetch. Unreachable
    (offline), it is added as given: the warning says so. Returns (warning, the page's
    title): a source with no name would be written `text=""`, blank in every reader."""
    return fetch.run(_check_page(settings, url, selector))


async def _check_page(settings: FetchSettings, url: str, selector: str) -> tuple[str, str]:
    async with HttpClient(settings) as http:
        try:
            response = await http.get(url, accept=FEED_ACCEPT)
        except NetworkError as exc:
            return f"could not check it ({exc}); added as given", ""
        except FetchError as exc:
            raise InvalidSourceError(f"{url}: {exc}; not added", url=url) from None
    if not pages.article_links(response.body, response.final_url, selector):
        raise InvalidSourceError(
            f"{url}: {pages.NO_LINKS} ({selector}); not added (--no-discover adds it as it "
            "is, without looking)",
            url=url,
        )
    return "", pages.page_title(response.body)


async def _why_not(http: HttpClient, url: str) -> str:
    """Why a declared feed is not one to add, in a few words."""
    try:
        response = await http.get(url, accept=FEED_ACCEPT)
    except FetchError as exc:  # a host already found unreachable answers at once
        return str(exc)
    return "not a feed" if _as_feed(response) is None else "no answer in time: try again"


async def _declared_feed(http: HttpClient, declared: list[pages.FoundFeed]) -> Discovery | None:
    """The first declared feed that answers with a feed, and those of the next
    `MAX_ALTERNATIVES` that do too.

    Asked together, in page order: the candidate being waited for and the ones after it are
    in flight at once, and the client's global and per-host limits decide how many really
    go out together.
    """
    tasks: list[asyncio.Task[_Answer | None]] = []

    def start_up_to(count: int) -> None:
        while len(tasks) < min(count, len(declared)):
            feed = declared[len(tasks)]
            tasks.append(asyncio.create_task(_answer_either(http, feed)))

    try:
        for i in range(len(declared)):
            start_up_to(i + 1 + MAX_ALTERNATIVES)
            chosen = await tasks[i]
            if chosen is not None:
                others = await _settled(tasks[i + 1 :], ALTERNATIVES_WAIT_S)
                return Discovery(
                    chosen.feed.url, chosen.feed.title, chosen.feed.kind, _offered(chosen, others)
                )
        return None
    finally:
        for task in tasks:
            task.cancel()  # those still running: too slow to be offered, or not needed
        await asyncio.gather(*tasks, return_exceptions=True)


async def _common_path_feed(http: HttpClient, page_url: str) -> Discovery | None:
    """The first of the usual feed addresses that answers with a feed (guesses: no others
    are offered)."""
    for path in pages.COMMON_FEED_PATHS:
        found = await _answer(http, urljoin(page_url, path), "")
        if found is not None:
            return Discovery(found.feed.url, found.feed.title, found.feed.kind)
    return None


async def _answer_either(http: HttpClient, feed: pages.FoundFeed) -> _Answer | None:
    """A declared feed, over https, or over http when the page declares both and https
    fails."""
    found = await _answer(http, feed.url, feed.title)
    if found is None and feed.plain:
        found = await _answer(http, feed.plain, feed.title)
    return found


async def _answer(http: HttpClient, url: str, declared_title: str) -> _Answer | None:
    """The feed at `url`, or None when it fails in any way."""
    try:
        response = await http.get(url, accept=FEED_ACCEPT)
        feed = await asyncio.to_thread(_as_feed, response)
    except Exception:  # a FetchError, or a surprise: either way not a feed to add or offer
        return None
    if feed is None:
        return None
    found = OfferedFeed(response.moved_to or url, feed.title or declared_title, _kind(feed))
    return _Answer(url, response.final_url, found)


async def _settled(tasks: Sequence[asyncio.Task[_Answer | None]], timeout: float) -> list[_Answer]:
    """The answers among `tasks` that came in time, in their order."""
    if tasks:
        await asyncio.wait(tasks, timeout=timeout)
    return [t.result() for t in tasks if t.done() and t.result() is not None]


def _offered(chosen: _Answer, others: Sequence[_Answer]) -> tuple[OfferedFeed, ...]:
    """`others` less the ones that are `chosen` again or repeat an earlier one (as declared,
    as redirected, over http or https)."""
    seen = chosen.keys
    offered: list[OfferedFeed] = []
    for other in others:
        if other.keys & seen:
            continue
        seen |= other.keys
        offered.append(other.feed)
    return tuple(offered)


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
    return fetch.run(_check(settings, sources))


async def _check(settings: FetchSettings, sources: Sequence[Source]) -> list[UpdateResult]:
    async with HttpClient(settings) as http:
        return list(await asyncio.gather(*(_check_one(http, s) for s in sources)))


async def _check_one(http: HttpClient, source: Source) -> UpdateResult:
    """`unchanged` carries how many entries (or article links) the source offers now."""
    base = UpdateResult(source.url, source.display_title, source.category, "failed")
    try:
        response = await http.get(source.url, accept=FEED_ACCEPT)
        if source.is_page:
            links = pages.article_links(response.body, response.final_url, source.selector)
            if not links:
                return replace(base, error=pages.NO_LINKS)
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
