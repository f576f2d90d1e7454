"""The Whoosh index: derived from the store, rebuilt from it at will, written by one process.

`analysis` says what words become, `segments` writes them fast in `codec`'s postings blocks,
`directory` keeps the index in step (versions, locking, batches); `reading`, `ranking`,
`words` and `phrases` answer queries over whole postings lists for `search` (`topk` picks a
page out of many matches; `helper` ranks half of each search in a second process); `storage`
reads segments in place; `version` says which index a directory holds without loading any of
that.
"""

from typing import TYPE_CHECKING, Any

from aggregator.index.version import INDEX_NAME, SCHEMA_VERSION

NO_TOPIC = "-"
"""What the index files an entry of a source in no folder under (its topic and category),
so that a search can ask for them: an empty field would hold no term to find."""

if TYPE_CHECKING:
    from aggregator.index.analysis import (
        FoldStemTokenizer,
        category_keywords,
        fold,
        make_schema,
        words_at,
    )
    from aggregator.index.directory import Index, Stored, _fields, default_workers

_LAZY = {
    "FoldStemTokenizer": "analysis",
    "category_keywords": "analysis",
    "fold": "analysis",
    "make_schema": "analysis",
    "words_at": "analysis",
    "Index": "directory",
    "Stored": "directory",
    "_fields": "directory",
    "default_workers": "directory",
}
"""Loaded on first use: `version` alone (a fetch that stored nothing) needs no Whoosh."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aggregator.index' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"aggregator.index.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "INDEX_NAME",
    "NO_TOPIC",
    "SCHEMA_VERSION",
    "FoldStemTokenizer",
    "Index",
    "Stored",
    "_fields",
    "category_keywords",
    "default_workers",
    "fold",
    "make_schema",
    "words_at",
]
