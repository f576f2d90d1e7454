"""Ranking a query over whole postings lists instead of one posting at a time.

Each query node is evaluated a segment at a time into a dict of document → score, with the
same BM25F scores Whoosh gives (title boost, idf and average lengths over the whole index);
an AND reads its later terms only for the documents still in the running. Counting and
facets then read whole columns instead of stored fields. A query with a node this module
does not know raises `Unsupported`, and the caller uses Whoosh's own search.
"""

from __future__ import annotations

import heapq
import sys
import weakref
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import gt, sub
from typing import Any

from whoosh import query as Q
from whoosh.fields import DATETIME

from aggregator.index.pairs import is_pair, paired
from aggregator.index.phrases import (
    LAZY_PHRASES,
    PhraseCandidates,
    PhraseMatches,
    Unsupported,
)
from aggregator.index.reading import (
    Only,
    Scores,
    Segment,
    facet_counts,
    postings_blocks,
    summed,
)
from aggregator.index.topk import largest
from aggregator.index.words import WordMatches, word_terms

__all__ = [
    "FACET_COLUMNS",
    "Matches",
    "Page",
    "PhraseMatches",
    "Ranker",
    "Scores",
    "Segment",
    "Unsupported",
    "evaluate",
]


# -- evaluating a query tree -----------------------------------------------------------------


def evaluate(query: Any, segment: Segment, only: Only = None) -> Scores:
    """The query's matching documents in one segment, with Whoosh's BM25F scores.

    With `only`, documents outside it may be left out (the caller intersects anyway).
    """
    kind = type(query)
    if kind is Q.Term:
        return _term(query, segment, only)
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
    if kind is Q.Require:  # both sides, scored by the first (as Whoosh scores it)
        scores = evaluate(query.a, segment, only)
        if scores:
            required = evaluate(query.b, segment, scores)
            scores = {d: s for d, s in scores.items() if d in required}
        return _boosted(scores, query.boost)
    if kind is Q.AndMaybe:  # the first side, with the second's score where it also matches
        scores = evaluate(query.a, segment, only)
        if scores:
            maybe = evaluate(query.b, segment, scores)
            scores = {d: s + maybe.get(d, 0.0) for d, s in scores.items()}
        return _boosted(scores, query.boost)
    if kind is Q.Not:  # alone (inside And it is subtracted): every other document
        excluded = evaluate(query.query, segment)
        return dict.fromkeys(segment.live_docs - excluded.keys(), 1.0)
    if kind is Q.Every:
        return dict.fromkeys(segment.live_docs, query.boost)
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


def _term(query: Any, segment: Segment, only: Only = None, adding: Scores | None = None) -> Scores:
    """A Term query's scores (with `adding`, added to an AND's so far, in the same pass)."""
    btext = segment.btext(query)
    if btext is None:
        return {}
    return segment.term(query.fieldname, btext, query.boost, only, adding=adding)


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
    scored by the best of its terms: the term's BM25 score; for a query that weighs its
    terms (`expansion_boost`: a near match weighs less than the word), times that weight,
    with the terms' idf blended.

    Not the terms' sum: an entry holding many of the expansions (`hosp*`: hospital, host,
    hospice) would outrank one holding the word meant, and the raw term counts Whoosh adds
    up are on no scale a word's score is on.
    """
    fieldname = query.field()
    schema = segment.reader.schema
    if fieldname not in schema:
        return {}
    boost_of = getattr(query, "expansion_boost", None)
    btexts = segment.expand(query)
    if isinstance(query, Q.Wildcard) and query.text[:1] in "*?":
        # `*ing`, `*a*`: most of the vocabulary, and words alike only in a letter or two.
        # Which entries hold any of them is found, all scored alike (Lucene's constant-score
        # rewrite): scoring each of thousands of terms took seconds and ranked nothing.
        docs: set[int] = set()
        for btext in btexts:
            matcher = segment.postings(fieldname, btext)
            if matcher is not None:
                for ids, _ in postings_blocks(matcher):
                    docs.update(ids)
        return dict.fromkeys(docs, 1.0)
    idf = segment.top.idf
    # Near terms are weighed by closeness and blended (see `_blended_idf`); a prefix's or a
    # wildcard's are all words asked for, each scored as itself.
    blend = boost_of is not None and schema[fieldname].scorable and bool(btexts)
    blended = _blended_idf(query, segment) if blend else 1.0
    out: Scores = {}
    for btext in btexts:
        boost = 1.0
        if boost_of is not None:
            boost = boost_of(btext)
        if blend:
            boost *= blended / (idf(fieldname, btext) or blended or 1.0)
        scores = segment.term(fieldname, btext, boost)
        if not out:
            out = scores
            continue
        # The better of the two scores, by C-level maps (a wildcard may have thousands of
        # terms, and their postings most of the index).
        docs, new = list(scores), list(scores.values())
        better = list(map(gt, new, map(out.get, docs, repeat(0.0))))
        out.update(zip(compress(docs, better), compress(new, better), strict=False))
    return out


_BLENDED: weakref.WeakKeyDictionary[Any, dict[Any, float]] = weakref.WeakKeyDictionary()
"""By searcher, each expanding query's blended idf."""


