"""What ranking reads of an index segment, read whole: postings a block at a time, field
lengths, columns, and the terms a pattern stands for, each loaded once per searcher.

Whoosh answers a query by walking a tree of matchers one posting at a time: a few Python
calls per matching document and per query term. Here a term's postings come a block at a
time (document numbers and weights; positions only for the documents a phrase checks), so
that they are scored with C-level maps and set and dict operations. The few pieces every
kind of match shares live here too: `bm25` (the one scoring formula), `summed` (fields'
scores added) and `facet_counts` (counts by topic and source from the columns).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import cached_property
from itertools import accumulate, chain, compress, repeat
from operator import add, mul, truediv
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length, length_to_byte

from aggregator.index.codec import FastLeafMatcher, unpacked_impacts
from aggregator.index.pairs import is_pair

Scores = dict[int, float]
"""Document number (within one segment) → score."""
BLOCK_CACHE_SIZE = 512
"""Blocks whose positions a `TermBlocks` keeps decoded (one term in one segment, for one
search): enough for the rounds of a common phrase, and a bound on the memory a long paging
through it can hold."""
Only = Scores | set[int] | None
"""The documents a search still considers (in an AND), or None for all of them."""


class Segment:
    """One segment's reader with what ranking needs of it, loaded once per searcher."""

    def __init__(self, searcher: Any, offset: int, top: Any) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.offset = offset
        self.top = top  # the whole index's searcher: idf and average lengths are global
        self.deleted: frozenset[int] = frozenset(getattr(self.reader, "deleted_docs_set", ()))
        self._norms: dict[str, list[float]] = {}
        self._doc_norms: dict[str, list[float]] = {}
        self._lengths: dict[str, bytes] = {}
        self._columns: dict[str, Any] = {}
        self._sorted: dict[str, tuple[array, array]] = {}
        self._counts: dict[str, Counter[str]] = {}
        self._expansions: dict[Any, list[bytes]] = {}

    # -- terms ------------------------------------------------------------------------

    def postings(self, fieldname: str, btext: bytes) -> Any:
        """The term's raw matcher (deletions are applied once, at the end), or None."""
        if not hasattr(self.reader, "_terms"):
            return None  # an empty index's reader
        try:
            return self.reader._terms.matcher(
                fieldname, btext, self.reader.schema[fieldname].format, scorer=None
            )
        except (KeyError, TermNotFound):
            return None

    def btext(self, term: Any) -> bytes | None:
        """A Term query's text as this segment's field stores it; None when the field is
        not in the schema or the text cannot be one of its values (a bad number, a date)."""
        schema = self.reader.schema
        if term.fieldname not in schema:
            return None
        try:
            return schema[term.fieldname].to_bytes(term.text)
        except ValueError:
            return None

    def term(
        self,
        fieldname: str,
        btext: bytes,
        boost: float = 1.0,
        only: Only = None,
        *,
        adding: Scores | None = None,
    ) -> Scores:
        """A term's documents scored by BM25F as Whoosh scores them.

        With `only` (the documents still in the running, in an AND), the blocks before the
        first of them are skipped unread, and only theirs are scored. With `adding` (the
        scores so far of an AND), only its documents are read, and each gets its score there
        plus this term's: the AND's next step in the same pass.
        """
        if adding is not None:
            only = adding
        if (fieldname, btext) not in self.reader:
            return {}
        matcher = self.postings(fieldname, btext)
        if matcher is None:
            return {}
        field = self.reader.schema[fieldname]
        out: Scores = {}
        scorable = field.scorable
        if scorable:
            factor = self.top.idf(fieldname, btext) * (BM25_K1 + 1) * boost
            doc_norms = self.doc_norms(fieldname)
        scores: Iterable[float]
        for ids, weights in postings_blocks(matcher, only):
            if scorable:
                scores = bm25(factor, weights, map(doc_norms.__getitem__, ids))
            else:  # Whoosh scores these by the posting's weight
                scores = [w * boost for w in weights]
            if adding is not None:
                scores = map(add, map(adding.__getitem__, ids), scores)
            out.update(zip(ids, scores, strict=True))
        return out

    def every(
        self,
        fieldname: str,
        btexts: list[bytes],
        only: Only = None,
        blocks: list[TermBlocks] | None = None,
    ) -> Scores:
        """The documents holding every one of the terms (of one scored field, in that order:
        rarest first), each with their scores summed, as `term` with `adding` sums them.

        The scores so far are laid out by document number instead of in a dict: a common
        word's next term is then looked up by list index, and one dict is made at the end.
        """
        if not all((fieldname, btext) in self.reader for btext in btexts):
            return {}  # a word not in this segment (or an empty index, with no lengths)
        size = self.reader.doc_count_all()
        doc_norms = self.doc_norms(fieldname)
        # 0.0 marks a document without the terms so far: a posting's BM25 score is never 0
        # (its weight is at least 1, and an idf over every document, deleted ones included,
        # is above 0), so the scores themselves say where the terms are.
        so_far: list[float] | None = None
        docs: list[int] = []
        for k, btext in enumerate(btexts):
            matcher = self.postings(fieldname, btext)
            if matcher is None:
                return {}
            factor = self.top.idf(fieldname, btext) * (BM25_K1 + 1)
            here = blocks[k] if blocks is not None else None
            scores = [0.0] * size
            docs = []
            for ids, weights in postings_blocks(matcher, only if k == 0 else None, here):
                if so_far is None:
                    kept = bm25(factor, weights, map(doc_norms.__getitem__, ids))
                else:
                    before = list(map(so_far.__getitem__, ids))
                    ids = list(compress(ids, before))
                    if not ids:
                        continue
                    kept_weights = list(compress(weights, before))  # bm25 reads it twice
                    mine = bm25(factor, kept_weights, map(doc_norms.__getitem__, ids))
                    kept = map(add, filter(None, before), mine)
                docs += ids
                deque(map(scores.__setitem__, ids, kept), maxlen=0)
            if not docs:
                return {}
            so_far = scores
        assert so_far is not None
        return dict(zip(docs, map(so_far.__getitem__, docs), strict=True))

    def norms(self, fieldname: str) -> list[float]:
        """BM25's length normalisation for each of the 256 encoded field lengths."""
        norms = self._norms.get(fieldname)
        if norms is None:
            avg = self.top.avg_field_length(fieldname) or 1
            norms = [
                BM25_K1 * ((1 - BM25_B) + BM25_B * byte_to_length(b) / avg) if b else BM25_K1
                for b in range(256)
            ]
            self._norms[fieldname] = norms
        return norms

    def doc_norms(self, fieldname: str) -> list[float]:
        """Each document's norm for the field, looked up once per searcher: scoring a
        posting then takes one look-up instead of two."""
        found = self._doc_norms.get(fieldname)
        if found is None:
            found = list(map(self.norms(fieldname).__getitem__, self.lengths(fieldname)))
            self._doc_norms[fieldname] = found
        return found

    def lengths(self, fieldname: str) -> bytes:
        """Every document's encoded length of the field, as one bytes object."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            perdoc = self.reader._perdoc
            column = perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)
            count = self.reader.doc_count_all()
            raw = b"" if column is None else column._dbfile.get(column._basepos, column._count)
            lengths = raw + bytes(count - len(raw))
            self._lengths[fieldname] = lengths
        return lengths

    def expand(self, query: Any) -> list[bytes]:
        """The terms of this segment a prefix, wildcard, fuzzy term or range stands for."""
        found = self._expansions.get(query)
        if found is None:
            field = self.reader.schema[query.field()]
            found = [
                field.to_bytes(t) if isinstance(t, str) else t for t in query._btexts(self.reader)
            ]
            found = [btext for btext in found if not is_pair(btext)]  # words only
            if len(self._expansions) >= 256:  # a long session of typed queries
                self._expansions.clear()
            self._expansions[query] = found
        return found

    # -- columns ----------------------------------------------------------------------

    def column(self, fieldname: str) -> Any:
        """A sortable field's values for every document, loaded whole: a list or an array."""
        values = self._columns.get(fieldname)
        if values is None:
            values = _load_column(self.reader.column_reader(fieldname, translate=False))
            self._columns[fieldname] = values
        return values

    def in_range(self, query: Any) -> list[int]:
        """Documents whose date lies in the range `query` gives (its ends as the longs that
        the column holds)."""
        values, order = self._sorted_column(query.fieldname)
        missing = self.reader.schema[query.fieldname].default
        lo, hi = 0, len(values)
        if query.start is not None:
            start = query.start
            lo = (bisect_right if query.startexcl else bisect_left)(values, start)
        if query.end is not None:
            end = query.end
            hi = (bisect_left if query.endexcl else bisect_right)(values, end)
        # Documents without a value hold the column's default, the type's largest number.
        hi = min(hi, bisect_left(values, missing))
        found = order[lo:hi]
        return [d for d in found if d not in self.deleted] if self.deleted else found.tolist()

    def _sorted_column(self, fieldname: str) -> tuple[array, array]:
        """A numeric column's values in order, with the document holding each."""
        cached = self._sorted.get(fieldname)
        if cached is None:
            column = self.column(fieldname)
            order = array("I", sorted(range(len(column)), key=column.__getitem__))
            cached = (array(column.typecode, map(column.__getitem__, order)), order)
            self._sorted[fieldname] = cached
        return cached

    @cached_property
    def live_docs(self) -> frozenset[int]:
        """Every document not deleted (kept: a common word's facets count its complement)."""
        return frozenset(range(self.reader.doc_count_all())) - self.deleted

    def counts(self, fieldname: str) -> Counter[str]:
        """How many live documents have each value of a reference column."""
        counts = self._counts.get(fieldname)
        if counts is None:
            counts = self.column(fieldname).count(self.live_docs)
            self._counts[fieldname] = counts
        return counts


