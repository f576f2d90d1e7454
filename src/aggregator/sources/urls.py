"""Source addresses: what URL a source may have, and how the program writes it."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

from aggregator.errors import InvalidSourceError
from aggregator.sanitize import one_line


def normalize_source_url(url: str) -> str:
    """Return the URL as the program will fetch it, or raise if it cannot be a source.

    Only http and https: a shared OPML must never make the program read local files or run
    commands (newsboat's `|command` and `exec:` URLs are refused here too). The old `feed:`
    pseudo-scheme is unwrapped because some exporters still write it.
    """
    raw = one_line(url)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:  # an argument that was not UTF-8 text
        raise InvalidSourceError(f"not a valid URL: {raw!r} (not UTF-8 text)", url=raw) from None
    lowered = raw.lower()
    if lowered.startswith("feed://"):
        raw = "http://" + raw[7:]
    elif lowered.startswith("feed:"):
        raw = raw[5:]
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidSourceError(f"not a valid URL: {raw!r} ({exc})", url=raw) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"'{scheme}:'" if scheme else "no scheme"
        raise InvalidSourceError(
            f"only http and https URLs can be sources ({shown} in {raw!r})", url=raw
        )
    if not parts.hostname:
        raise InvalidSourceError(f"URL has no host: {raw!r}", url=raw)
    try:
        _ = parts.port  # raises when out of range
    except ValueError as exc:
        reason = str(exc).lower()
        raise InvalidSourceError(f"not a valid URL: {raw!r} ({reason})", url=raw) from None
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].lower()
    netloc_out = (netloc[0] + "@" + host) if len(netloc) == 2 else host
    return urlunsplit((scheme, netloc_out, parts.path or "/", parts.query, parts.fragment))


def source_key(url: str) -> str:
    """What tells two source addresses (as `normalize_source_url` writes them) apart: not a
    `#fragment`, which is never sent, nor `.` and `..` path segments, which are resolved
    before a request: `http://h/feeds/./1.xml#top` is `http://h/feeds/1.xml`, fetched once."""
    parts = urlsplit(url)
    # A dot segment follows a slash (the path always starts with one here); a dot elsewhere
    # (`feed.xml`) leaves the path as it is.
    path = urlsplit(urljoin(url, parts.path)).path if "/." in parts.path else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
