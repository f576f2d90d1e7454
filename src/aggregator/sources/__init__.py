"""OPML in and out: the user's source list as a portable, hand-editable file.

Reading is lenient because real lists are broken: a bare `&` in an attribute (more than half of
one popular collection), HTML entities XML does not define, concatenated documents, missing end
tags. The aim is that every feed outline a person can see in the file comes in, titled exactly
as written. Writing produces strict OPML 2.0 that other readers (newsboat included) import.
Changing the user's own list edits it in place (`edit_opml`): what changed, and the repairs
XML needs when the file was broken; its comments, head and layout stay.

The package, one job a module:
- `urls`: `normalize_source_url`, what address a source may have (http and https only).
- `repairs`: the repairs that make a real, broken list's markup text a strict XML parser takes.
- `reading`: bytes → `OpmlDocument`: decode, repair, parse forgivingly, collect the sources.
- `writing`: `write_opml`, a list written anew as strict OPML 2.0.
- `editing`: `edit_opml`, the user's list changed in place, and read back before it is used.
- `splicing`: the edited list written as the user wrote it wherever the edit did not reach.
- `saving`: `save_opml`, a list saved atomically, edited in place when it can be.
"""

from aggregator.sources.editing import edit_opml
from aggregator.sources.reading import (
    CUT_SHORT,
    FOLDER_SLASH,
    read_opml,
    read_opml_file,
    unread_part,
)
from aggregator.sources.saving import save_opml
from aggregator.sources.urls import normalize_source_url, source_key
from aggregator.sources.writing import write_opml

__all__ = [
    "CUT_SHORT",
    "FOLDER_SLASH",
    "edit_opml",
    "normalize_source_url",
    "read_opml",
    "read_opml_file",
    "save_opml",
    "source_key",
    "unread_part",
    "write_opml",
]
