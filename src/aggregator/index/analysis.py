"""What a word becomes in the index: folded, stemmed terms, their positions, and the schema.

Words are folded (case, accents and other diacritics, compatibility forms: `sante` finds
`Santé`, `finding` finds `ﬁnding`) and stemmed (English, Porter) by one tokenizer that caches
each word's term, so the index, the query parser and the highlighter all see the same
analysis. Chinese, Japanese and Korean runs become overlapping bigrams (`folding`).
"""

from __future__ import annotations

import itertools
import operator
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from whoosh.analysis import Token, Tokenizer
from whoosh.columns import RefBytesColumn
from whoosh.fields import DATETIME, ID, KEYWORD, TEXT, Schema
from whoosh.formats import Positions
from whoosh.lang.porter import stem

from aggregator.index.folding import WORD, cjk_patterns, fold, grams, words_and_spans
from aggregator.index.folding import pieces as analysed
from aggregator.models import topic_names

CACHE_WORDS = 500_000
"""Words whose terms a tokenizer remembers, per cache (about 45 MB when full)."""
_ASCII_WORDS = bytes(
    b if chr(b).isascii() and (chr(b).isalnum() or b == 95) else 32 for b in range(256)
)
"""For ASCII text, what `\\w+` matches: every other byte made a space, so `split` finds the
words in C (two and a half times faster than the regex, which makes a match per word)."""
_ASCII_FOLDED_WORDS = _ASCII_WORDS.lower()
"""The same, with upper case made lower in the same pass: `fold` for ASCII text."""


class Words(list[str]):
    """Words as written, and (`folded`) the folded word the index holds for each."""

    folded: list[str]


def words_at(text: str) -> tuple[list[str], Callable[[int], int]]:
    """The index's words of `text`, as written, and where the k-th one starts (a CJK bigram's
    two characters are a word of their own, overlapping the next).

    ASCII text (most of it) is split in C, as `FoldStemTokenizer.terms` does: non-word bytes
    made spaces, then split on single spaces (a run of them leaves empty pieces). A word's
    offset is the length of the pieces before it plus one space after each; a snippet asks
    for two, so they are not all worked out.
    """
    if not text.isascii():
        folded, begins, ends = words_and_spans(text)  # a CJK bigram is a word here
        written = Words(map(text.__getitem__, map(slice, begins, ends)))
        written.folded = folded  # for `word_terms`: no folding the words again
        return written, begins.__getitem__
    pieces = text.encode("ascii").translate(_ASCII_WORDS).split(b" ")
    words = b" ".join(filter(None, pieces)).decode("ascii").split(" ") if any(pieces) else []
    where = list(itertools.compress(itertools.count(), pieces))  # each word's piece

    def start(k: int) -> int:
        j = where[k]
        return sum(map(len, pieces[:j])) + j

    return words, start


class FoldStemTokenizer(Tokenizer):
    """Words → lower-case, accent-free, stemmed terms, with a cache of each word's term.

    A Whoosh tokenizer (so the query parser and highlighter use the same analysis) with a
    fast path, `terms()`, that indexing uses to skip Token objects altogether.
    """

    def __init__(self, stemming: bool = True) -> None:
        self.stemming = stemming
        self._cache: dict[str, str] = {}
        self._ascii: dict[bytes, str] = {}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.stemming == self.stemming  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.stemming))

    def __getstate__(self) -> dict[str, Any]:
        return {"stemming": self.stemming}  # the schema is pickled into the index: no cache

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.stemming = state["stemming"]
        self._cache = {}
        self._ascii = {}

    def term(self, word: str) -> str:
        cached = self._cache.get(word)
        if cached is None:
            cached = self._stem(word)
            if len(self._cache) < CACHE_WORDS:
                self._cache[word] = cached
        return cached

    def _stem(self, word: str) -> str:
        return stem(word) if self.stemming else word

    def word_terms(self, words: list[str]) -> list[str]:
        """Each word's term, words as written (a snippet's, from `words_at`, which has folded
        them already): folded and looked up in C in the cache `term` keeps; a word not met
        before is stemmed once, however often it comes."""
        folded = getattr(words, "folded", None)
        if folded is None:
            folded = list(map(str.lower, words))
            if not all(map(str.isascii, folded)):
                folded = [w if w.isascii() else _first_piece(w) for w in folded]
        return self._cached_terms(folded)

    def _cached_terms(self, folded: list[str]) -> list[str]:
        """Folded words' terms, looked up in C; a new word is stemmed once however often it
        comes."""
        found = list(map(self._cache.get, folded))
        if None in found:
            unknown = map(operator.is_, found, itertools.repeat(None))
            new = {w: self.term(w) for w in set(itertools.compress(folded, unknown))}
            found = list(map(new.get, folded, found))
        return found  # type: ignore[return-value]

    def terms(self, value: str) -> list[str]:
        """Indexing's path: the terms of a whole text, ASCII words split and looked up in C.

        Its cache is its own (keyed by bytes), so a process that only indexes holds one.
        """
        if value.isascii():
            words = value.encode("ascii").translate(_ASCII_FOLDED_WORDS).split()
        else:
            folded = fold(value)
            if not folded.isascii():
                return self._unicode_terms(folded)
            words = folded.encode("ascii").translate(_ASCII_WORDS).split()
        if len(words) < 2:  # itemgetter wants two keys to give back a tuple
            return [self._ascii_term(w) for w in words]
        pick = operator.itemgetter(*words)
        cache = self._ascii
        try:
            return list(pick(cache))
        except KeyError:  # a word not seen before: stem the new ones, then look up again
            for word in words:
                if word not in cache:
                    if len(cache) >= CACHE_WORDS:  # full: the rest are stemmed, not kept
                        return [self._ascii_term(w) for w in words]
                    cache[word] = self._stem(word.decode("ascii"))
            return list(pick(cache))

    def _unicode_terms(self, folded: str) -> list[str]:
        """The terms of folded text that is not all ASCII: words stemmed, CJK runs bigrams."""
        has_cjk, cjk_pieces = cjk_patterns()
        if has_cjk.search(folded) is None:
            return self._cached_terms(WORD.findall(folded))
        term = self.term
        found: list[str] = []
        for run, word in cjk_pieces.findall(folded):
            if word:
                found.append(term(word))
            else:
                found += grams(run)
        return found

    def _ascii_term(self, word: bytes) -> str:
        term = self._ascii.get(word)
        return self._stem(word.decode("ascii")) if term is None else term

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
        for pos, (word, start, end, gram) in enumerate(analysed(value)):
            token.text = word if gram else self.term(word)
            token.boost, token.stopped = 1.0, False
            if keeporiginal:
                token.original = word
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def _first_piece(word: str) -> str:
    """The folded word a word as written (one of `words_at`'s) is indexed as."""
    for piece, _, _, _ in analysed(word):
        return piece
    return ""


