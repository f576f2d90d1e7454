"""Feed bytes → entries. RSS, Atom and RDF through feedparser; JSON Feed read here.

Content HTML is kept as the feed sent it (with a `<base>` for its relative links) and is never
rendered as is: plain text for the index is made by `extract`, Markdown for reading is made
when an article is first opened. That keeps feedparser's slow sanitiser out of the fetch path.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from xml.sax import SAXException, expatreader

import feedparser
import feedparser.api

from aggregator.errors import FeedError
from aggregator.models import Enclosure, EntryDraft
from aggregator.sanitize import one_line, strip_controls

SUMMARY_CHARS = 600
ENCLOSURES_MOST = 20
"""Files kept per entry: a feed may list hundreds; no reader shows them all."""
_TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_hsenc|_hsmi)$"
)
_TAG = re.compile(r"<[^>]*>")
_PLAIN_URL = re.compile(r"https?://[a-z0-9.-]+(:[0-9]+)?(/[^?#]*)?\Z")


class _BufferedExpat(expatreader.ExpatParser):
    """Expat that hands over a text node in one piece instead of a piece per line.

    Same events, far fewer of them: feedparser runs Python for each piece of text, and the
    content of a feed with escaped HTML arrives as a hundred pieces an item (an eighth of
    its parse time here).
    """

    def reset(self) -> None:
        super().reset()
        self._parser.buffer_text = True
        self._parser.buffer_size = 1 << 16


def create_parser() -> expatreader.ExpatParser:
    """The SAX driver protocol: feedparser asks this module for its parser (see below)."""
    return _BufferedExpat()


# feedparser builds its parser with `xml.sax.make_parser(PREFERRED_XML_PARSERS)`, which
# imports each named module and calls its `create_parser`.
feedparser.api.PREFERRED_XML_PARSERS = [__name__]


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    site_url: str
    entries: list[EntryDraft] = field(default_factory=list)
    format: str = ""
    warning: str = ""
    """Set when the document was ill-formed but entries could still be read from it."""
    broken: bool = False
    """Not well-formed XML (a body cut off in transit looks like this): its last entries may
    be half read, so it may add entries but must not change stored ones."""


def parse_feed(body: bytes, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched document; raise `FeedError` with one line when it is not a feed."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    content_type = headers.get("content-type", "")
    if not body.strip():  # feedparser answers an empty body with a result missing its fields
        raise FeedError("not a feed: the response was empty", url=url)
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    # What the body is decides, not its label: RSS served as application/json is still RSS.
    if head.startswith(b"{") or ("json" in content_type.lower() and not head.startswith(b"<")):
        return parse_json_feed(body, url)
    # No content-location: feedparser would then resolve every URI it meets (a fifth of its
    # time); only entry links matter here, and `_http_url` resolves those against the feed.
    parsed = feedparser.parse(
        body,
        # An empty Content-Type would make feedparser call every document ill-formed.
        response_headers={"content-type": content_type} if content_type else {},
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if not parsed.version and not parsed.entries:
        raise FeedError(_not_a_feed(body, content_type.lower(), parsed), url=url)
    feed = parsed.feed
    site = _http_url(feed.get("link", ""), url)
    # An entry without its own author has the feed's (Atom says so; RSS readers do the same).
    feed_author = one_line(feed.get("author") or "")
    entries = _told_apart([_feedparser_entry(e, url, site, feed_author) for e in parsed.entries])
    warning = ""
    if parsed.bozo:
        warning = one_line(
            f"ill-formed feed, read what could be: {parsed.get('bozo_exception', '')}"
        )
    # feedparser's other bozo reasons (a charset that was not the declared one, an odd
    # Content-Type) leave the document whole; a SAX error means the XML itself broke off.
    broken = isinstance(parsed.get("bozo_exception"), SAXException)
    if broken and entries and _cut_off(body):
        entries.pop()  # read up to where the document stops: its last entry is half there
    return ParsedFeed(
        title=_plain(feed.get("title", ""), feed.get("title_detail")),
        site_url=site,
        entries=entries,
        format=parsed.version or "unknown",
        warning=warning[:300],
        broken=broken,
    )


def _cut_off(body: bytes) -> bool:
    """Whether a document stops inside its last entry (a server that died mid-output): no
    end of the feed after that entry's start. Its half-read entry took its link for its id
    and was stored as a second copy of an entry, with nothing in it. (Text after the end, a
    PHP warning or a cache's comment, leaves the document whole.)"""
    # What a CDATA section holds is text (an article on RSS may quote "</item>"): left out,
    # and a section never closed means the document stops inside it.
    lower = _CDATA.sub(b"", body.lower())
    if b"<![cdata[" in lower:
        return True
    last = max(lower.rfind(b"<item"), lower.rfind(b"<entry"))
    tail = lower[last:] if last >= 0 else lower[-256:]
    return not any(end in tail for end in _FEED_ENDS)


_CDATA = re.compile(rb"<!\[cdata\[.*?\]\]>", re.DOTALL)
_FEED_ENDS = (b"</item", b"</entry", b"</rss", b"</feed", b":feed>", b"</rdf:rdf", b"</channel")


def _not_a_feed(body: bytes, content_type: str, parsed: Any) -> str:
    head = body[:2048].lower()
    if b"<html" in head or b"<!doctype html" in head or "html" in content_type:
        return "not a feed: the URL returned an HTML page (aggregator sources add finds its feed)"
    if not body.strip():
        return "not a feed: the response was empty"
    reason = one_line(str(parsed.get("bozo_exception", "") or "unrecognised format"))
    return f"not a feed: {reason[:200]}"


def _feedparser_entry(e: Any, feed_url: str, site: str, feed_author: str = "") -> EntryDraft:
    # Plain dict lookups: FeedParserDict.get maps keys in Python on every call (a tenth of
    # the parse here), and answers a missing "updated" with the published date and a warning.
    get = dict.get
    link = _http_url(get(e, "link") or "", feed_url)
    title = _plain(get(e, "title") or "", get(e, "title_detail"))
    published = _when(get(e, "published_parsed")) or _when(get(e, "created_parsed"))
    updated = _when(get(e, "updated_parsed"))
    summary_html = get(e, "summary") or ""
    body, base = _best_content(e, summary_html, _content_base(link, site, feed_url))
    story = _story_address(link, feed_url, site)
    guid = one_line(get(e, "id") or "") or story or _hash_guid(title, published or updated)
    author = one_line(get(e, "author") or "") or feed_author
    files = _feedparser_enclosures(e, link or site or feed_url)
    return _draft(
        guid, link, title, author, published or updated, updated, summary_html, body, base, files,
        story=story,
    )  # fmt: skip


def _feedparser_enclosures(e: Any, base: str) -> tuple[Enclosure, ...]:
    """RSS enclosures and Atom's enclosure links, then Media RSS
    audio and video it does not list there; the episode's `itunes:duration` goes to the
    first audio or video file that has no duration of its own."""
    get = dict.get
    found: dict[str, Enclosure] = {}
    for item in get(e, "links") or []:  # (feedparser's `enclosures` is made from these)
        if get(item, "rel") == "enclosure":
            _add_enclosure(found, base, get(item, "href"), get(item, "type"), get(item, "length"))
    for item in get(e, "media_content") or []:
        kind = one_line(str(get(item, "type") or "")).lower()
        medium = str(get(item, "medium") or "").lower()
        if medium in ("audio", "video") or kind.startswith(("audio/", "video/")):
            _add_enclosure(
                found,
                base,
                get(item, "url"),
                kind,
                get(item, "filesize") or get(item, "length"),
                get(item, "duration"),
            )
    duration = _seconds(get(e, "itunes_duration"))
    # (An enclosure with no type is taken when none has one: feeds often leave it out.)
    media = next((f for f in found.values() if f.type.startswith(("audio/", "video/"))), None)
    media = media or next((f for f in found.values() if not f.type), None)
    if duration and media is not None and not media.duration:
        found[media.url] = replace(media, duration=duration)
    return tuple(found.values())


def _add_enclosure(
    found: dict[str, Enclosure],
    base: str,
    url: object,
    kind: object,
    length: object,
    duration: object = None,
    title: object = "",
) -> None:
    address = _http_url(str(url or ""), base)  # a file: or data: enclosure is never kept
    if not address or address in found or len(found) >= ENCLOSURES_MOST:
        return
    found[address] = Enclosure(
        url=address,
        type=one_line(str(kind or "")).lower()[:100],
        length=_count(length),
        duration=_seconds(duration),
        title=one_line(str(title or ""))[:300],
    )


def _count(value: object) -> int:
    """A whole number of bytes or seconds as a feed writes it ("54919661", 12000000.0), else
    0: a feed's "", "unknown" or -1 says nothing."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(str(value or "").strip())
        except ValueError:
            return 0
    return int(number) if 0 < number < 2**53 else 0


def _seconds(value: object) -> int:
    """A duration: seconds, or `H:MM:SS` / `MM:SS` as iTunes writes it."""
    text = str(value or "").strip()
    if ":" not in text:
        return _count(value)
    parts = text.split(":")
    # ASCII digits only: "²" is a digit to `isdigit` but not to `int`.
    if len(parts) > 3 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        return 0
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total if total < 2**31 else 0


def _content_base(link: str, site: str, feed_url: str) -> str:
    """What an item's relative links are read against, when its feed says nothing: its own
    link, on the feed's site (a page written beside its images); else the feed's site. A
    link blog's item links to someone else's page, and its "/notes/radar" is the blog's."""
    home = site or feed_url
    if not link or _site_of(link) == _site_of(home):
        return link or home
    return home


def _site_of(url: str) -> str:
    """A URL's host without "www." (a feed's site link and its items' often differ so)."""
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def _best_content(e: Any, summary_html: str, fallback_base: str) -> tuple[str, str]:
    best, base = "", fallback_base
    for content in dict.get(e, "content") or []:
        value = dict.get(content, "value") or ""
        if len(value) > len(best):
            best = value
            if dict.get(content, "type") == "text/plain":
                best = "<pre>" + html.escape(value) + "</pre>"
            base = dict.get(content, "base") or fallback_base
    if not best:
        best = summary_html
        detail = dict.get(e, "summary_detail") or {}
        if dict.get(detail, "type") == "text/plain":
            best = "<p>" + html.escape(best) + "</p>"
        base = dict.get(detail, "base") or fallback_base
    return best, base


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)."""
    try:
        document = json.loads(body.decode("utf-8-sig", errors="replace"))
    except ValueError as exc:
        raise FeedError(f"not a feed: invalid JSON ({exc})", url=url) from None
    except RecursionError:  # arrays or objects nested thousands deep
        raise FeedError("not a feed: JSON nested too deeply to read", url=url) from None
    version = str(document.get("version", "")) if isinstance(document, dict) else ""
    if "jsonfeed.org/version/" not in version:
        raise FeedError("not a feed: JSON without a JSON Feed version", url=url)
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedError("not a feed: JSON Feed without an items list", url=url)
    base = _http_url(str(document.get("feed_url") or ""), url) or url
    site = _http_url(str(document.get("home_page_url") or ""), url)
    feed_authors = _json_authors(document)
    entries = _told_apart(
        [_json_entry(item, base, site, feed_authors) for item in items if isinstance(item, dict)]
    )
    return ParsedFeed(
        title=_json_text(document.get("title")),
        site_url=site,
        entries=entries,
        format="json" + version.rsplit("/", 1)[-1].replace(".", ""),
    )


def _json_entry(item: dict[str, Any], base: str, site: str, feed_authors: str) -> EntryDraft:
    link = _http_url(str(item.get("url") or item.get("external_url") or ""), base)
    title = _json_text(item.get("title"))
    published = _iso_date(item.get("date_published"))
    updated = _iso_date(item.get("date_modified"))
    content_html = item.get("content_html")
    content_text = item.get("content_text")
    if isinstance(content_html, str) and content_html:
        body = content_html
    elif isinstance(content_text, str) and content_text:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in content_text.split("\n\n"))
    else:
        body = ""
    summary = str(item.get("summary") or "")
    story = _story_address(link, base, site)
    guid = one_line(str(item.get("id") or "")) or story or _hash_guid(title, published)
    author = _json_authors(item) or feed_authors
    files: dict[str, Enclosure] = {}
    attachments = item.get("attachments")
    for a in attachments if isinstance(attachments, list) else []:
        if isinstance(a, dict):
            _add_enclosure(
                files,
                link or base,
                a.get("url"),
                a.get("mime_type"),
                a.get("size_in_bytes"),
                a.get("duration_in_seconds"),
                a.get("title"),
            )
    return _draft(
        guid,
        link,
        title,
        author,
        published or updated,
        updated,
        summary,
        body,
        link or base,
        tuple(files.values()),
        story=story,
    )


def _told_apart(entries: list[EntryDraft]) -> list[EntryDraft]:
    """Entries of one document that share the link they are known by (an empty `href` and
    an `xml:base`; posts that are `#anchors` of one page) are different posts: each is told
    by its title and date instead, and names no story that another source could share.
    Before, all but the last were overwritten when stored."""
    by_link: dict[str, int] = {}
    for entry in entries:
        if entry.guid == entry.url:
            by_link[entry.url] = by_link.get(entry.url, 0) + 1
    if all(count == 1 for count in by_link.values()):
        return entries
    return [
        replace(e, guid=_hash_guid(e.title, e.published), canonical_url="")
        if e.guid == e.url and by_link[e.url] > 1
        else e
        for e in entries
    ]


def _story_address(link: str, feed_url: str, site: str) -> str:
    """The entry's link when it names a story of its own: not the feed's address nor its
    site's, which an empty `href` resolves to and every entry of such a feed shares. Only
    a story's address may tell entries apart (guid) or make two of them one (canonical)."""
    if link and link.rstrip("/") in (feed_url.rstrip("/"), site.rstrip("/")):
        return ""
    return link


