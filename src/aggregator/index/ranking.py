"""Ranking whole postings lists at once, a block at a time, instead of a posting at a time.

Whoosh answers a query by walking a tree of matchers one document at a time: a few Python
calls per matching document and per query term, which at 100k entries and a common word is
most of a second. Here each term's postings are read a block at a time (document numbers,
weights, and positions only for phrases), scored with the same BM25F formula in one list
comprehension, and combined with set and dict operations; counting and facets then read
whole columns instead of stored fields. A query with a node this module does not know raises
`Unsupported`, and the caller uses Whoosh's own search.
"""

from __future__ import annotations

import heapq
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from itertools import accumulate, compress, repeat
from operator import add, mul, sub, truediv
from typing import Any

from whoosh import query as Q
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.fields import DATETIME
from whoosh.reading import TermNotFound
from whoosh.system import _INT_SIZE
from whoosh.util.numeric import byte_to_length

from aggregator.index.analysis import FastPositions

Scores = dict[int, float]
"""Document number (within one segment) → score."""
Only = Scores | set[int] | None
"""The documents a search still considers (in an AND), or None for all of them."""


class Unsupported(Exception):
    """The query has a node only Whoosh's matchers know how to run."""


class Segment:
    """One segment's reader with what ranking needs of it, loaded once per searcher."""

    def __init__(self, searcher: Any, offset: int, top: Any) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.offset = offset
        self.top = top  # the whole index's searcher: idf and average lengths are global
        self.deleted: frozenset[int] = frozenset(getattr(self.reader, "deleted_docs_set", ()))
        self._norms: dict[str, list[float]] = {}
        self._lengths: dict[str, bytes] = {}
        self._columns: dict[str, Any] = {}
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

    def term(self, fieldname: str, btext: bytes, boost: float = 1.0, only: Only = None) -> Scores:
        """A term's documents scored by BM25F as Whoosh scores them (of `only`, if given)."""
        return self.read(fieldname, btext, boost, only=only)[0]

    def read(
        self,
        fieldname: str,
        btext: bytes,
        boost: float = 1.0,
        values: bool = False,
        only: Only = None,
    ) -> tuple[Scores, dict[int, bytes]]:
        """A term's scores and, when asked (phrases), its postings' values (positions).

        One pass over the postings: a block is decompressed once for both. With `only`
        (the documents still in the running, in an AND), the blocks before the first of them
        are skipped unread, and only theirs are scored.
        """
        kept: dict[int, bytes] = {}
        if (fieldname, btext) not in self.reader:
            return {}, kept
        matcher = self.postings(fieldname, btext)
        if matcher is None:
            return {}, kept
        field = self.reader.schema[fieldname]
        out: Scores = {}
        scorable = field.scorable
        if scorable:
            factor = self.top.idf(fieldname, btext) * (BM25_K1 + 1) * boost
            norms = self.norms(fieldname)
            lengths = self.lengths(fieldname)
        for ids, weights, block_values in _blocks(matcher, values, only):
            if scorable:
                # factor * w / (w + norm of the length), by C-level maps: no Python step
                # per posting.
                normed = map(norms.__getitem__, map(lengths.__getitem__, ids))
                scores = list(
                    map(mul, repeat(factor), map(truediv, weights, map(add, weights, normed)))
                )
            else:  # Whoosh scores these by the posting's weight
                scores = [w * boost for w in weights]
            out.update(zip(ids, scores, strict=True))
            if values:
                kept.update(zip(ids, block_values, strict=True))
        return out, kept

    def values_for(self, fieldname: str, btext: bytes, docs: list[int]) -> dict[int, bytes]:
        """The term's posting values (positions) in `docs` (sorted, all holding the term),
        read only from the blocks that hold them."""
        out: dict[int, bytes] = {}
        matcher = self.postings(fieldname, btext)
        if matcher is None:
            return out
        if not isinstance(matcher, W3LeafMatcher):
            wanted = set(docs)
            while matcher.is_active():
                if matcher.id() in wanted:
                    out[matcher.id()] = matcher.value()
                matcher.next()
            return out
        at = 0
        while matcher.is_active() and at < len(docs):
            last = matcher.block_max_id()
            if docs[at] <= last:
                start = at
                while at < len(docs) and docs[at] <= last:
                    at += 1
                index = {d: i for i, d in enumerate(_block_ids(matcher))}
                matcher._read_values()
                values = matcher._values
                for d in docs[start:at]:
                    i = index.get(d)
                    if i is not None:
                        out[d] = values[i]
            matcher._next_block()
        return out

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
        key = f"{fieldname}:sorted"
        cached = self._columns.get(key)
        if cached is None:
            column = self.column(fieldname)
            order = array("I", sorted(range(len(column)), key=column.__getitem__))
            cached = (array(column.typecode, map(column.__getitem__, order)), order)
            self._columns[key] = cached
        return cached

    def all_docs(self) -> set[int]:
        return set(self.live_docs())

    def live_docs(self) -> frozenset[int]:
        """Every document not deleted (kept: a common word's facets count its complement)."""
        live = self._columns.get(":live")
        if live is None:
            live = frozenset(range(self.reader.doc_count_all())) - self.deleted
            self._columns[":live"] = live
        return live

    def live_count(self) -> int:
        return len(self.live_docs())

    def counts(self, fieldname: str) -> Counter[str]:
        """How many live documents have each value of a reference column."""
        key = f"{fieldname}:counts"
        counts = self._columns.get(key)
        if counts is None:
            counts = self.column(fieldname).count(self.live_docs())
            self._columns[key] = counts
        return counts


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


