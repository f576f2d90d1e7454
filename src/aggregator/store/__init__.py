"""The library's record: SQLite, one file, WAL. The index is derived from it, never the reverse."""

from __future__ import annotations

from pathlib import Path

from aggregator.store.entries import EntryRows, PendingArticle, UpsertCounts
from aggregator.store.queue import QueueRows
from aggregator.store.sources import Failure, SourceRows


class Store(SourceRows, EntryRows, QueueRows):
    """All row-level access to the library file, grouped by noun in the mixins."""

    @classmethod
    def open(cls, path: Path) -> Store:
        return cls(path)


__all__ = ["Failure", "PendingArticle", "Store", "UpsertCounts"]
