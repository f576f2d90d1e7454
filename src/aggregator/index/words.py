"""One word's matches: counted and faceted from its document numbers alone, ranked by
scoring only the postings blocks that can reach the page.

Most searches are a single word (the terminal UI searches as the user types), and a common
word is in nearly every entry: scoring each of its postings cost more than everything else
in the search. A block's header holds its largest weight and shortest field length, which
bound the BM25 score of every document in it; blocks are taken best bound first, and once
the page's last score is above every bound left, the rest are never scored ("block-max",
as in Ding and Suel's block-max WAND). That bound mixes two documents and is loose, so a
block that passes it is scored only if its impacts (its best document's score) can reach
the page too. Counts and facets need only the document numbers.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import add, le, sub
from typing import Any

from whoosh import query as Q
from whoosh.codec.whoosh3 import W3LeafMatcher

from aggregator.index.reading import (
    BM25_K1,
    Scores,
    Segment,
    block_bound,
    block_impacts,
    bm25,
    current_block,
    facet_counts,
    impacts_bound,
    summed,
)
from aggregator.index.topk import largest

MERGE_AT = 8
"""Rows waiting, as a multiple of the page, before they are merged into it."""


def word_terms(query: Any) -> list[Any] | None:
    """The terms of a query of one term, or of one term in each of two fields OR'ed (a
    plain word searches title and content; two different words in two fields work the
    same way). None for anything else."""
    if type(query) is Q.Term and query.boost == 1.0:
        return [query]
    if (
        type(query) is Q.Or
        and not query.scale
        and query.boost == 1.0
        and len(query.subqueries) == 2
        and all(type(q) is Q.Term and q.boost == 1.0 for q in query.subqueries)
        and len({q.fieldname for q in query.subqueries}) == 2
    ):
        return list(query.subqueries)
    return None


@dataclass
class _Block:
    bound: float
    """From the block's header: cheap, and often above its best score."""
    ids: list[int]
    weights: Sequence[float]
    impacts: bytes | None
    """Its impacts as kept, decoded into its best score only if `bound` could reach the
    page: a title's word rarely needs it, a common word's needs it for most blocks."""


@dataclass
class _Part:
    """One segment's share: the documents, the small field scored, the large one in blocks."""

    seg: Segment
    docs: set[int]
    small: Scores
    seeds: Scores = field(default_factory=dict)
    """The documents with the small field, scored: a title's word outweighs most blocks'
    best, so these are ranked apart and the blocks bound only the documents without it."""
    factor: float = 0.0
    norms: list[float] = field(default_factory=list)
    """By encoded length, for the blocks' bounds."""
    doc_norms: list[float] = field(default_factory=list)
    """By document, for scores."""
    blocks: list[_Block] = field(default_factory=list)

    def found(self, docs: Iterable[int]) -> tuple[list[int], list[float]]:
        """Which of `docs` the blocks hold, with their weights (looked up, not scanned)."""
        lasts = [block.ids[-1] for block in self.blocks]
        found: list[int] = []
        weights: list[float] = []
        for d in docs:
            k = bisect_left(lasts, d)
            if k < len(lasts):
                block = self.blocks[k]
                i = bisect_left(block.ids, d)
                if block.ids[i] == d:
                    found.append(d)
                    weights.append(block.weights[i])
        return found, weights

    def score(self, ids: list[int], weights: Sequence[float]) -> list[float]:
        """The documents' scores, as `Segment.term` and `_or` compute them."""
        normed = map(self.doc_norms.__getitem__, ids)
        large = bm25(self.factor, weights, normed)
        if not self.small:
            return list(large)
        return list(map(add, map(self.small.get, ids, repeat(0.0)), large))


