"""Plain frozen values passed between the pipeline, the library and its front ends."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

SourceType = Literal["rss", "atom", "json", "html"]
FullTextStatus = Literal["feed", "pending", "full", "partial"]
"""Where an entry's content came from: the feed (whole), the feed's teaser while the article
waits to be fetched, the extracted article, or the feed's content kept because extraction
failed or came back much shorter (never shown as whole)."""


FIRST_WORDS = 120
"""Characters of an untitled entry's text that stand in for its title in lists and results."""


FOLDER_SLASH = "\u2215"
"""DIVISION SLASH: stands for a `/` inside one folder's name, in a topic path and in the
`category` attribute, where `/` separates levels (a folder's own text keeps its `/`)."""

UNFILED = "Unfiled"
"""The name of the topic of sources filed in none (`Place("topic", "")` in the UI, `fetch
--category Unfiled`): not a folder of the list; a folder of that name is a topic of its own."""


def topic_names(path: str) -> list[str]:
    """The names a topic path answers to (`News/World`: `News`, `News/World`, `World`): the
    path of each of its levels, and each level's own name. The search index files an entry
    under these, and a topic named in a search is checked against them: one rule for both."""
    parts = [p for p in path.split("/") if p]
    paths = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return list(dict.fromkeys([*paths, *parts[1:]]))


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 entry`, `2 entries`: for the command line and the terminal UI alike."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def told_apart(names: dict[str, str]) -> dict[str, str]:
    """Names (by source URL) that two sources share, each with where it is: its host, or
    as much more of its address as tells them apart (two "Daily Brief" feeds). Never a
    password from the address."""
    out = dict(names)
    for name, times in Counter(names.values()).items():
        if times < 2:
            continue
        urls = [url for url, n in names.items() if n == name]
        for depth in range(len(_PLACES)):
            places = {url: _PLACES[depth](urlsplit(url)) or url for url in urls}
            if len(set(places.values())) == len(urls):
                break
        for url in urls:
            out[url] = f"{name} ({places[url]})"
    return out


_PLACES = (
    lambda u: u.hostname or "",
    lambda u: (u.hostname or "") + u.path.rstrip("/"),
    lambda u: (u.hostname or "") + u.path + (f"?{u.query}" if u.query else ""),
    lambda u: (
        f"{u.scheme}://{u.hostname or ''}{f':{u.port}' if u.port else ''}{u.path}"
        + (f"?{u.query}" if u.query else "")
    ),
)
"""Ever more of an address: host; and path; and query; scheme, port and all."""


@dataclass(frozen=True, slots=True)
class Source:
    """One outline of the user's OPML: what to fetch and where it is filed."""

    url: str
    title: str = ""
    category: str = ""
    """Folder path in the OPML, `/`-separated (`Medicine/Oncology`); empty when unfiled."""
    type: str = "rss"
    html_url: str = ""
    full_text: bool = False
    selector: str = ""
    """CSS selector for article links, for `type="html"` pages that have no feed."""
    tags: tuple[str, ...] = ()
    """Other category paths it is filed under (OPML `category` attribute, merged duplicates)."""
    extra: tuple[tuple[str, str], ...] = ()
    """Outline attributes this program does not use, kept so a round trip loses nothing."""

    @property
    def is_page(self) -> bool:
        """A page followed without a feed: the links its `selector` matches are the articles."""
        return self.type == "html" and bool(self.selector)

    @property
    def display_title(self) -> str:
        return self.title or self.url

    def named(self, feed_title: str) -> str:
        """Its name as shown: the list's title, else what the feed calls itself, else its
        address."""
        return self.title or feed_title or self.url


@dataclass(frozen=True, slots=True)
class SkippedOutline:
    """An outline that could not become a source, and why (shown to the user, never silent)."""

    url: str
    title: str
    reason: str
    folder: str = ""
    """Where it sits in the list (`/`-separated), so a rewrite of the list puts it back."""
    attributes: tuple[tuple[str, str], ...] = ()
    """The outline's attributes as read: a rewrite of the user's own list keeps them all."""


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    title: str
    sources: tuple[Source, ...]
    skipped: tuple[SkippedOutline, ...] = ()
    merged: int = 0
    """Outlines dropped because an earlier one had the same feed URL."""
    folders: tuple[str, ...] = ()
    """Every folder of the list as a topic path, those with no source in them included: a
    topic the user made and has not filled yet is still a topic."""


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the fetcher remembers about a source between runs."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    failures: int = 0
    next_attempt: datetime | None = None
    moved_to: str | None = None
    """Where a permanent redirect (301/308) pointed, so the user can be told the new URL."""
    gone: bool = False
    feed_title: str = ""
    """What the feed calls itself: shown when the OPML outline has no title."""
    site_url: str = ""


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """A source as listed to the user: its outline, its health and its counts."""

    source: Source
    state: SourceState
    entries: int = 0
    unread: int = 0
    listed: bool = True
    """False for a source the library holds that the list no longer has (kept for its
    starred entries, or taken out of the file by hand)."""

    @property
    def display_title(self) -> str:
        return self.source.named(self.state.feed_title)


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: tuple[Source, ...]
    already_present: int
    skipped: tuple[SkippedOutline, ...]
    merged: int


@dataclass(frozen=True, slots=True)
class Stats:
    sources: int
    entries: int
    unread: int
    starred: int
    indexed: int
    pending_index: int


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file an entry carries: a podcast's episode, a video, a PDF (RSS `<enclosure>`,
    Atom's `rel="enclosure"` links, Media RSS audio and video, JSON Feed attachments)."""

    url: str
    type: str = ""
    """Its media type as the feed gave it ("audio/mpeg"); "" when it gave none."""
    length: int = 0
    """Bytes, as the feed gave them; 0 when unknown (feeds often say 0 or nothing)."""
    duration: int = 0
    """Seconds; 0 when unknown."""
    title: str = ""

    def describe(self) -> str:
        """What a reader shows beside the link: `audio/mpeg · 34.2 MB · 1:02:03`."""
        parts = [self.type or "file"]
        if self.length > 0:
            parts.append(_size(self.length))
        if self.duration > 0:
            minutes, seconds = divmod(self.duration, 60)
            hours, minutes = divmod(minutes, 60)
            parts.append(
                f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"
            )
        return " · ".join(parts)

    @property
    def name(self) -> str:
        """Its title, else the file name its address ends in."""
        if self.title:
            return self.title
        path = urlsplit(self.url).path.rstrip("/")
        return path.rsplit("/", 1)[-1] or self.url


def _size(length: int) -> str:
    if length < 1000:
        return f"{length} bytes"
    value, unit = length / 1000, "kB"
    for larger in ("MB", "GB"):
        if value < 999.95:  # (what would print as 1000.0 is the next unit's 1.0)
            break
        value, unit = value / 1000, larger
    return f"{value:.1f} {unit}"


@dataclass(frozen=True, slots=True)
class EntryDraft:
    """An entry as a parser or scraper produced it, before the store gives it an id.

    `fingerprint` is what the source said (title, links, dates, content) hashed: an entry seen
    again with the same fingerprint is left alone, so an article whose full text was fetched
    later is not overwritten by the teaser the feed keeps sending.
    """

    guid: str
    url: str = ""
    canonical_url: str = ""
    title: str = ""
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    summary: str = ""
    """Plain text, short: what a list shows under the title."""
    html: str = ""
    """The content as the source sent it. Untrusted: never rendered without conversion."""
    text: str = ""
    """Plain text of the content, for the index and snippets."""
    full_text: FullTextStatus = "feed"
    fingerprint: str = ""
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored item: a feed entry or an article scraped from a page."""

    id: str
    source_url: str
    guid: str
    url: str = ""
    canonical_url: str = ""
    title: str = ""
    author: str = ""
    published: datetime | None = None
    updated: datetime | None = None
    seen: datetime | None = None
    """When this library first stored it: the date shown, marked as such, when the source
    gives none (and the one it is ordered and searched by)."""
    summary: str = ""
    html: str = ""
    markdown: str = ""
    """Made from `html` the first time the entry is read, then kept."""
    text: str = ""
    full_text: FullTextStatus = "feed"
    read: bool = False
    starred: bool = False
    source_title: str = ""
    category: str = ""
    tags: tuple[str, ...] = field(default=())
    enclosures: tuple[Enclosure, ...] = ()
    post_html: str = ""
    """The feed's own post, when the page it links to was fetched in its place: shown above
    the article unless it is only a teaser of it."""
    post_said: bool = False
    """Whether the store keeps words of the post's own to search: judged beside the page
    when it was fetched (the page's credits and bylines count, which the article leaves
    out), or, for a post edited since, all its words until its page is fetched again."""
    article_url: str = ""
    """Where the article in place of the feed's post came from (after redirects)."""

    @property
    def partial(self) -> bool:
        return self.full_text == "partial"

    @property
    def earlier_article(self) -> bool:
        """Whether a partial or pending entry shows an article fetched before (its post
        changed since, and its page failed or waits to be fetched again), not the feed's."""
        return bool(self.article_url)


FetchStatus = Literal["ok", "not_modified", "failed"]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What one source's fetch came to. A failure is a value here, never an exception."""

    url: str
    title: str
    category: str
    status: FetchStatus
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error: str | None = None
    warning: str | None = None
    moved_to: str | None = None
    articles: int = 0
    """Full articles fetched and extracted for this source's teasers."""
    articles_failed: int = 0


@dataclass(frozen=True, slots=True)
class SkippedSource:
    url: str
    title: str
    reason: str


@dataclass(frozen=True, slots=True)
class FetchReport:
    results: tuple[UpdateResult, ...]
    skipped: tuple[SkippedSource, ...] = ()
    offline: bool = False
    """Every source failed to connect: nothing was marked broken."""
    interrupted: bool = False
    took_s: float = 0.0
    index_error: str = ""
    """Why what was stored is not searchable yet (another process writing the index, a
    disk problem): it stays queued, and the next fetch or search indexes it."""

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.results)


@dataclass(frozen=True, slots=True)
class FetchProgress:
    """Sent after each source finishes; a newer one replaces an older one on screen."""

    done: int
    total: int
    new: int
    failed: int
    last: UpdateResult | None = None


@dataclass(frozen=True, slots=True)
class OfferedFeed:
    """A feed a page declares besides the one added; it answered with a feed when asked."""

    url: str
    title: str
    kind: str


@dataclass(frozen=True, slots=True)
class AddedSource:
    source: Source
    offered: tuple[OfferedFeed, ...] = ()
    """Other feeds the page offered, when the URL was a page and one of its feeds was chosen."""
    warning: str = ""


@dataclass(frozen=True, slots=True)
class RemovedSource:
    source: Source
    removed: int
    """Entries deleted."""
    kept_starred: int = 0
    """Starred entries kept: they stay until the source is removed again."""
    listed: bool = True
    """False when the list no longer had the source (only the library did)."""


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """What the search index holds of an entry; built from the store, never the reverse."""

    id: str
    title: str
    text: str
    author: str
    source: str
    source_url: str
    category: str
    url: str
    published: datetime | None
    canonical_url: str


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    title: str
    url: str
    source: str
    source_url: str
    category: str
    published: datetime | None
    score: float | None
    """BM25F relevance; None when sorted by date."""
    snippet: str
    highlights: tuple[tuple[int, int], ...] = ()
    """Where the query's words are in `snippet`, as (start, end) offsets."""
    also_in: tuple[str, ...] = ()
    """Other sources that carry the same story (same canonical URL)."""
    also_ids: tuple[str, ...] = ()
    """Those sources' copies of it: shown as one hit, they are read as one."""
    first_words: str = ""
    """The start of its text, when the source gave it no title: shown in the title's place."""
    read: bool = False
    starred: bool = False
    seen: datetime | None = None
    """When the library first stored the entry (see `Entry.seen`)."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    total: int
    took_ms: float
    hits: tuple[Hit, ...]
    facets: dict[str, dict[str, int]]
    suggestion: str = ""
    interpretation: str = ""
    """How the query was read, when that differs from how it was written."""
    pending: int = 0
    """Entries stored but not yet in the index (so not found by this search)."""
    source_titles: dict[str, str] = field(default_factory=dict)
    exact: bool = True
    """False when there were too many matches to count: `total` is an estimate and the facets
    count the best-ranked hits only."""
    sort: str = "relevance"
    """The order of the hits: the one asked for, or newest when the query has nothing to rank
    by (only dates, exclusions, or nothing)."""


@dataclass(frozen=True, slots=True)
class EntryRow:
    """An entry as a list shows it: light enough to hold a hundred thousand of them."""

    id: str
    title: str
    source: str
    category: str
    published: datetime | None
    read: bool
    starred: bool
    partial: bool = False
    source_url: str = ""
    """The source's address (one string object per source), for the sidebar's counts."""
    undated: bool = False
    """The source gave no date: `published` is when the library first stored it."""
    untitled: bool = False
    """The source gave no title: `title` is the first words of the entry's text."""


@dataclass(frozen=True, slots=True)
class View:
    """What the entry list shows: everything, a topic, a source, or a set of ids."""

    category: str | None = None
    source_url: str | None = None
    unread_only: bool = False
    starred_only: bool = False
    tagged: tuple[str, ...] = ()
    """Sources filed under `category` by a tag (another folder of the list, the OPML
    `category` attribute) rather than by their folder: their entries are in the topic too.
    The library fills it in from the list."""
    unfiled: bool = False
    """Only the entries of sources filed under no topic."""
