"""Which index a directory holds, told without loading Whoosh.

A fetch that stored nothing new must still leave the library searchable; when its index is
of this version and nothing is queued, that is known from two small files, and the index
(with Whoosh, ~45 ms to import and open) is left closed.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_VERSION = 12
"""Bump when the schema, the analyzer or a posting encoding changes: an index of another
version is rebuilt from the store. 10: CJK bigrams, every script's diacritics and
compatibility forms folded. 11: postings blocks keep their impacts. 12: pairs of common words
are terms (`pairs`)."""
INDEX_NAME = "entries"
VERSION_FILE = "aggregator-index-version"


def looks_current(directory: Path) -> bool:
    """An index of this version is there (its version file and a table of contents)."""
    try:
        if (directory / VERSION_FILE).read_text().strip() != str(SCHEMA_VERSION):
            return False
        return any(directory.glob(f"_{INDEX_NAME}_*.toc"))
    except (OSError, UnicodeDecodeError):
        return False
