"""Which index a directory holds, told without loading Whoosh.

A fetch that stored nothing new must still leave the library searchable; when its index is
of this version and nothing is queued, that is known from two small files, and the index
(with Whoosh, ~45 ms to import and open) is left closed.
"""

from __future__ import annotations

import os
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


LIBRARY_FILE = "aggregator-library"
"""Which library the index was filled from, and the newest of its changes the index holds."""
UNFILLED = -1
"""The change an index made anew is said to hold until it is filled: none, so that one left
empty by a crash is never taken for a library's."""


def held_changes(directory: Path) -> tuple[str, int] | None:
    """(library id, newest change held) as the index last recorded them; None for an index
    made before this was kept, which is trusted until its next commit records it."""
    try:
        library, seq = (directory / LIBRARY_FILE).read_text().split()
        return library, int(seq)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        return "", UNFILLED  # unreadable: held by no library


def hold_changes(directory: Path, library: str, seq: int) -> None:
    """Record what the index holds, after its commit and before the queue is marked done: a
    crash between the two leaves the record behind the index, never ahead of the store."""
    temporary = directory / f"{LIBRARY_FILE}.new"
    temporary.write_text(f"{library or '-'} {seq}\n")
    os.replace(temporary, directory / LIBRARY_FILE)