def _blocks(
    matcher: Any, values: bool = False, only: Only = None
) -> Iterable[tuple[Any, Any, Any]]:
    """(ids, weights, values or None) a block at a time, of the documents in `only` if
    given; other matchers (inlined postings) in one piece."""
    if only is not None and not only:
        return
    first = min(only) if only is not None else 0
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        while matcher.is_active():
            if matcher.block_max_id() < first:
                matcher._next_block()  # its header says none of `only` is in it
                continue
            ids = _block_ids(matcher)
            matcher._read_weights()
            weights = matcher._weights
            if values:
                matcher._read_values()
            kept = matcher._values
            if only is not None:
                # Chosen by C-level maps: no Python step per posting.
                keep = list(map(only.__contains__, ids))
                if any(keep):
                    ids = list(compress(ids, keep))
                    weights = list(compress(weights, keep))
                    kept = list(compress(kept, keep)) if values else None
                    yield ids, weights, kept
            else:
                yield ids, weights, kept
            matcher._next_block()
        return
    ids, weights, kept = [], [], []
    while matcher.is_active():
        if only is None or matcher.id() in only:
            ids.append(matcher.id())
            weights.append(matcher.weight())
            kept.append(matcher.value() if values else None)
        matcher.next()
    yield ids, weights, kept


def _load_column(reader: Any) -> Any:
    """A column's values for every document; reference columns are read as one array."""
    kind = type(reader).__qualname__
    if kind == "RefBytesColumn.Reader":
        count = reader._doccount
        refs = array(reader._typecode)
        refs.frombytes(reader._dbfile.get(reader._basepos, count * reader._itemsize))
        if sys.byteorder == "little" and reader._itemsize > 1:
            refs.byteswap()
        return _Mapped(refs, reader._uniques)
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


class _Mapped:
    """A column of references into a list of unique values, counted without expanding it."""

    def __init__(self, refs: array, uniques: list[bytes]) -> None:
        self.refs = refs
        self.uniques = [_text(value) for value in uniques]

    def __getitem__(self, docnum: int) -> str:
        return self.uniques[self.refs[docnum]]

    def count(self, docs: Iterable[int]) -> Counter[str]:
        counts = Counter(map(self.refs.__getitem__, docs))
        return Counter({self.uniques[ref]: n for ref, n in counts.items()})


def _text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


# -- evaluating a query tree -----------------------------------------------------------------