class WordMatches:
    """A single word's matches (see the module's text); the same answers as `Matches`."""

    exact = True
    candidates = 0  # not a phrase

    def __init__(self, segments: list[Segment], terms: list[Any]) -> None:
        self.terms = terms
        self.parts = [p for p in (self._part(seg) for seg in segments) if p is not None]

    def _part(self, seg: Segment) -> _Part | None:
        schema = seg.reader.schema
        found: list[tuple[int, Any, bytes]] = []
        for term in self.terms:
            btext = seg.btext(term)
            if btext is not None and (term.fieldname, btext) in seg.reader:
                found.append((seg.reader.doc_frequency(term.fieldname, btext), term, btext))
        if not found:
            return None
        # The field with fewer postings (a title's) is scored whole; the other in blocks.
        found.sort(key=lambda f: f[0])
        small: Scores = {}
        if len(found) == 2:
            _, term, sbtext = found[0]
            small = seg.term(term.fieldname, sbtext)
        _, large, btext = found[-1]
        part = _Part(seg, set(small), small)
        matcher = seg.postings(large.fieldname, btext)
        if not isinstance(matcher, W3LeafMatcher) or not schema[large.fieldname].scorable:
            part.seeds = summed([seg.term(large.fieldname, btext), small])
            part.docs = set(part.seeds)
            return _live(part)
        part.factor = seg.top.idf(large.fieldname, btext) * (BM25_K1 + 1)
        part.norms = seg.norms(large.fieldname)
        part.doc_norms = seg.doc_norms(large.fieldname)
        part.seeds = dict(small)  # documents with the small field only keep its score
        while matcher.is_active():
            bound = block_bound(matcher, part.factor, part.norms)
            ids, weights = current_block(matcher)
            part.blocks.append(_Block(bound, ids, weights, block_impacts(matcher)))
            matcher._next_block()
        if small:
            both, weights = part.found(small)
            part.seeds.update(zip(both, part.score(both, weights), strict=True))
        part.docs |= set(chain.from_iterable(b.ids for b in part.blocks))
        return _live(part)

    def __len__(self) -> int:
        return sum(len(p.docs) for p in self.parts)

    def scores(self) -> Scores:
        """Index-wide document number → score, every match scored (for checks)."""
        out: Scores = {}
        for part in self.parts:
            scores = {}
            for block in part.blocks:
                scores.update(zip(block.ids, part.score(block.ids, block.weights), strict=True))
            scores.update(part.seeds)
            out.update((d + part.seg.offset, s) for d, s in scores.items() if d in part.docs)
        return out

    def top(self, limit: int, newest: bool = False) -> list[tuple[int, float]]:
        """As `Matches.top`: by score (ties to the lower document number) or newest first."""
        if limit <= 0:
            return []
        if newest:
            return self._newest(limit)
        # Documents with the small field first, then blocks best bound first.
        best: list[tuple[float, int]] = []
        for part in self.parts:
            seeds = [d for d in part.seeds if d in part.docs]  # not deleted
            negs = map(sub, repeat(-part.seg.offset), seeds)
            rows = zip(map(part.seeds.__getitem__, seeds), negs, strict=True)
            best = heapq.nlargest(limit, chain(best, rows))
        queue = sorted(
            (
                (block.bound, i, j)
                for i, part in enumerate(self.parts)
                for j, block in enumerate(part.blocks)
            ),
            reverse=True,
        )
        # Rows that beat the page's last when found wait in `pending`, merged into the page
        # now and then: merging after every block cost more than scoring it.
        pending: list[tuple[float, int]] = []
        floor = best[-1][0] if len(best) >= limit else None
        for bound, i, j in queue:
            if floor is not None and floor > bound:
                break  # no document left can reach the page
            part = self.parts[i]
            block = part.blocks[j]
            if (
                floor is not None
                and block.impacts is not None
                and floor > impacts_bound(block.impacts, part.factor, part.norms)
            ):
                continue  # its best document cannot reach the page either
            scores = part.score(block.ids, block.weights)
            ids: Iterable[int] = block.ids
            if floor is not None:  # only what reaches the page's last (C-level maps)
                beats = list(map(le, repeat(floor), scores))
                scores, ids = list(compress(scores, beats)), list(compress(ids, beats))
            offset, docs, small = part.seg.offset, part.docs, part.small
            # Documents with the small field are among the seeds already.
            pending += [
                (s, -(offset + d))
                for s, d in zip(scores, ids, strict=True)
                if d in docs and d not in small
            ]
            if len(pending) >= MERGE_AT * limit:
                best, pending = heapq.nlargest(limit, chain(best, pending)), []
                floor = best[-1][0] if len(best) >= limit else None
        best = heapq.nlargest(limit, chain(best, pending))
        return [(-neg, score) for score, neg in best]

    def _newest(self, limit: int) -> list[tuple[int, float]]:
        """Newest first needs no score but the page's: dates over every match, then the few
        documents of the page scored."""
        parts: list[tuple[list[Any], tuple[Any, ...]]] = []
        for part in self.parts:
            docs = list(part.docs)
            published = part.seg.column("published")
            dates = list(map(published.__getitem__, docs))
            parts.append((dates, (map(sub, repeat(-part.seg.offset), docs),)))
        found = [-neg for _, neg in largest(limit, parts)]
        scores = self._scores_of(found)
        return [(d, scores[d]) for d in found]

    def _scores_of(self, docs: list[int]) -> Scores:
        """The scores of a few index-wide documents, from the blocks that hold them (found
        by bisection, not by scanning every block)."""
        out: Scores = {}
        for part in self.parts:
            offset = part.seg.offset
            mine = sorted(d - offset for d in docs if d - offset in part.docs)
            if not mine:
                continue
            seeded = [d for d in mine if d in part.seeds]
            out.update((d + offset, part.seeds[d]) for d in seeded)
            ids, weights = part.found(d for d in mine if d not in part.seeds)
            out.update(zip([d + offset for d in ids], part.score(ids, weights), strict=True))
        return out

    def facets(self, fieldname: str) -> Counter[str]:
        """As `Matches.facets`, from the matches' document numbers (no score needed)."""
        return facet_counts([(p.seg, p.docs) for p in self.parts], fieldname)


def _live(part: _Part) -> _Part | None:
    """The part without the segment's deleted documents (postings still hold them), or
    None when nothing is left."""
    if part.seg.deleted:
        part.docs -= part.seg.deleted
    return part if part.docs else None