def summed(parts: Iterable[Scores]) -> Scores:
    """Several parts' scores added document by document (an OR's, a word's or a phrase's
    fields): the largest part copied and the others added to it, in that order, so that
    scores are Whoosh's to the last bit."""
    ordered = sorted(parts, key=len, reverse=True)
    if not ordered:
        return {}
    out = dict(ordered[0])
    for part in ordered[1:]:
        get = out.get
        out.update({d: s + get(d, 0.0) for d, s in part.items()})
    return out


def bm25(factor: float, weights: Sequence[float], norms: Iterable[float]) -> Iterator[float]:
    """factor × w / (w + norm), posting by posting, by C-level maps: no Python step per
    posting. The one place scores are computed: `words` bounds a block by the same
    operations, and the bound holds only while they are the same."""
    return map(mul, repeat(factor), map(truediv, weights, map(add, weights, norms)))


BM25_B = 0.75
BM25_K1 = 1.2
"""Whoosh's BM25F defaults, which its own searches use."""


def _block_ids(matcher: W3LeafMatcher) -> Any:
    if type(matcher) is W3LeafMatcher:  # Whoosh's blocks: gaps as a tuple
        if matcher._data is None:
            matcher._read_data()
        matcher._ids = list(accumulate(matcher._data[0]))
    else:
        matcher._read_ids()
    return matcher._ids