def evaluate(query: Any, segment: Segment, only: Only = None) -> Scores:
    """The query's matching documents in one segment, with Whoosh's BM25F scores.

    With `only`, documents outside it may be left out (the caller intersects anyway).
    """
    kind = type(query)
    if kind is Q.Term:
        schema = segment.reader.schema
        if query.fieldname not in schema:
            return {}
        field = schema[query.fieldname]
        try:
            btext = field.to_bytes(query.text)
        except ValueError:
            return {}
        return segment.term(query.fieldname, btext, query.boost, only)
    if kind is Q.And:
        return _boosted(_and(query.subqueries, segment, only), query.boost)
    if kind is Q.Or:
        return _boosted(_or(query, segment, only), query.boost)
    if kind is Q.AndNot:
        positive = evaluate(query.a, segment, only)
        if positive:
            negative = evaluate(query.b, segment, positive)
            positive = {d: s for d, s in positive.items() if d not in negative}
        return _boosted(positive, query.boost)
    if kind is Q.Not:  # alone (inside And it is subtracted): every other document
        excluded = evaluate(query.query, segment)
        return dict.fromkeys(segment.all_docs() - excluded.keys(), 1.0)
    if kind is Q.Every:
        return dict.fromkeys(segment.all_docs(), query.boost)
    if kind is Q.NullQuery.__class__ or query is Q.NullQuery:
        return {}
    if getattr(query, "constantscore", False) and isinstance(query, Q.MultiTerm):
        return _boosted(_expanded(query, segment), query.boost)
    if isinstance(query, Q.NumericRange):
        if _by_column(query, segment):
            return dict.fromkeys(segment.in_range(query), query.boost)
        return evaluate(query._compile_query(segment.reader), segment)
    if kind is Q.ConstantScoreQuery:
        return dict.fromkeys(evaluate(query.child, segment), query.score)
    if _is_phrase(query):
        return _phrase(query, segment, only)
    raise Unsupported(type(query).__name__)


def _by_column(query: Any, segment: Segment) -> bool:
    """A range over a sortable date field: read from its column, not from its terms.

    A month of dates is thousands of distinct terms, each a look-up and a postings list.
    """
    schema = segment.reader.schema
    if query.fieldname not in schema or not query.constantscore:
        return False
    field = schema[query.fieldname]
    return (
        isinstance(field, DATETIME)
        and field.column_type is not None
        and (segment.reader.has_column(query.fieldname))
    )


def _boosted(scores: Scores, boost: float) -> Scores:
    if boost == 1.0:
        return scores
    return {d: s * boost for d, s in scores.items()}


def _expanded(query: Any, segment: Segment) -> Scores:
    """The documents of every term a prefix, wildcard, fuzzy term or range expands to, each
    scored (as Whoosh does with no weighting) by the summed weights of the terms it has."""
    fieldname = query.field()
    schema = segment.reader.schema
    if fieldname not in schema:
        return {}
    out: Scores = {}
    for btext in segment.expand(query):
        matcher = segment.postings(fieldname, btext)
        if matcher is not None:
            for ids, weights, _ in _blocks(matcher):
                get = out.get
                out.update({d: w + get(d, 0.0) for d, w in zip(ids, weights, strict=True)})
    return out


def _and(subqueries: list[Any], segment: Segment, only: Only = None) -> Scores:
    positive = [q for q in subqueries if type(q) is not Q.Not]
    negative = [q.query for q in subqueries if type(q) is Q.Not]
    if not positive:
        raise Unsupported("only negative terms")
    # Rarest first: once the running intersection is empty the rest need not be read.
    ordered = sorted(positive, key=lambda q: _estimate(q, segment))
    result = evaluate(ordered[0], segment, only)
    for term in ordered[1:]:
        if not result:
            return {}
        more = evaluate(term, segment, result)
        result = {d: s + more[d] for d, s in result.items() if d in more}
    for term in negative:
        if not result:
            break
        excluded = evaluate(term, segment, result)
        # Whoosh's inverse matcher scores each document it lets through 1.0: added so
        # that scores stay Whoosh's (the order is the same either way).
        result = {d: s + 1.0 for d, s in result.items() if d not in excluded}
    return result


def _estimate(query: Any, segment: Segment) -> int:
    if isinstance(query, Q.NumericRange) and _by_column(query, segment):
        return len(segment.in_range(query))
    try:
        return query.estimate_size(segment.reader)
    except Exception:  # a Whoosh node without an estimate: read it last
        return sys.maxsize


def _or(query: Any, segment: Segment, only: Only = None) -> Scores:
    parts = [evaluate(sub, segment, only) for sub in query.subqueries]
    if not parts:
        return {}
    parts.sort(key=len, reverse=True)
    result = dict(parts[0])
    for part in parts[1:]:
        get = result.get
        result.update({d: s + get(d, 0.0) for d, s in part.items()})
    if query.scale:
        result = _coordinated(query, segment, result)
    return result


def _coordinated(query: Any, segment: Segment, scores: Scores) -> Scores:
    """Whoosh's coordination bonus for OR with a scale: more of the terms, a higher score."""
    leaves = list(_term_leaves(query))
    termcount, scale = len(leaves), query.scale
    if termcount == 0 or termcount == scale:
        return dict.fromkeys(scores, 0.0)
    matching: Counter[int] = Counter()
    for leaf in leaves:
        matching.update(evaluate(leaf, segment).keys())
    weight = (termcount - 1) / termcount
    divisor = (termcount - scale) ** 2
    return {d: (s + (matching[d] - 1) / divisor) * weight for d, s in scores.items()}


