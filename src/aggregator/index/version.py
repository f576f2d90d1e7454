"""Which index a directory holds, told without loading Whoosh.

A fetch that stored nothing new must still leave the library searchable; when its index is
of this version and nothing is queued, that is known from two small files, and the index
(with Whoosh, ~45 ms to import and open) is left closed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

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
"""Which library the index was filled from, and the mark of that library it holds."""
NONE = "-"


class Held(NamedTuple):
    """What an index records of its library after each commit, before the library keeps the
    new mark. A library still at the mark `before`, whose queue still holds row `seq` for
    `entry`, has yet to mark the commit's batch done (a crash, a Ctrl-C or a busy library
    between the two): the batch is applied again rather than the index rebuilt."""

    library: str
    mark: str
    before: str = NONE
    seq: int = 0
    entry: str = NONE


UNFILLED = Held("!", "!")
"""What an index made anew holds until its refill is queued: no library's (a library's id
and marks are hex), so that one left empty by a crash is never taken for a library's."""


def held_mark(directory: Path) -> Held | None:
    """What the index last recorded; None for an index made before marks were kept."""
    try:
        library, mark, before, seq, entry = (directory / LIBRARY_FILE).read_text().split()
        return Held(library, mark, before, int(seq), entry)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        return UNFILLED  # unreadable: held by no library


def hold_mark(directory: Path, held: Held) -> None:
    """Record what the index holds, after its commit and before its library keeps the
    mark."""
    temporary = directory / f"{LIBRARY_FILE}.new"
    temporary.write_text(" ".join(map(str, held)) + "\n")
    os.replace(temporary, directory / LIBRARY_FILE)