def current_block(matcher: W3LeafMatcher) -> tuple[list[int], Any]:
    """The document numbers and weights of a leaf matcher's current block, its positions
    left packed: ranking a block never needs them."""
    ids = _block_ids(matcher)
    matcher._read_weights()
    return ids, matcher._weights


def block_bound(matcher: W3LeafMatcher, factor: float, norms: Sequence[float]) -> float:
    """A bound on the BM25 score of every posting in the current block, from its header:
    its largest weight at its shortest length (a length byte of 0, a document without the
    field's length, has a norm of its own). Often well above the block's best: see
    `impacts_bound`."""
    weight = matcher.block_max_weight()
    norm = min(norms[length_to_byte(matcher.block_min_length())], norms[0])
    return next(bm25(factor, [weight], [norm]))


def block_impacts(matcher: W3LeafMatcher) -> bytes | None:
    """The current block's impacts as kept, None when it has none (Whoosh's own blocks
    never do)."""
    return matcher.block_impacts() if isinstance(matcher, FastLeafMatcher) else None


def impacts_bound(packed: bytes, factor: float, norms: Sequence[float]) -> float:
    """The best BM25 score in a block from its impacts (`codec.impacts`): exact unless
    their pairs were merged, and never below it."""
    weights, length_bytes = unpacked_impacts(packed)
    return max(bm25(factor, weights, map(norms.__getitem__, length_bytes)))


def postings_blocks(
    matcher: Any, only: Only = None, blocks: TermBlocks | None = None
) -> Iterable[tuple[Any, Any]]:
    """(ids, weights) a block at a time, of the documents in `only` if given; other matchers
    (inlined postings) in one piece. Positions are left packed; `blocks`, if given, learns
    where each block yielded keeps them."""
    if only is not None and not only:
        return
    first = min(only) if only is not None else 0
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        while matcher.is_active():
            if matcher.block_max_id() < first:
                matcher._next_block()  # its header says none of `only` is in it
                continue
            ids, weights = current_block(matcher)
            if only is not None:
                # Chosen by C-level maps: no Python step per posting.
                keep = list(map(only.__contains__, ids))
                if any(keep):
                    if blocks is not None:
                        blocks.add(ids, _values_later(matcher))
                    yield list(compress(ids, keep)), list(compress(weights, keep))
            else:
                if blocks is not None:
                    blocks.add(ids, _values_later(matcher))
                yield ids, weights
            matcher._next_block()
        return
    ids, weights, values = [], [], []
    while matcher.is_active():
        if only is None or matcher.id() in only:
            ids.append(matcher.id())
            weights.append(matcher.weight())
            if blocks is not None:
                values.append(matcher.value())
        matcher.next()
    if blocks is not None and ids:
        blocks.add(ids, lambda: values.__getitem__)
    yield ids, weights


