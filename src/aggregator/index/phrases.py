"""Phrases: documents where the words follow each other, checked only where they must be.

A phrase's candidates (documents holding all its words) and the score each will have if the
words do follow each other there are known from the words' postings alone; positions are
read only for the documents being checked, from the blocks that hold them. A common phrase
is checked lazily: best candidates first until the page is certain, and a sample for the
count and the facets.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from itertools import repeat
from operator import sub
from typing import Any

from aggregator.index.analysis import FastPositions, positions_array
from aggregator.index.reading import Only, Scores, Segment, TermBlocks, facet_counts
from aggregator.index.topk import largest


class Unsupported(Exception):
    """The query has a node only Whoosh's matchers know how to run."""


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
        self._blocks: list[TermBlocks] = []
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
        # A word the phrase repeats ("the … the") is read once: its blocks are shared.
        shared = {btext: TermBlocks() for btext in self.btexts}
        self._blocks = [shared[btext] for btext in self.btexts]
        # Rarest word first: the others are read only for the documents it is in, and the
        # set of phrase starts it gives is the smallest to narrow.
        frequency = segment.reader.doc_frequency
        self._order = sorted(
            range(len(self.btexts)), key=lambda i: frequency(fieldname, self.btexts[i])
        )
        distinct = list(dict.fromkeys(self.btexts[i] for i in self._order))
        bounds = segment.every(fieldname, distinct, only, [shared[b] for b in distinct])
        if not bounds:
            return
        for btext, times in Counter(self.btexts).items():
            if times > 1:  # scored once for each time it is in the phrase, as Whoosh does
                again = segment.term(fieldname, btext, only=bounds)
                bounds = {d: b + (times - 1) * again[d] for d, b in bounds.items()}
        if query.boost != 1.0:
            bounds = {d: b * query.boost for d, b in bounds.items()}
        self.bounds = bounds

    def verify(self, docs: list[int]) -> Scores:
        """The documents of `docs` (in order) where the phrase is, with their scores."""
        if len(self.btexts) < 2 or not docs:
            return {d: self.bounds[d] for d in docs if d in self.bounds}
        slop = self.query.slop
        values_of: dict[int, dict[int, Any]] = {}  # by term (a repeated word's are shared)
        for i in self._order:
            blocks = self._blocks[i]
            if id(blocks) not in values_of:
                values_of[id(blocks)] = blocks.values_for(docs)
        kept = [values_of[id(self._blocks[i])] for i in self._order]
        shifts = [[-(i + s) for s in range(slop)] for i in self._order]
        found: Scores = {}
        for d in docs:
            starts: set[int] | None = None
            decoded: dict[int, Any] = {}
            for values, offsets in zip(kept, shifts, strict=True):
                positions = decoded.get(id(values))
                if positions is None:
                    positions = decoded[id(values)] = positions_array(values[d])
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


class PhraseMatches:
    """A common phrase's matches, found lazily.

    Every candidate's score if it matches is known before its positions are read (the sum
    of its words' scores), so candidates are checked best first until the page is certain;
    the count and the facets are estimated from a sample checked in full.
    """

    exact = False

    def __init__(
        self, parts: list[tuple[Segment, list[PhraseCandidates], Scores]], share: float = 1.0
    ) -> None:
        """`share`: the part of the index these segments are (another process may check the
        rest): the sample shrinks with it, so that the two together check as many as one."""
        self.parts = parts
        self.candidates = sum(len(bounds) for _, _, bounds in parts)
        self._sample_size = max(1, round(SAMPLE * share))
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
        candidates = self.candidates
        share = self._sample_size / candidates
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
        candidates = self.candidates
        while True:
            parts: list[tuple[list[Any], tuple[Iterable[Any], ...]]] = []
            for i, (seg, _, bounds) in enumerate(self.parts):
                if newest:
                    keys = list(map(seg.column("published").__getitem__, bounds))
                else:
                    keys = list(bounds.values())
                negs = map(sub, repeat(-seg.offset), bounds)  # -(offset + d)
                parts.append((keys, (negs, repeat(i), bounds)))
            best = largest(want, parts)
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
            # Each round is a pass over every candidate: the next takes enough for the page
            # at the rate of matches among the best so far (which match more often than the
            # rest: a rate from a sample of all candidates would overshoot).
            rate = (len(hits) + 1) / (len(best) + 2)
            want = max(want * 2, len(best) + math.ceil(max(1, limit - len(hits)) * 1.5 / rate))

    def facets(self, fieldname: str) -> Counter[str]:
        """Counts over the checked sample, scaled to the estimated total."""
        sampled = sum(len(hits) for _, hits in self._sample)
        if not sampled:
            return Counter()
        scale = self._total / sampled
        counts = facet_counts([(self.parts[i][0], hits) for i, hits in self._sample], fieldname)
        return Counter({name: max(1, round(n * scale)) for name, n in counts.items()})
