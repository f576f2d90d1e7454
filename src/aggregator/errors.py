"""One error tree, so callers can catch what they can handle and report the rest in one line.

    AggregatorError                      every error the program raises on purpose
    ├── UserError (exit 1)               the input was wrong; also a ValueError
    │   ├── ConfigError                  config.toml or an AGGREGATOR_* variable (names the key)
    │   ├── OpmlError                    a file that is not usable OPML (names the file)
    │   ├── InvalidSourceError           a URL that cannot be a source (names the URL)
    │   ├── SourceNotFoundError          no source with that URL
    │   └── EntryNotFoundError           no entry with that id
    ├── FetchError                       a source could not be fetched: a value in the results
    │   ├── NetworkError                 timeouts, refused connections, broken bodies
    │   ├── HttpStatusError              4xx and 5xx answers (410 Gone marks a source gone)
    │   ├── RedirectError                loops, too many hops, redirects to non-http URLs
    │   ├── TooLargeError                a body over the size cap (after decompression)
    │   └── FeedError                    the body is not a feed the program can read
    └── EnvironmentProblem (exit 2)      the machine, not the input: nothing the user typed is wrong
        ├── DataDirError                 the data or config dir cannot be created or written
        ├── StoreError                   the SQLite file is unreadable or corrupt
        │   └── StoreVersionError        written by a newer aggregator; refused, never touched
        ├── IndexLockedError             another process held the index past the wait
        └── FetchRunningError            another fetch of the same library is running

Each error carries the path, URL, key or id it concerns, and its message is one line.
"""

from __future__ import annotations


class AggregatorError(Exception):
    """Base of every deliberate error; `exit_code` is what the command line exits with."""

    exit_code = 1

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        # Messages are shown as one line: a stray newline from a library message must not
        # split it.
        super().__init__(" ".join(str(message).split()))
        self.subject = subject

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (the parse pool): rebuild them whatever their
        # constructor's keyword arguments.
        return (_rebuild, (type(self), str(self), self.__dict__))


def _rebuild(cls: type[AggregatorError], message: str, state: dict[str, object]) -> AggregatorError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class UserError(AggregatorError, ValueError):
    """Bad input from the user: a file, a URL, a query, an id."""

    exit_code = 1


class ConfigError(UserError):
    """A setting in config.toml or the environment is unknown or has a bad value."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message, subject=key)
        self.key = key


class OpmlError(UserError):
    """A file that is not OPML, or OPML with nothing usable in it."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message, subject=path)
        self.path = path


class InvalidSourceError(UserError):
    """A URL that cannot be a source (not http or https, no host)."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message, subject=url)
        self.url = url


class SourceNotFoundError(UserError):
    def __init__(self, url: str) -> None:
        super().__init__(f"no source with URL {url}", subject=url)
        self.url = url


class EntryNotFoundError(UserError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(f"no entry with id {entry_id}", subject=entry_id)
        self.entry_id = entry_id


class FetchError(AggregatorError):
    """A source or page could not be fetched or read; recorded on the source, never fatal."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message, subject=url)
        self.url = url


class NetworkError(FetchError):
    def __init__(
        self, message: str, *, url: str, connection: bool = False, timeout: bool = False
    ) -> None:
        super().__init__(message, url=url)
        self.connection = connection
        """No connection could be made at all: with every source like this, the run is offline."""
        self.timeout = timeout


class HttpStatusError(FetchError):
    def __init__(self, status: int, *, url: str, retry_after: float | None = None) -> None:
        phrase = _HTTP_PHRASES.get(status, "")
        super().__init__(f"HTTP {status}{' ' + phrase if phrase else ''}", url=url)
        self.status = status
        self.retry_after = retry_after


class RedirectError(FetchError):
    pass


class TooLargeError(FetchError):
    pass


class FeedError(FetchError):
    pass


_HTTP_PHRASES = {
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    300: "Multiple Choices",
    305: "Use Proxy",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    410: "Gone",
    429: "Too Many Requests",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class EnvironmentProblem(AggregatorError):
    """The machine is in the way (permissions, a corrupt file, a lock); exit code 2."""

    exit_code = 2


class _AtPath(EnvironmentProblem):
    """A problem with a file or directory, which it names."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message, subject=path)
        self.path = path


class DataDirError(_AtPath):
    """The data or config dir cannot be created or written."""


class StoreError(_AtPath):
    """The SQLite file is unreadable or corrupt."""


class StoreVersionError(StoreError):
    """The database was written by a newer version; it is refused and left untouched."""


class IndexLockedError(_AtPath):
    """Another process held the index past the wait."""


class FetchRunningError(_AtPath):
    """Another fetch of the same library is running."""