def _values_later(matcher: W3LeafMatcher) -> Callable[[], Callable[[int], Any]]:
    if isinstance(matcher, FastLeafMatcher):
        return matcher.block_values_later()
    matcher._read_values()  # Whoosh's blocks: the values come with the rest
    values = matcher._values
    return lambda: values.__getitem__


class TermBlocks:
    """One term's postings blocks in a segment, as scoring read them: each block's
    document numbers, and its positions, decoded only when a document of it is checked.

    A phrase scores every candidate before it checks any; keeping the blocks' places then
    spares reading the term's postings again for each round of checks.
    """

    def __init__(self) -> None:
        self._lasts: list[int] = []
        self._ids: list[list[int]] = []
        self._later: list[Callable[[], Callable[[int], Any]]] = []
        self._decoded: dict[int, Callable[[int], Any]] = {}

    def add(self, ids: list[int], values_later: Callable[[], Callable[[int], Any]]) -> None:
        """A block read, in document order."""
        self._lasts.append(ids[-1])
        self._ids.append(ids)
        self._later.append(values_later)

    def values_for(self, docs: Iterable[int]) -> dict[int, Any]:
        """The term's values (positions) in those of `docs` its blocks hold."""
        out: dict[int, Any] = {}
        lasts, decoded = self._lasts, self._decoded
        for d in docs:
            k = bisect_left(lasts, d)
            if k == len(lasts):
                continue
            ids = self._ids[k]
            i = bisect_left(ids, d)
            if ids[i] != d:
                continue
            value = decoded.get(k)
            if value is None:
                if len(decoded) >= BLOCK_CACHE_SIZE:  # the oldest goes first
                    del decoded[next(iter(decoded))]
                value = decoded[k] = self._later[k]()
            out[d] = value(i)
        return out


def _load_column(reader: Any) -> Any:
    """A column's values for every document; reference columns are read as one array."""
    kind = type(reader).__qualname__
    if kind == "RefBytesColumn.Reader":
        count = reader._doccount
        refs = array(reader._typecode)
        refs.frombytes(reader._dbfile.get(reader._basepos, count * reader._itemsize))
        if sys.byteorder == "little" and reader._itemsize > 1:
            refs.byteswap()
        return RefColumn(refs, reader._uniques)
    if kind == "NumericColumn.Reader":
        values = array(reader._typecode)
        raw = reader._dbfile.get(reader._basepos, reader._count * reader._fixedlen)
        values.frombytes(raw)
        if sys.byteorder == "little" and reader._fixedlen > 1:
            values.byteswap()
        missing = reader._doccount - reader._count
        if missing > 0:
            values.extend([reader._default] * missing)
        return values
    return list(reader)


class RefColumn:
    """A column of references into a list of unique values, counted without expanding it."""

    def __init__(self, refs: array, uniques: list[bytes]) -> None:
        self.refs = refs
        self.uniques = [as_text(value) for value in uniques]

    def __getitem__(self, docnum: int) -> str:
        return self.uniques[self.refs[docnum]]

    def count(self, docs: Iterable[int]) -> Counter[str]:
        counts = Counter(map(self.refs.__getitem__, docs))
        return Counter({self.uniques[ref]: n for ref, n in counts.items()})


def as_text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


COMPLEMENT_AT = 0.9
"""A segment more of which than this matches is counted by what does not match, subtracted
from its cached counts; below it, counting the matches in one pass is cheaper (merging a
segment's counts into the total is a Python step per value)."""


def facet_counts(parts: Iterable[tuple[Segment, Collection[int]]], fieldname: str) -> Counter[str]:
    """How many of each segment's documents have each value of a sortable field, read from
    the column: the values of every segment's matches go through one C-level count."""
    counts: Counter[str] = Counter()
    values: list[Iterable[Any]] = []
    for seg, docs in parts:
        column = seg.column(fieldname)
        if not isinstance(column, RefColumn):
            values.append(map(as_text, map(column.__getitem__, docs)))
        elif len(docs) > COMPLEMENT_AT * len(seg.live_docs):
            counts.update(seg.counts(fieldname))
            counts.subtract(column.count(seg.live_docs.difference(docs)))
        else:
            values.append(map(column.uniques.__getitem__, map(column.refs.__getitem__, docs)))
    counts.update(chain.from_iterable(values))
    return +counts
