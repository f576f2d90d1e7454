"""The Whoosh index: derived from the store, rebuilt from it at will, written by one process.

Words are folded (case, accents: `sante` finds `Santé`) and stemmed (English, Porter) by one
tokenizer that caches each word's term, and postings are accumulated without Whoosh's
per-token objects: indexing is the slow half of a cold fetch, so this path is kept lean.
Stored fields are only what results and facets need; the store has the text.
"""

from __future__ import annotations

import os
import re
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC
from itertools import accumulate
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.analysis import Token, Tokenizer
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.formats import Positions
from whoosh.index import LockError
from whoosh.lang.porter import stem
from whoosh.support.charset import accent_map
from whoosh.system import _INT_SIZE

from aggregator.errors import IndexLockedError, StoreError
from aggregator.models import IndexDoc

INDEX_NAME = "entries"
SCHEMA_VERSION = 3
"""Bump when the schema or the analyzer changes: an index of another version is rebuilt."""
_WORD = re.compile(r"\w+")
_URL_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower case without accents: what both the index and the query see."""
    text = text.lower()
    return text if text.isascii() else text.translate(accent_map)


class FoldStemTokenizer(Tokenizer):
    """Words → lower-case, accent-free, stemmed terms, with a cache of each word's term.

    A Whoosh tokenizer (so the query parser and highlighter use the same analysis) with a
    fast path, `terms()`, that the index format uses to skip Token objects altogether.
    """

    def __init__(self, stemming: bool = True) -> None:
        self.stemming = stemming
        self._cache: dict[str, str] = {}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.stemming == self.stemming  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.stemming))

    def __getstate__(self) -> dict[str, Any]:
        return {"stemming": self.stemming}  # the schema is pickled into the index: no cache

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.stemming = state["stemming"]
        self._cache = {}

    def term(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is None:
            cached = stem(word) if self.stemming else word
            if len(self._cache) < 500_000:
                self._cache[word] = cached
        return cached

    def terms(self, value: str) -> list[str]:
        cache = self._cache
        words = _WORD.findall(fold(value))
        out = [cache.get(w) for w in words]
        if None in out:
            out = [self.term(w) for w in words]
        return out  # type: ignore[return-value]

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            token.original = token.text = fold(value)
            token.boost, token.stopped = 1.0, False
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        folded = fold(value)
        same_length = len(folded) == len(value)
        for pos, match in enumerate(_WORD.finditer(folded)):
            word = match.group()
            token.text = self.term(word)
            token.boost, token.stopped = 1.0, False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = start_pos + pos
            if chars and same_length:
                token.startchar, token.endchar = (
                    start_char + match.start(),
                    start_char + match.end(),
                )
            elif chars:
                token.startchar = token.endchar = start_char
            yield token


_COUNTS = [i.to_bytes(_INT_SIZE, "big") for i in range(64)]


class FastPositions(Positions):
    """Whoosh's Positions format, filled without per-token objects and encoded as varints."""

    def word_values(self, value: str, analyzer: Any, **kwargs: Any) -> Iterator[tuple]:
        if not isinstance(analyzer, FoldStemTokenizer):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        poses: dict[str, list[int]] = {}
        for pos, term in enumerate(analyzer.terms(value)):
            found = poses.get(term)
            if found is None:
                poses[term] = [pos]
            else:
                found.append(pos)
        boost = self.field_boost
        for term, poslist in poses.items():
            yield term, len(poslist), len(poslist) * boost, self.encode(poslist)

    def encode(self, poslist: Sequence[int]) -> bytes:
        """Count, then position deltas as a machine array: `array` packs and unpacks in C."""
        count = len(poslist)
        head = _COUNTS[count] if count < len(_COUNTS) else count.to_bytes(_INT_SIZE, "big")
        if count == 1:  # most terms occur once in a document
            first = poslist[0]
            return head + (
                b"H" + first.to_bytes(2, "little")
                if first < 65536
                else b"I" + first.to_bytes(4, "little")
            )
        deltas = [b - a for a, b in zip([0, *poslist[:-1]], poslist, strict=True)]
        code = "H" if max(deltas) < 65536 else "I"
        return head + code.encode() + array(code, deltas).tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        code = chr(valuestring[_INT_SIZE])
        deltas = array(code)
        deltas.frombytes(valuestring[_INT_SIZE + 1 :])
        if sys.byteorder != "little":
            deltas.byteswap()
        return list(accumulate(deltas))

    def decode_frequency(self, valuestring: bytes) -> int:
        return int.from_bytes(valuestring[:_INT_SIZE], "big")


class FastText(TEXT):
    def __init__(self, field_boost: float = 1.0, **kwargs: Any) -> None:
        super().__init__(
            analyzer=FoldStemTokenizer(), phrase=True, field_boost=field_boost, **kwargs
        )
        self.format = FastPositions(field_boost=field_boost)