def term_positions(terms: Sequence[str]) -> dict[str, list[int]]:
    """Each distinct term with the positions it occurs at, in order."""
    poses: dict[str, list[int]] = {}
    for pos, term in enumerate(terms):
        found = poses.get(term)
        if found is None:
            poses[term] = [pos]
        else:
            found.append(pos)
    return poses


SINGLE_LIMIT = 8192
SINGLE = [b"H" + p.to_bytes(2, "little") for p in range(SINGLE_LIMIT)]
"""A word's one position in a document, encoded once for the first positions of any text.

Made whole at import rather than as positions turn up: a cache filled during indexing
scatters long-lived objects among each batch's postings, and the memory those postings
held could then never be given back."""


def encode_positions(poslist: Sequence[int]) -> bytes:
    """A type code, then the positions as a machine array (`array` packs in C).

    No count (the weight and the value's size say it) and no gaps: a single position, most
    postings, takes three bytes, so the blocks need no compressing, and both encoding and
    decoding stay one C call.
    """
    if len(poslist) == 1:  # most terms occur once in a document
        first = poslist[0]
        if first < SINGLE_LIMIT:
            return SINGLE[first]
        if first < 65536:
            return b"H" + first.to_bytes(2, "little")
        return b"I" + first.to_bytes(4, "little")
    code = "H" if poslist[-1] < 65536 else "I"
    data = array(code, poslist).tobytes()
    if sys.byteorder != "little":
        data = _swapped(code, data)
    return code.encode("ascii") + data


def positions_array(value: bytes) -> array:
    """`encode_positions` undone: the positions as a machine array (phrases check them)."""
    positions = array(chr(value[0]))
    positions.frombytes(value[1:])
    if sys.byteorder != "little":
        positions.byteswap()
    return positions


def _swapped(code: str, data: bytes) -> bytes:
    values = array(code)
    values.frombytes(data)
    values.byteswap()
    return values.tobytes()


class FastPositions(Positions):
    """Whoosh's Positions format, filled without per-token objects and packed as arrays."""

    def word_values(self, value: str, analyzer: Any, **kwargs: Any) -> Iterator[tuple]:
        if not isinstance(analyzer, FoldStemTokenizer):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        for term, poslist in term_positions(analyzer.terms(value)).items():
            yield term, len(poslist), len(poslist) * boost, encode_positions(poslist)

    def encode(self, poslist: Sequence[int]) -> bytes:
        return encode_positions(poslist)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return positions_array(valuestring).tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        return (len(valuestring) - 1) // array(chr(valuestring[0])).itemsize


class FastText(TEXT):
    """Words with positions. A query word that analyses to several terms (`東京都`: two
    bigrams; `U.S.`) asks for them as a phrase, as they stand in the text it came from."""

    def __init__(self, field_boost: float = 1.0, **kwargs: Any) -> None:
        super().__init__(
            analyzer=FoldStemTokenizer(),
            phrase=True,
            field_boost=field_boost,
            multitoken_query="phrase",
            **kwargs,
        )
        self.format = FastPositions(field_boost=field_boost)


class NameText(TEXT):
    """Names (authors, sources): folded, not stemmed, positions kept for "exact names"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            analyzer=FoldStemTokenizer(stemming=False),
            phrase=True,
            multitoken_query="phrase",
            **kwargs,
        )
        self.format = FastPositions()


def make_schema() -> Schema:
    return Schema(
        id=ID(stored=True, unique=True),
        # No extra weight on titles: the title is its own field in BM25F already, and on the
        # Cranfield and CISI collections (bench/relevance.py) doubling it ranked worse.
        title=FastText(),
        content=FastText(),
        author=NameText(),
        source=NameText(),
        # Reference columns: a few distinct values, read whole in one go to count facets.
        source_url=ID(stored=True, sortable=RefBytesColumn()),
        category=KEYWORD(lowercase=True, commas=True, scorable=False),
        topic=ID(stored=True, sortable=RefBytesColumn()),
        url=TEXT(analyzer=FoldStemTokenizer(stemming=False), phrase=False),
        published=DATETIME(stored=True, sortable=True),
        canonical=ID(stored=True),
    )


def category_keywords(category: str) -> str:
    """`Medicine/Oncology` → `medicine,medicine/oncology,oncology`.

    A topic's path finds its subtopics (`category:medicine`), and a subtopic can be named on
    its own (`category:oncology`).
    """
    return ",".join(topic_names(category))