def _blended_idf(query: Any, segment: Segment) -> float:
    """One idf for all the terms a query expands to: the commonest one's, over the whole
    index (as Lucene blends them). A rare near term (`vicinity` for `vacine~`) would
    otherwise outscore the common word meant; over every segment, so that each segment
    (and the helper process's half) scores alike."""
    top = segment.top
    known = _BLENDED.setdefault(top, {})
    found = known.get(query)
    if found is None:
        fieldname = query.field()
        field = top.schema[fieldname]
        btexts = (
            field.to_bytes(t) if isinstance(t, str) else t
            for searcher, _ in top.leaf_searchers()
            for t in query._btexts(searcher.reader())
        )
        # Words only, as `Segment.expand` gives them: a pair ("to the" for `tothe~`) is
        # no word the query can match, and its idf would set every near word's score.
        idfs = [top.idf(fieldname, btext) for btext in btexts if not is_pair(btext)]
        if len(known) >= 256:  # a long session of typed queries
            known.clear()
        found = known[query] = min(idfs, default=1.0)
    return found


def _and(subqueries: list[Any], segment: Segment, only: Only = None) -> Scores:
    positive = [q for q in subqueries if type(q) is not Q.Not]
    negative = [q.query for q in subqueries if type(q) is Q.Not]
    if not positive:  # only exclusions: every live document but theirs
        live = segment.live_docs if only is None else segment.live_docs.intersection(only)
        result: Scores = dict.fromkeys(live, 0.0)
        ordered = []
    else:  # rarest first: once the running intersection is empty the rest need not be read
        ordered = sorted(positive, key=lambda q: _estimate(q, segment))
        result = evaluate(ordered[0], segment, only)
    for term in ordered[1:]:
        if not result:
            return {}
        if type(term) is Q.Term:  # read and added in one pass
            result = _term(term, segment, adding=result)
            continue
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
    result = summed(evaluate(sub, segment, only) for sub in query.subqueries)
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


# -- a whole search ----------------------------------------------------------------------------


FACET_COLUMNS = ("topic", "source_url")
"""The columns a page counts its matches by (topic and source)."""


@dataclass
class Page:
    """What a search shows of a query's matches: the best rows, the count and the facets.

    Rows are (key, -docnum, score), best first: the key is the score, or the date when the
    newest come first. Pages of different segments merge into the page of all of them.
    """

    total: int
    exact: bool
    rows: list[tuple[Any, int, float]]
    facets: dict[str, Counter[str]]
    candidates: int = 0
    """For a phrase: its candidates (entries with all its words), checked or not."""

    @staticmethod
    def merged(pages: Iterable[Page], size: int) -> Page:
        pages = list(pages)
        facets: dict[str, Counter[str]] = {}
        for page in pages:
            for column, counts in page.facets.items():
                facets.setdefault(column, Counter()).update(counts)
        return Page(
            total=sum(page.total for page in pages),
            exact=all(page.exact for page in pages),
            rows=heapq.nlargest(size, chain.from_iterable(page.rows for page in pages)),
            facets=facets,
            candidates=sum(page.candidates for page in pages),
        )