def _term_leaves(query: Any) -> Iterable[Any]:
    if type(query) is Q.Term:
        yield query
    elif type(query) in (Q.Or, Q.And):
        for sub in query.subqueries:
            yield from _term_leaves(sub)
    else:
        raise Unsupported(f"coordination over {type(query).__name__}")


def _is_phrase(query: Any) -> bool:
    return isinstance(query, Q.Phrase)


def _phrase(query: Any, segment: Segment, only: Only = None) -> Scores:
    """Documents with the words in order (within the slop), scored as the words' sum."""
    phrase = PhraseCandidates(query, segment, only)
    return phrase.verify(sorted(phrase.bounds))


class PhraseCandidates:
    """A phrase's candidates in one segment (documents with all its words), each with the
    score it will have if the words do follow each other there: the words' scores summed.

    Checking positions is the costly part, so it is done only for the documents asked
    about, and the positions read only from the blocks that hold them.
    """

    def __init__(self, query: Any, segment: Segment, only: Only = None) -> None:
        self.query, self.segment = query, segment
        self.bounds: Scores = {}
        self.btexts: list[bytes] = []
        fieldname = query.fieldname
        schema = segment.reader.schema
        if fieldname not in schema:
            return
        field = schema[fieldname]
        if not isinstance(field.format, FastPositions):
            raise Unsupported(f"phrase over {type(field.format).__name__}")
        try:
            self.btexts = [field.to_bytes(word) for word in query.words]
        except ValueError:
            return
        if not self.btexts:
            return
        # Rarest word first: the others are read only for the documents it is in, and the
        # set of phrase starts it gives is the smallest to narrow.
        frequency = segment.reader.doc_frequency
        self._order = sorted(
            range(len(self.btexts)), key=lambda i: frequency(fieldname, self.btexts[i])
        )
        first, *others = self._order
        bounds = segment.term(fieldname, self.btexts[first], only=only)
        for i in others:
            if not bounds:
                return
            part = segment.term(fieldname, self.btexts[i], only=bounds)
            bounds = {d: b + part[d] for d, b in bounds.items() if d in part}
        if not bounds:
            return
        if query.boost != 1.0:
            bounds = {d: b * query.boost for d, b in bounds.items()}
        self.bounds = bounds

    def verify(self, docs: list[int]) -> Scores:
        """The documents of `docs` (in order) where the phrase is, with their scores."""
        if len(self.btexts) < 2 or not docs:
            return {d: self.bounds[d] for d in docs if d in self.bounds}
        fieldname, slop = self.query.fieldname, self.query.slop
        kept = [self.segment.values_for(fieldname, self.btexts[i], docs) for i in self._order]
        shifts = [[-(i + s) for s in range(slop)] for i in self._order]
        found: Scores = {}
        for d in docs:
            starts: set[int] | None = None
            for values, offsets in zip(kept, shifts, strict=True):
                positions = _positions(values[d])
                # Shifted by C-level maps: each word's positions moved back to where the
                # phrase would start.
                shifted = set().union(*(map(offset.__add__, positions) for offset in offsets))
                if starts is None:
                    starts = shifted
                else:
                    starts &= shifted
                if not starts:
                    break
            if starts:
                found[d] = self.bounds[d]
        return found


def _positions(value: bytes) -> array:
    """`FastPositions`' encoding: the count, a type code, then the positions as an array."""
    positions = array(chr(value[_INT_SIZE]))
    positions.frombytes(value[_INT_SIZE + 1 :])
    if sys.byteorder != "little":
        positions.byteswap()
    return positions


# -- a whole search ----------------------------------------------------------------------------