class NameText(TEXT):
    """Names (authors, sources): folded, not stemmed, positions kept for "exact names"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(analyzer=FoldStemTokenizer(stemming=False), phrase=True, **kwargs)
        self.format = FastPositions()


def make_schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        title=FastText(field_boost=2.0),
        content=FastText(),
        author=NameText(),
        source=NameText(),
        source_url=ID(stored=True, sortable=True),
        category=KEYWORD(lowercase=True, commas=True, scorable=False),
        topic=ID(stored=True, sortable=True),
        url=TEXT(analyzer=FoldStemTokenizer(stemming=False), phrase=False),
        published=DATETIME(stored=True, sortable=True),
        canonical=ID(stored=True),
    )


def category_keywords(category: str) -> str:
    """`Medicine/Oncology` → `medicine,medicine/oncology,oncology`.

    A topic's path finds its subtopics (`category:medicine`), and a subtopic can be named on
    its own (`category:oncology`).
    """
    parts = [p for p in category.split("/") if p]
    paths = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return ",".join(dict.fromkeys([*paths, *parts[1:]]))


class Index:
    """One Whoosh index directory. Searching opens readers; `apply` is the only writer."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ix = self._open_or_create()

    @property
    def _version_file(self) -> Path:
        return self.directory / "aggregator-index-version"

    def _open_or_create(self) -> Any:
        """Open the index, or make a new one when it is missing or of another version.

        A new one is empty: `needs_rebuild` tells the library to refill it from the store.
        """
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if (
                whoosh_index.exists_in(str(self.directory), indexname=INDEX_NAME)
                and self._version_file.exists()
                and self._version_file.read_text().strip() == str(SCHEMA_VERSION)
            ):
                self.needs_rebuild = False
                return whoosh_index.open_dir(str(self.directory), indexname=INDEX_NAME)
            self.needs_rebuild = True
            ix = whoosh_index.create_in(str(self.directory), make_schema(), indexname=INDEX_NAME)
            self._version_file.write_text(f"{SCHEMA_VERSION}\n")
            return ix
        except OSError as exc:
            raise StoreError(
                f"cannot open the index in {self.directory}: {exc}", path=str(self.directory)
            ) from None

    @property
    def whoosh(self) -> Any:
        return self._ix

    def doc_count(self) -> int:
        return self._ix.doc_count()

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())

    def apply(
        self,
        upserts: Iterable[IndexDoc],
        deletes: Iterable[str] = (),
        *,
        wait_s: float = 30.0,
        fresh: bool = False,
        procs: int = 1,
    ) -> int:
        """Write one batch and commit it; returns the documents written.

        `fresh` (nothing of the batch is in the index yet) skips the look-up of old copies.
        Another process holding the writer is waited for up to `wait_s`; a lock left by a
        killed process is an fcntl lock the kernel already released.
        """
        writer = self._writer(wait_s, procs)
        written = 0
        try:
            for eid in deletes:
                writer.delete_by_term("id", eid)
            add = writer.add_document if fresh else writer.update_document
            for doc in upserts:
                add(**_fields(doc))
                written += 1
            writer.commit(merge=True)
        except BaseException:
            writer.cancel()
            raise
        return written

    def rebuild(self, wait_s: float = 30.0) -> None:
        """An empty index with the current schema (the caller refills it from the store)."""
        writer = self._writer(wait_s, 1)  # not while another process writes
        writer.cancel()
        self._ix = whoosh_index.create_in(str(self.directory), make_schema(), indexname=INDEX_NAME)

    def optimize(self, wait_s: float = 30.0) -> None:
        writer = self._writer(wait_s, 1)
        writer.commit(optimize=True)

    def _writer(self, wait_s: float, procs: int) -> Any:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                if procs > 1:
                    return self._ix.writer(procs=procs, limitmb=128, multisegment=True)
                # Postings beyond limitmb spill to disk and are merge-sorted back: 512 MB of
                # pool keeps a batch in memory (a third faster than 128).
                return self._ix.writer(limitmb=512)
            except LockError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"the search index in {self.directory} is being written by another "
                        f"aggregator; waited {wait_s:.0f} s",
                        path=str(self.directory),
                    ) from None
                time.sleep(0.1)


def _fields(doc: IndexDoc) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": doc.id,
        "title": doc.title,
        "content": doc.text,
        "author": doc.author,
        "source": doc.source,
        "source_url": doc.source_url,
        "category": category_keywords(doc.category) or "-",
        "topic": doc.category or "-",
        "url": fold(doc.url),
        "canonical": doc.canonical_url or doc.id,
    }
    if doc.published is not None:
        fields["published"] = doc.published.astimezone(UTC).replace(tzinfo=None)
    return fields


def default_procs(batch: int) -> int:
    """Both cores for big batches; one for small ones, where starting processes costs more."""
    return min(os.cpu_count() or 1, 4) if batch >= 2000 else 1


ProgressFn = Callable[[int, int], None]
