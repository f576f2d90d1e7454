"""Messages the workers post back to the UI thread. Progress messages replace each other."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from aggregator.models import EntryRow, FetchProgress, FetchReport, SearchResult, SourceInfo, View


@dataclass
class LibraryLoaded(Message):
    """Sources (with counts and health) and the rows of the current view."""

    sources: list[SourceInfo]
    rows: list[EntryRow]
    total: int
    unread: int
    starred: int = 0
    view: View | None = None
    """The view the rows are of."""
    topics: tuple[str, ...] = ()
    """Every topic of the list, one with no source yet too."""


@dataclass
class SearchFinished(Message):
    result: SearchResult
    generation: int
    """Which keystroke's search this is: an older one arriving late is dropped."""


@dataclass
class RefreshProgress(Message):
    progress: FetchProgress


@dataclass
class IndexProgress(Message):
    done: int
    total: int


@dataclass
class IndexCaughtUp(Message):
    """The start-up indexing of entries left unsearchable (by a crash, an interrupted
    refresh, a new index format) is over: `applied` of them were indexed."""

    applied: int


@dataclass
class RefreshFinished(Message):
    report: FetchReport
    label: str
    """What was refreshed: "all sources", a topic, a source's name."""


@dataclass
class WorkerFailed(Message):
    """One place shows every worker's error: a line in the UI, never a traceback."""

    what: str
    error: str