def _json_text(value: object) -> str:
    """A JSON Feed title: plain text by the spec, yet often written with HTML's character
    references (`&#8216;`, `&amp;`), which other readers show decoded: so here."""
    return one_line(html.unescape(str(value or "")))


def _json_authors(obj: dict[str, Any]) -> str:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        single = obj.get("author")  # JSON Feed 1.0
        authors = [single] if isinstance(single, dict) else []
    names = [_json_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return one_line(", ".join(names))


def _draft(
    guid: str,
    link: str,
    title: str,
    author: str,
    published: datetime | None,
    updated: datetime | None,
    summary_html: str,
    body: str,
    base: str,
    enclosures: tuple[Enclosure, ...] = (),
    *,
    story: str,
) -> EntryDraft:
    body = strip_controls(body)
    summary = _summary(summary_html or body)
    stored_html = f'<base href="{html.escape(base, quote=True)}">{body}' if body and base else body
    said = [guid, link, title, author, str(published), str(updated), summary, body]
    # (Files are hashed only when there are some: entries without any keep the fingerprint
    # they were stored with before files were read, and are not rewritten for it.)
    said += [f"{f.url} {f.type} {f.length} {f.duration} {f.title}" for f in enclosures]
    fingerprint = hashlib.blake2b(
        "\x1f".join(said).encode("utf-8", "surrogatepass"), digest_size=12
    ).hexdigest()
    return EntryDraft(
        guid=guid,
        url=link,
        canonical_url=canonical_url(story) if story else "",
        title=title,
        author=author,
        published=published,
        updated=updated,
        summary=summary,
        html=stored_html,
        fingerprint=fingerprint,
        enclosures=enclosures,
    )


def canonical_url(url: str) -> str:
    """The URL two sources would agree on: no tracking parameters, no fragment, lower-case host."""
    plain = _PLAIN_URL.match(url)
    if plain is not None and plain.group(1) not in (":80", ":443"):
        return url if plain.group(2) else url + "/"  # nothing to remove: the common case
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(k.lower())
    ]
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))