class Ranker:
    """Ranks, counts and facets a query over every segment of one Whoosh searcher (or, as
    `view` gives, over some of them)."""

    def __init__(
        self, searcher: Any, segments: list[Segment] | None = None, share: float = 1.0
    ) -> None:
        self.searcher = searcher
        if segments is None:
            segments = [Segment(s, offset, searcher) for s, offset in searcher.leaf_searchers()]
        self.segments = segments
        self.share = share
        """The part of the index's documents these segments hold."""

    def view(self, positions: Iterable[int]) -> Ranker:
        """A ranker over some of the segments (by position), sharing what they have loaded."""
        segments = [self.segments[i] for i in positions]
        total = sum(s.reader.doc_count_all() for s in self.segments) or 1
        share = self.share * sum(s.reader.doc_count_all() for s in segments) / total
        return Ranker(self.searcher, segments, share)

    def page(
        self,
        query: Any,
        restrict: Any,
        exclude: Any,
        size: int,
        newest: bool,
        lazy_above: float | None = None,
    ) -> Page:
        """The best `size` rows, the count and the facets of `query`'s matches."""
        matches = self.matches(query, restrict, exclude, lazy_above)
        if newest:
            published = self._published()
            rows = [(published(d), -d, score) for d, score in matches.top(size, newest=True)]
        else:
            rows = [(score, -d, score) for d, score in matches.top(size)]
        return Page(
            total=len(matches),
            exact=matches.exact,
            rows=rows,
            facets={column: matches.facets(column) for column in FACET_COLUMNS},
            candidates=matches.candidates,
        )

    def _published(self) -> Callable[[int], Any]:
        """An index-wide document's date, from its segment's column."""
        offsets = [seg.offset for seg in self.segments]

        def date(docnum: int) -> Any:
            seg = self.segments[bisect_right(offsets, docnum) - 1]
            return seg.column("published")[docnum - seg.offset]

        return date

    def matches(
        self,
        query: Any,
        restrict: Any = None,
        exclude: Any = None,
        lazy_above: float | None = None,
    ) -> Matches | PhraseMatches | WordMatches:
        """Every match of `query`; `restrict`/`exclude` are queries for filters and masks.

        A phrase with more candidates than `lazy_above` (LAZY_PHRASES, in proportion to the
        share of the index this ranker sees) is checked lazily (see `PhraseMatches`);
        everything else is matched, scored and counted exactly.
        """
        if lazy_above is None:
            lazy_above = LAZY_PHRASES * self.share
        query = paired(query, self.searcher.schema)
        terms = word_terms(query)
        if terms is not None and restrict is None and exclude is None:
            return WordMatches(self.segments, terms)
        phrases = _phrase_parts(query)
        if phrases is not None:
            candidates = [
                self._phrase_candidates(seg, phrases, restrict, exclude) for seg in self.segments
            ]
            lazy = PhraseMatches([c for c in candidates if c[2]], self.share)
            if lazy.candidates > lazy_above:
                return lazy
            checked = [(seg, scores) for seg, scores in lazy.checked_all() if scores]
            return Matches(checked, candidates=lazy.candidates)
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
        return seg, found, _filtered(summed(p.bounds for p in found), seg, restrict, exclude)


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


class Matches:
    """A query's matches, kept per segment: counting and facets never leave the segment."""

    exact = True

    def __init__(self, parts: list[tuple[Segment, Scores]], candidates: int = 0) -> None:
        self.parts = parts
        self.candidates = candidates  # a phrase's, when it is one

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
        parts: list[tuple[list[Any], tuple[Iterable[Any], ...]]] = []
        for seg, scores in self.parts:
            # Keys built by C-level maps: no Python call per match.
            docs = map(sub, repeat(-seg.offset), scores)  # -(offset + d), for ties
            if newest:
                published = seg.column("published")
                keys = list(map(published.__getitem__, scores))
            else:
                keys = list(scores.values())
            parts.append((keys, (docs, scores.values())))
        return [(-neg, score) for _, neg, score in largest(limit, parts)]

    def facets(self, fieldname: str) -> Counter[str]:
        """How many matches have each value of a sortable field."""
        return facet_counts(self.parts, fieldname)
