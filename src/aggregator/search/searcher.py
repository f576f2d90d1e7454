"""Running a query: `Searcher` (a fresh reader when the index has changed, the helper
process), the ranker's search with Whoosh's own as the fallback, filters and facets, the
any-word retry, and what comes back (`RawResults`, with the terms to mark)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from whoosh import query as Q
from whoosh import sorting

from aggregator.errors import UserError
from aggregator.index import NO_TOPIC, Index
from aggregator.index.helper import MIN_DOCS as HELPER_MIN_DOCS
from aggregator.index.helper import SearchHelper
from aggregator.index.helper import supported as helper_supported
from aggregator.index.ranking import Page, Ranker, Unsupported
from aggregator.search.any_word import ParsedQuery, _loosened
from aggregator.search.characters import LoneCharacter
from aggregator.search.forgiving import _balanced
from aggregator.search.reading import parse_query
from aggregator.search.suggestions import _suggest

ANY_WORD_BELOW = 3
"""When requiring every word finds fewer hits than this, rank by any word instead."""
COUNT_EXACTLY = 20_000
"""Whoosh's own search (for queries the ranker does not know) counts matches one by one up
to this many (exact total and facets), and estimates beyond."""


@dataclass
class RawHit:
    id: str
    score: float | None
    """BM25F; None when sorted by date (Whoosh then reports the sort key here)."""
    source_url: str
    topic: str
    published: datetime | None
    canonical: str


@dataclass
class RawResults:
    hits: list[RawHit]
    total: int
    terms: set[str]
    """What to mark in a snippet: the words searched for, and (`phrases`) the phrases."""
    facets: dict[str, dict[str, int]]
    interpretation: str = ""
    suggestion: str = ""
    any_word: bool = False
    exact: bool = True
    """False when the matches were too many to count one by one: `total` is Whoosh's estimate
    and the facets count the best-ranked hits."""
    sort: str = "relevance"
    """The order of the hits: the one asked for, or newest when there was nothing to rank."""
    phrases: tuple[tuple[str, ...], ...] = ()


class Searcher:
    """Runs queries against one index; opens a fresh reader when the index has changed.

    With `helper`, a second search over a large index starts a helper process that ranks
    half of each later search (`index.helper`): a session that searches again and again
    gets both cores; a command that searches once never starts it.
    """

    def __init__(self, index: Index, *, helper: bool = False) -> None:
        self.index = index
        self._searcher: Any = None
        self._ranker: Ranker | None = None
        self._want_helper = helper and helper_supported()
        self._searches = 0
        self._helper: SearchHelper | None = None
        self._starting = threading.Lock()  # the terminal UI searches from worker threads

    def close(self) -> None:
        if self._helper is not None:
            self._helper.close()
            self._helper = None
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
            self._ranker = None

    def _current(self) -> Any:
        if self._searcher is None:
            self._searcher = self.index.whoosh.searcher()
            self._ranker = None
        elif not self._searcher.up_to_date():
            # A new searcher, not refresh(): Whoosh's refresh fails when the old reader was
            # of an empty index.
            self._searcher.close()
            self._searcher = self.index.whoosh.searcher()
            self._ranker = None
        return self._searcher

    def _helper_for(self, searcher: Any) -> SearchHelper | None:
        with self._starting:
            self._searches += 1
            if self._helper is None and self._want_helper and self._searches >= 2:
                self._want_helper = False  # one try per session
                if searcher.doc_count() >= HELPER_MIN_DOCS:
                    with contextlib.suppress(OSError):  # searches stay in this process
                        self._helper = SearchHelper(self.index.directory)
            return self._helper

    def _current_ranker(self) -> Ranker:
        searcher = self._current()
        if self._ranker is None:
            self._ranker = Ranker(searcher)
        return self._ranker

    def search(
        self,
        text: str,
        *,
        limit: int = 20,
        sort: str = "relevance",
        category: str | None = None,
        source: str | None = None,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
        now: datetime | None = None,
        text_of: Callable[[str], str] | None = None,
        tagged: Sequence[str] = (),
    ) -> RawResults:
        """Search; `allow`/`deny` restrict to or exclude entry ids (read and star filters);
        `tagged`: sources in the `category` by a tag, not by their folder (the index knows
        only the folder)."""
        if sort not in ("relevance", "newest"):
            raise UserError(f"unknown sort {sort!r}: use relevance or newest")
        parsed = parse_query(text, now=now)
        if _unranked(parsed.query):
            sort = "newest"  # nothing to rank by (no words, only dates or exclusions)
        ranker = self._current_ranker()
        searcher = ranker.searcher  # the ranker's own reader (`_current` may open a newer)
        ask = _Ask(
            filters=_filters(category, source, allow, tagged),
            mask=Q.Or([Q.Term("id", i) for i in deny]) if deny else None,
            limit=limit,
            sort=sort,
        )
        try:
            found = _ranked(ranker, parsed, ask, self._helper_for(searcher))
        except Unsupported:
            try:
                found = _whoosh_ranked(searcher, parsed, ask)
            except Exception as exc:  # Whoosh's matchers fail on a few rare combinations
                raise UserError(
                    f"this query could not be run ({type(exc).__name__}{': ' if str(exc) else ''}"
                    f"{exc}): try it with fewer operators"
                ) from None
        hits, parsed, total, facets, exact, any_word = found
        terms, phrases = _query_terms(parsed.query, ranker)
        return RawResults(
            hits=hits,
            total=total,
            terms=terms,
            phrases=phrases,
            facets=facets,
            interpretation="; ".join(parsed.notes),
            suggestion=(
                _suggest(searcher, parsed.words, _balanced(text), text_of) if len(hits) < 3 else ""
            ),
            any_word=any_word,
            exact=exact,
            sort=sort,
        )


def _unranked(query: Any) -> bool:
    """Whether there is nothing to rank by: everything, a date range, exclusions, or only
    who wrote it and where it is filed (`author:gruber`: one name on every match, scores
    that tie, and an order that would be the index's own)."""
    if isinstance(query, Q.Every | Q.DateRange | Q.Not):
        return True
    if isinstance(query, Q.And | Q.Or):
        return all(_unranked(q) for q in query.subqueries)
    return getattr(query, "fieldname", None) in _FILED_UNDER


_FILED_UNDER = frozenset({"author", "source", "category"})


Found = tuple[list["RawHit"], "ParsedQuery", int, dict[str, dict[str, int]], bool, bool]
"""Hits, the query as finally read, total, facets, whether the total is exact, any-word."""


@dataclass(frozen=True)
class _Ask:
    """What was asked besides the query: filters, mask, page and order."""

    filters: Any
    mask: Any
    limit: int
    sort: str


def _ranked(
    ranker: Ranker, parsed: ParsedQuery, ask: _Ask, helper: SearchHelper | None = None
) -> Found:
    """The search by whole postings lists: every match scored, counted and faceted exactly
    (a very common phrase's count and facets estimated); with a helper, half the segments
    are ranked in its process."""
    page = _page(ranker, parsed.query, ask, helper)
    any_word = False
    if page.total < ANY_WORD_BELOW and parsed.loose is not None:
        loose = _loosened(parsed, every=page.total)
        looser = _page(ranker, loose.query, ask, helper)
        if looser.total > page.total:
            if ask.sort == "relevance":
                looser.rows = _first(page.rows, looser.rows, key=lambda row: row[1])
            page, parsed, any_word = looser, loose, True
    stored = ranker.searcher.stored_fields
    hits = [_raw_hit(stored(-neg), score, ask.sort) for _, neg, score in page.rows]
    facets = {
        name: {value: n for value, n in page.facets[column].most_common() if value not in _NO_VALUE}
        for name, column in _FACET_COLUMNS
    }
    return hits, parsed, page.total, facets, page.exact, any_word


_FACET_COLUMNS = (("category", "topic"), ("source", "source_url"))
"""Each facet of a search, and the index column it counts."""
_NO_VALUE = ("", NO_TOPIC)
"""A facet column's value for an entry filed nowhere: not counted."""


def _raw_hit(fields: Any, score: float | None, sort: str) -> RawHit:
    """A hit from its stored fields (a mapping: the ranker's, or a Whoosh `Hit`)."""
    return RawHit(
        id=fields["id"],
        score=float(score or 0.0) if sort == "relevance" else None,
        source_url=fields.get("source_url", ""),
        topic=fields.get("topic", NO_TOPIC),
        published=_utc(fields.get("published")),
        canonical=fields.get("canonical", fields["id"]),
    )


def _page(ranker: Ranker, query: Any, ask: _Ask, helper: SearchHelper | None) -> Page:
    size, newest = _top_size(ask.limit), ask.sort == "newest"
    if helper is None:
        return ranker.page(query, ask.filters, ask.mask, size, newest)
    return helper.page(ranker, query, ask.filters, ask.mask, size, newest)


def _top_size(limit: int) -> int:
    return limit * 2 + 10  # room for one story found in several sources


def _whoosh_ranked(searcher: Any, parsed: ParsedQuery, ask: _Ask) -> Found:
    """The same search through Whoosh's matchers, for queries the ranker does not know."""
    sort = ask.sort
    run = _Runner(searcher, ask.limit, sort, ask.filters, ask.mask)
    results = run.top(parsed.query)
    hits = [_raw_hit(hit, hit.score, sort) for hit in results[: run.top_size]]
    any_word = False
    if len(hits) < ANY_WORD_BELOW and parsed.loose is not None:
        loose = _loosened(parsed, every=len(hits))
        looser = run.top(loose.query)
        if looser.scored_length() > len(hits):
            wider = [_raw_hit(hit, hit.score, sort) for hit in looser[: run.top_size]]
            hits = _first(hits, wider, key=lambda hit: hit.id) if sort == "relevance" else wider
            results, parsed, any_word = looser, loose, True
    total, facets, exact = run.count(parsed.query, results)
    return hits, parsed, total, facets, exact, any_word


T = TypeVar("T")


def _first(every: list[T], wider: list[T], key: Callable[[T], Any]) -> list[T]:
    """The any-word reading's page with the few entries that have every word first: one
    with most of the words can score higher than one with all of them."""
    shown = {key(item) for item in every}
    return [*every, *(item for item in wider if key(item) not in shown)]


class _Runner:
    """The two passes of a search: the ranked page, then the count and facets of every match.

    Apart on purpose: ranking only a page lets Whoosh skip blocks that cannot make the page,
    and counting needs no scores.
    """

    def __init__(self, searcher: Any, limit: int, sort: str, filters: Any, mask: Any) -> None:
        self.searcher, self.sort = searcher, sort
        self.filters, self.mask = filters, mask
        self.top_size = _top_size(limit)

    def top(self, query: Any) -> Any:
        kwargs: dict[str, Any] = {"limit": self.top_size, "filter": self.filters, "mask": self.mask}
        if self.sort == "newest":
            kwargs["sortedby"] = sorting.FieldFacet("published", reverse=True)
        return self.searcher.search(query, **kwargs)

    def count(self, query: Any, top: Any) -> tuple[int, dict[str, dict[str, int]], bool]:
        """Total and facets: exact up to COUNT_EXACTLY matches, estimated beyond.

        Counting visits every match in Python, which at 100k entries and a common word is the
        slow half of a search; past the threshold the facets count the ranked page's hits.
        """
        reader = self.searcher.reader()
        if query.estimate_size(reader) <= COUNT_EXACTLY:
            facets = {
                name: sorting.FieldFacet(column, maptype=sorting.Count)
                for name, column in _FACET_COLUMNS
            }
            results = self.searcher.search(
                query,
                limit=None,
                scored=False,
                groupedby=facets,
                filter=self.filters,
                mask=self.mask,
            )
            return len(results), _facets(results), True
        counts: dict[str, dict[str, int]] = {"category": {}, "source": {}}
        for hit in top:
            for name, column in _FACET_COLUMNS:
                value = hit.get(column) or NO_TOPIC
                if value != NO_TOPIC:
                    counts[name][value] = counts[name].get(value, 0) + 1
        return top.estimated_length(), counts, False


def _filters(
    category: str | None,
    source: str | None,
    allow: Iterable[str] | None,
    tagged: Sequence[str] = (),
) -> Any:
    parts = []
    if category:
        path = "/".join(p.strip() for p in category.lower().split("/") if p.strip())
        # The field's keywords are comma-separated: a name with a comma in it is kept as its
        # pieces, and is found as all of them.
        pieces = [Q.Term("category", p.strip()) for p in path.split(",") if p.strip()]
        topic = pieces[0] if len(pieces) == 1 else Q.And(pieces)
        parts.append(Q.Or([topic, *(Q.Term("source_url", u) for u in tagged)]) if tagged else topic)
    if source:
        parts.append(Q.Term("source_url", source))
    if allow is not None:
        parts.append(Q.Or([Q.Term("id", i) for i in allow]) if allow else Q.NullQuery)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Q.And(parts)


def _facets(results: Any) -> dict[str, dict[str, int]]:
    out = {}
    for name, _ in _FACET_COLUMNS:
        try:
            groups = results.groups(name)
        except (KeyError, ValueError):
            groups = {}
        out[name] = {str(k): int(v) for k, v in groups.items() if k not in (None, *_NO_VALUE)}
    return out


def _query_terms(query: Any, ranker: Ranker) -> tuple[set[str], tuple[tuple[str, ...], ...]]:
    """Stemmed terms of the title and content fields the query asks for, wildcards expanded,
    and its phrases: what a snippet marks. Not what it excludes (`-title:malaria`).

    Leaf by leaf: Whoosh's compound `existing_terms` skips the terms of every field after
    the first it meets.
    """
    terms: set[str] = set()
    phrases: dict[tuple[str, ...], None] = {}
    # Expanded segment by segment (as the ranker did, which keeps them): a segment's reader
    # finds fuzzy terms with an automaton, the whole index's reader by comparing every term.
    segments = ranker.segments
    for leaf in _wanted_leaves(query):
        if getattr(leaf, "fieldname", None) not in ("title", "content"):
            continue
        if isinstance(leaf, Q.Phrase):
            phrases[tuple(str(word) for word in leaf.words)] = None
        elif isinstance(leaf, Q.Term):
            text = leaf.text
            terms.add(text.decode() if isinstance(text, bytes) else str(text))
        else:
            if isinstance(leaf, LoneCharacter):  # marked alone, not the pairs it is in
                terms.add(leaf.text)
            for segment in segments:
                try:
                    found = segment.expand(leaf)
                except Exception:  # a leaf type without terms to expand
                    break
                terms.update(t.decode() for t in found)
    return terms, tuple(phrases)


def _wanted_leaves(query: Any) -> Iterator[Any]:
    """The query's leaves, less those under a NOT."""
    if isinstance(query, Q.Not):
        return
    if isinstance(query, Q.AndNot):
        yield from _wanted_leaves(query.a)
    elif query.is_leaf():
        yield query
    else:
        for child in query.children():
            yield from _wanted_leaves(child)


def _utc(value: Any) -> datetime | None:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None
