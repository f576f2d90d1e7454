"""The Whoosh index: derived from the store, rebuilt from it at will, written by one process.

`analysis` says what words become, `segments` writes them fast in `codec`'s postings blocks,
`directory` keeps the index in step (versions, locking, batches); `reading`, `ranking`,
`words` and `phrases` answer queries over whole postings lists for `search` (`topk` picks a
page out of many matches); `storage` reads segments in place.
"""

from aggregator.index.analysis import (
    SCHEMA_VERSION,
    FoldStemTokenizer,
    category_keywords,
    fold,
    make_schema,
)
from aggregator.index.directory import INDEX_NAME, Index, Stored, _fields, default_workers
from aggregator.index.storage import read_in_place

read_in_place()

__all__ = [
    "INDEX_NAME",
    "SCHEMA_VERSION",
    "FoldStemTokenizer",
    "Index",
    "Stored",
    "_fields",
    "category_keywords",
    "default_workers",
    "fold",
    "make_schema",
]