def _http_url(value: str, base: str) -> str:
    """An absolute http(s) URL, or '' for anything else (javascript:, data:, file: …)."""
    value = one_line(value or "")
    if not value:
        return ""
    if value.startswith(("https://", "http://")) and " " not in value:
        return value  # already absolute: the common case, without urljoin's cost
    try:
        absolute = urljoin(base, value)
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return ""
    return absolute if scheme in ("http", "https") else ""


def _plain(value: str, detail: Mapping[str, Any] | None) -> str:
    """Titles may arrive as HTML: show their text, never their tags."""
    value = value or ""
    if "html" in (detail or {}).get("type", ""):
        value = html.unescape(_TAG.sub("", value))
    return one_line(value)


def _summary(markup: str) -> str:
    markup = (markup or "")[: SUMMARY_CHARS * 8]  # plenty for 600 characters of text
    cut = markup.rfind("<")
    if cut > markup.rfind(">"):
        markup = markup[:cut]  # no half tag at the end of the slice
    text = html.unescape(_TAG.sub(" ", markup))
    text = " ".join(strip_controls(text).split())
    return text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …" if len(text) > SUMMARY_CHARS else text


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 an hour east of UTC
        return None


def _hash_guid(title: str, when: datetime | None) -> str:
    digest = hashlib.blake2b(f"{title}\x1f{when}".encode(), digest_size=10).hexdigest()
    return f"urn:aggregator:{digest}"
