"""Source addresses: what URL a source may have, and how the program writes it."""

from __future__ import annotations

import contextlib
import re
import string
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from aggregator.errors import InvalidSourceError
from aggregator.sanitize import one_line


def normalize_source_url(url: str) -> str:
    """Return the URL as the program will fetch it, or raise if it cannot be a source.

    Only http and https: a shared OPML must never make the program read local files or run
    commands (newsboat's `|command` and `exec:` URLs are refused here too). The old `feed:`
    pseudo-scheme is unwrapped because some exporters still write it.
    """
    try:
        url.encode("utf-8")
    except UnicodeEncodeError:  # an argument that was not UTF-8 (before one_line drops it)
        raise InvalidSourceError(f"not a valid URL: {url!r} (not UTF-8 text)", url=url) from None
    raw = one_line(url)
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


def site_address(value: str) -> str:
    """A site's address, which the reader opens in a browser: http(s) only, never the
    `javascript:` or `file:` a shared list might hold."""
    value = one_line(value)
    try:
        scheme = urlsplit(value).scheme.lower()
    except ValueError:
        return ""
    return value if scheme in ("http", "https") else ""


def source_key(url: str) -> str:
    """What tells two source addresses (as `normalize_source_url` writes them) apart.

    Not what no server sees differently: a `#fragment` (never sent), `.` and `..` segments
    (resolved before a request), the scheme's default port, an unreserved character written
    as `%7E`, the case of a percent-encoding's hex digits, or a host in Unicode rather than
    punycode. `http://h:80/feeds/./%7e1.xml#top` is `http://h/feeds/~1.xml`, fetched once.
    """
    parts = urlsplit(url)
    # A dot segment follows a slash (the path always starts with one here); a dot elsewhere
    # (`feed.xml`) leaves the path as it is.
    path = urlsplit(urljoin(url, parts.path)).path if "/." in parts.path else parts.path
    return urlunsplit(
        (parts.scheme, _netloc_key(parts), _percent_key(path), _percent_key(parts.query), "")
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT_ENCODED = re.compile("%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def _netloc_key(parts: SplitResult) -> str:
    user, at, _ = parts.netloc.rpartition("@")
    host = parts.hostname or ""
    with contextlib.suppress(UnicodeError):  # a label IDNA cannot encode: left as written
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address, bracketed again
    try:
        port = parts.port
    except ValueError:
        port = None
    shown_port = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(parts.scheme) else ""
    return f"{user}{at}{host}{shown_port}"


def _percent_key(text: str) -> str:
    if "%" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        char = chr(int(match[0][1:], 16))
        return char if char in _UNRESERVED else match[0].upper()

    return _PERCENT_ENCODED.sub(one, text)