class Ranker:
    """Ranks, counts and facets a query over every segment of one Whoosh searcher."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        self.segments = [Segment(s, offset, searcher) for s, offset in searcher.leaf_searchers()]

    def matches(
        self, query: Any, restrict: Any = None, exclude: Any = None
    ) -> Matches | PhraseMatches:
        """Every match of `query`; `restrict`/`exclude` are queries for filters and masks.

        A phrase with more candidates than LAZY_PHRASES is checked lazily (see
        `PhraseMatches`); everything else is matched, scored and counted exactly.
        """
        phrases = _phrase_parts(query)
        if phrases is not None:
            candidates = [
                self._phrase_candidates(seg, phrases, restrict, exclude) for seg in self.segments
            ]
            lazy = PhraseMatches([c for c in candidates if c[2]])
            if sum(len(bounds) for _, _, bounds in lazy.parts) > LAZY_PHRASES:
                return lazy
            return Matches([(seg, scores) for seg, scores in lazy.checked_all() if scores])
        parts = []
        for seg in self.segments:
            scores = _filtered(evaluate(query, seg), seg, restrict, exclude)
            if scores:
                parts.append((seg, scores))
        return Matches(parts)

    @staticmethod
    def _phrase_candidates(
        seg: Segment, phrases: list[Any], restrict: Any, exclude: Any
    ) -> tuple[Segment, list[PhraseCandidates], Scores]:
        found = [PhraseCandidates(p, seg) for p in phrases]
        # The largest copied, the others (a title's few) added to it.
        largest, *others = sorted((p.bounds for p in found), key=len, reverse=True)
        bounds = dict(largest)
        for part in others:
            get = bounds.get
            bounds.update({d: b + get(d, 0.0) for d, b in part.items()})
        return seg, found, _filtered(bounds, seg, restrict, exclude)


LAZY_PHRASES = 5_000
"""Phrase candidates (documents with all the words) beyond which positions are checked only
for the page shown and a sample that estimates the count and the facets."""
SAMPLE = 1_000
RUNS = 8
"""The sample is taken as this many runs of neighbouring documents, spread over the
segments: neighbours share postings blocks, so few blocks of positions are read."""


def _runs(docs: list[int], size: int, runs: int) -> list[int]:
    """`size` of the sorted `docs`, as `runs` runs of neighbours spread evenly over them."""
    if size >= len(docs):
        return docs
    runs = min(runs, size)
    length = size // runs
    stride = len(docs) // runs
    return [d for r in range(runs) for d in docs[r * stride : r * stride + length]]


def _phrase_parts(query: Any) -> list[Any] | None:
    """The phrases of a query that is a phrase, or phrases joined by OR (one per field)."""
    if _is_phrase(query):
        return [query]
    if (
        type(query) is Q.Or
        and not query.scale
        and query.boost == 1.0
        and query.subqueries
        and all(_is_phrase(q) for q in query.subqueries)
    ):
        return list(query.subqueries)
    return None


def _filtered(scores: Scores, seg: Segment, restrict: Any, exclude: Any) -> Scores:
    if scores and restrict is not None:
        allowed = evaluate(restrict, seg, scores)
        scores = {d: s for d, s in scores.items() if d in allowed}
    if scores and exclude is not None:
        denied = evaluate(exclude, seg, scores)
        scores = {d: s for d, s in scores.items() if d not in denied}
    if scores and seg.deleted:
        scores = {d: s for d, s in scores.items() if d not in seg.deleted}
    return scores


class PhraseMatches:
    """A common phrase's matches, found lazily.

    Every candidate's score if it matches is known before its positions are read (the sum
    of its words' scores), so candidates are checked best first until the page is certain;
    the count and the facets are estimated from a sample checked in full.
    """

    exact = False

    def __init__(self, parts: list[tuple[Segment, list[PhraseCandidates], Scores]]) -> None:
        self.parts = parts
        self._checked: list[Scores] = [{} for _ in parts]  # what is known to match
        self._seen: list[set[int]] = [set() for _ in parts]  # what has been checked
        self._total = 0
        self._sample: list[tuple[int, list[int]]] = []
        if parts:
            self._estimate()

    def _check(self, i: int, docs: Iterable[int]) -> None:
        seen = self._seen[i]
        todo = sorted(d for d in docs if d not in seen)
        if not todo:
            return
        seen.update(todo)
        checked = self._checked[i]
        for phrase in self.parts[i][1]:
            mine = [d for d in todo if d in phrase.bounds]
            for d, score in phrase.verify(mine).items():
                checked[d] = checked.get(d, 0.0) + score

    def checked_all(self) -> list[tuple[Segment, Scores]]:
        for i, (_, _, bounds) in enumerate(self.parts):
            self._check(i, bounds)
        return [(seg, self._checked[i]) for i, (seg, _, _) in enumerate(self.parts)]

    def _estimate(self) -> None:
        candidates = sum(len(bounds) for _, _, bounds in self.parts)
        share = SAMPLE / candidates
        found = tried = 0
        for i, (_, _, bounds) in enumerate(self.parts):
            runs = max(1, round(RUNS * len(bounds) / candidates))
            sample = _runs(sorted(bounds), max(1, round(len(bounds) * share)), runs)
            self._check(i, sample)
            hits = [d for d in sample if d in self._checked[i]]
            self._sample.append((i, hits))
            found += len(hits)
            tried += len(sample)
        self._total = round(candidates * found / tried) if tried else 0

    def __len__(self) -> int:
        return self._total

    def scores(self) -> Scores:
        out: Scores = {}
        for seg, scores in self.checked_all():
            out.update(zip([d + seg.offset for d in scores], scores.values(), strict=True))
        return out

    def top(self, limit: int, newest: bool = False) -> list[tuple[int, float]]:
        """As `Matches.top`, checking candidates in the order of their best possible key
        (score or date) until no unchecked one can enter the page."""
        want = limit * 2
        candidates = sum(len(bounds) for _, _, bounds in self.parts)
        while True:
            best: list[tuple[Any, int, int, int]] = []
            for i, (seg, _, bounds) in enumerate(self.parts):
                keys: Iterable[Any]
                if newest:
                    keys = map(seg.column("published").__getitem__, bounds)
                else:
                    keys = bounds.values()
                negs = map(sub, repeat(-seg.offset), bounds)  # -(offset + d)
                best.extend(heapq.nlargest(want, zip(keys, negs, repeat(i), bounds)))
            best = heapq.nlargest(want, best)
            for i in range(len(self.parts)):
                self._check(i, [d for _, _, part, d in best if part == i])
            hits = [
                (key if newest else self._checked[i][d], neg, self._checked[i][d])
                for key, neg, i, d in best
                if d in self._checked[i]
            ]
            hits.sort(reverse=True)
            floor = best[-1][0] if best else None
            if len(best) >= candidates or (len(hits) >= limit and hits[limit - 1][0] >= floor):
                return [(-neg, score) for _, neg, score in hits[:limit]]
            want *= 4

    def facets(self, fieldname: str) -> Counter[str]:
        """Counts over the checked sample, scaled to the estimated total."""
        counts: Counter[str] = Counter()
        sampled = sum(len(hits) for _, hits in self._sample)
        if not sampled:
            return counts
        scale = self._total / sampled
        for i, hits in self._sample:
            column = self.parts[i][0].column(fieldname)
            for value, n in Counter(map(column.__getitem__, hits)).items():
                counts[_text(value)] += n
        return Counter({name: max(1, round(n * scale)) for name, n in counts.items()})


class Matches:
    """A query's matches, kept per segment: counting and facets never leave the segment."""

    exact = True

    def __init__(self, parts: list[tuple[Segment, Scores]]) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(scores) for _, scores in self.parts)

    def scores(self) -> Scores:
        """Index-wide document number → score."""
        out: Scores = {}
        for seg, scores in self.parts:
            out.update(zip([d + seg.offset for d in scores], scores.values(), strict=True))
        return out

    def top(self, limit: int, newest: bool = False) -> list[tuple[int, float]]:
        """The best `limit` (index-wide docnum, score): by score, ties to the lower document
        number as in Whoosh, or by the published date, newest first."""
        best: list[tuple[Any, int, float]] = []
        for seg, scores in self.parts:
            # Keys built by C-level maps: no Python call per match.
            docs = map(sub, repeat(-seg.offset), scores)  # -(offset + d), for ties
            if newest:
                published = seg.column("published")
                keys: Iterable[Any] = map(published.__getitem__, scores)
            else:
                keys = scores.values()
            best.extend(heapq.nlargest(limit, zip(keys, docs, scores.values(), strict=True)))
        return [(-neg, score) for _, neg, score in heapq.nlargest(limit, best)]

    def facets(self, fieldname: str) -> Counter[str]:
        """How many matches have each value of a sortable field."""
        counts: Counter[str] = Counter()
        for seg, scores in self.parts:
            column = seg.column(fieldname)
            if not isinstance(column, _Mapped):
                counts.update(_text(v) for v in map(column.__getitem__, scores))
            elif len(scores) * 2 > seg.live_count():
                # Most of the segment matches: count the few that do not, and subtract.
                counts.update(seg.counts(fieldname))
                counts.subtract(column.count(seg.live_docs() - scores.keys()))
            else:
                counts.update(column.count(scores))
        return +counts
