"""A query language people can use, read forgivingly, over the Whoosh index.

Words must all match (ranked by BM25F over title and text); `OR`, `NOT` and `-word`;
"exact phrases"; fields (`title:`, `author:`, `source:`, `category:`, `url:`); dates
(`published:2024`, `published:>2024-06-01`, `published:[2024-01 to 2024-03]`,
`published:>-7d`); `word*` and `word~`. A query that does not parse is read as words and says
so; a long question whose words do not all appear together is ranked by how many of its words
match, and how well, instead of finding nothing.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import compress, count
from typing import Any

from whoosh import matching, sorting
from whoosh import query as Q
from whoosh.analysis import STOP_WORDS
from whoosh.matching import binary
from whoosh.qparser import AndGroup, FuzzyTermPlugin, MultifieldParser, OrGroup, PlusMinusPlugin
from whoosh.query.spans import Span, SpanWrappingMatcher
from whoosh.util import make_binary_tree

from aggregator.errors import UserError
from aggregator.index import FoldStemTokenizer, Index, fold, make_schema, words_at
from aggregator.index.helper import MIN_DOCS as HELPER_MIN_DOCS
from aggregator.index.helper import SearchHelper
from aggregator.index.helper import supported as helper_supported
from aggregator.index.ranking import Page, Ranker, Unsupported

FIELDS = {
    "title": "title",
    "author": "author",
    "source": "source",
    "url": "url",
    "category": "category",
    "topic": "category",
    "content": "content",
    "text": "content",
}
DATE_FIELDS = ("published", "date")
ANY_WORD_BELOW = 3
"""When requiring every word finds fewer hits than this, rank by any word instead."""
PASSAGE_WORDS = 8
"""A query this long is read as a pasted passage: its words, not its punctuation."""
COUNT_EXACTLY = 20_000
"""Whoosh's own search (for queries the ranker does not know) counts matches one by one up
to this many (exact total and facets), and estimates beyond."""
# A closed range; an unclosed one up to its end date (the words after it stay words); a date.
_DATE_TERM = re.compile(
    r"\b(?:published|date):(\[[^\]]*\]|\[[^\s\]]*(?:\s+to(?:\s+[^\s\]]+)?)?|[^\s\[]+)",
    re.IGNORECASE,
)
_STEMMER = FoldStemTokenizer()


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
    facets: dict[str, dict[str, int]]
    interpretation: str = ""
    suggestion: str = ""
    any_word: bool = False
    exact: bool = True
    """False when the matches were too many to count one by one: `total` is Whoosh's estimate
    and the facets count the best-ranked hits."""


@dataclass
class ParsedQuery:
    query: Any
    notes: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    """The plain words of the query, for "did you mean"."""
    text: str = ""
    """The query as it was finally read, when that differs from what was typed."""


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
    ) -> RawResults:
        """Search; `allow`/`deny` restrict to or exclude entry ids (read and star filters)."""
        if sort not in ("relevance", "newest"):
            raise UserError(f"unknown sort {sort!r}: use relevance or newest")
        parsed = parse_query(text, now=now)
        ranker = self._current_ranker()
        searcher = self._current()
        ask = _Ask(
            text=text,
            now=now,
            filters=_filters(category, source, allow),
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
        return RawResults(
            hits=hits,
            total=total,
            terms=_query_terms(parsed.query, ranker),
            facets=facets,
            interpretation="; ".join(parsed.notes),
            suggestion=(
                _suggest(searcher, parsed.words, _balanced(text), text_of) if len(hits) < 3 else ""
            ),
            any_word=any_word,
            exact=exact,
        )


Found = tuple[list["RawHit"], "ParsedQuery", int, dict[str, dict[str, int]], bool, bool]
"""Hits, the query as finally read, total, facets, whether the total is exact, any-word."""


@dataclass(frozen=True)
class _Ask:
    """What was asked besides the query: the text typed, filters, mask, page and order."""

    text: str
    now: datetime | None
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
    if page.total < ANY_WORD_BELOW and _is_plain_question(parsed.text):
        loose = parse_query(ask.text, now=ask.now, any_word=True)
        looser = _page(ranker, loose.query, ask, helper)
        if looser.total > page.total:
            page, parsed, any_word = looser, loose, True
    sort = ask.sort
    stored = ranker.searcher.stored_fields
    hits = []
    for _, neg, score in page.rows:
        fields = stored(-neg)
        hits.append(
            RawHit(
                id=fields["id"],
                score=float(score) if sort == "relevance" else None,
                source_url=fields.get("source_url", ""),
                topic=fields.get("topic", "-"),
                published=_utc(fields.get("published")),
                canonical=fields.get("canonical", fields["id"]),
            )
        )
    facets = {
        name: {value: n for value, n in page.facets[column].most_common() if value not in ("", "-")}
        for name, column in (("category", "topic"), ("source", "source_url"))
    }
    return hits, parsed, page.total, facets, page.exact, any_word


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
    any_word = False
    if results.scored_length() < ANY_WORD_BELOW and _is_plain_question(parsed.text):
        loose = parse_query(ask.text, now=ask.now, any_word=True)
        looser = run.top(loose.query)
        if looser.scored_length() > results.scored_length():
            results, parsed, any_word = looser, loose, True
    total, facets, exact = run.count(parsed.query, results)
    hits = [
        RawHit(
            id=hit["id"],
            score=float(hit.score or 0.0) if sort == "relevance" else None,
            source_url=hit.get("source_url", ""),
            topic=hit.get("topic", "-"),
            published=_utc(hit.get("published")),
            canonical=hit.get("canonical", hit["id"]),
        )
        for hit in results[: run.top_size]
    ]
    return hits, parsed, total, facets, exact, any_word


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
                "category": sorting.FieldFacet("topic", maptype=sorting.Count),
                "source": sorting.FieldFacet("source_url", maptype=sorting.Count),
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
            for name, column in (("category", "topic"), ("source", "source_url")):
                value = hit.get(column) or "-"
                if value != "-":
                    counts[name][value] = counts[name].get(value, 0) + 1
        return top.estimated_length(), counts, False


def _filters(category: str | None, source: str | None, allow: Iterable[str] | None) -> Any:
    parts = []
    if category:
        parts.append(
            Q.Term(
                "category", "/".join(p.strip() for p in category.lower().split("/") if p.strip())
            )
        )
    if source:
        parts.append(Q.Term("source_url", source))
    if allow is not None:
        parts.append(Q.Or([Q.Term("id", i) for i in allow]) if allow else Q.NullQuery)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else Q.And(parts)


def _facets(results: Any) -> dict[str, dict[str, int]]:
    out = {}
    for name in ("category", "source"):
        try:
            groups = results.groups(name)
        except (KeyError, ValueError):
            groups = {}
        out[name] = {str(k): int(v) for k, v in groups.items() if k not in (None, "", "-")}
    return out


# -- the query language --------------------------------------------------------------------


def parse_query(text: str, *, now: datetime | None = None, any_word: bool = False) -> ParsedQuery:
    """User text → Whoosh query, forgiving: whatever cannot be read is read as words."""
    now = now or datetime.now(UTC)
    notes: list[str] = []
    text = " ".join(text.split())
    text, dates = _take_dates(text, now, notes)
    text = _forgive(text, notes)
    schema_parser = MultifieldParser(
        ["title", "content"], _schema(), group=OrGroup.factory(0.9) if any_word else AndGroup
    )
    schema_parser.add_plugin(FuzzyTermPlugin())
    schema_parser.add_plugin(PlusMinusPlugin())
    schema_parser.phraseclass = FastPhrase
    if any_word:
        # Every word counts, none is required: operators and punctuation are dropped, and so
        # are stop words, which match nearly everything and would only slow the ranking.
        words = [w for w in re.findall(r"\w+", text) if w.lower() not in STOP_WORDS]
        text = " ".join(words) or text
        notes.append("no entry has every word: ranked by how many of them match")
    try:
        parsed = schema_parser.parse(text) if text.strip() else Q.Every()
    except Exception:  # Whoosh's parser has corners that raise; read the words instead
        notes.append("read as plain words")
        words_only = " ".join(re.findall(r"\w+", text))
        parsed = schema_parser.parse(words_only) if words_only else Q.Every()
    if dates:
        # A date alone (no words) is a browse of that period; Every() would swallow it.
        empty = parsed is Q.NullQuery or isinstance(parsed, Q.Every)
        combined = Q.And(dates) if empty else Q.And([parsed, *dates])
    else:
        combined = parsed
    words = [
        w.strip('"()')
        for w in text.split()
        if ":" not in w
        and w not in ("AND", "OR", "NOT")
        and re.fullmatch(r'"?\(?[^\W\d_]{3,}\)?"?', w)
    ]
    return ParsedQuery(query=combined.normalize(), notes=notes, words=words, text=text)


@functools.cache
def _schema() -> Any:
    return make_schema()


def _is_plain_question(text: str) -> bool:
    """Prose: three words or more with no operator, field, phrase, prefix or fuzzy term, or
    a long passage (a pasted paragraph means its words, whatever punctuation it carries).

    Only prose falls back to any-word ranking; a short query with operators means what it says.
    """
    words = re.findall(r"\w+", text)
    if len(words) >= PASSAGE_WORDS:
        return True
    tokens = text.split()
    operators = any(w in _OPERATORS or w.startswith("-") for w in tokens)
    syntax = any(c in text for c in '"*~') or re.search(r"\b(?:" + "|".join(FIELDS) + r"):", text)
    return len(words) >= 3 and not operators and not syntax


def _balanced(text: str) -> str:
    """Without an unmatched quote or parentheses: the query as typed, as it can be read (and
    offered back as a suggestion)."""
    if text.count('"') % 2:
        text = text[: text.rfind('"')] + text[text.rfind('"') + 1 :]
    if text.count("(") != text.count(")"):
        text = " ".join(text.replace("(", " ").replace(")", " ").split())
    return text


def _forgive(text: str, notes: list[str]) -> str:
    """Repair what would make the parser guess: stray quotes, brackets, colons, operators."""
    if text.count('"') % 2:
        notes.append("an unmatched quote was ignored")
    if text.count("(") != text.count(")"):
        notes.append("unbalanced parentheses were ignored")
    text = _balanced(text)
    if "[" in text or "]" in text:
        text = text.replace("[", " ").replace("]", " ")
        notes.append("brackets were read as spaces")
    text = re.sub(r"\burl:\s*https?://", "url:", text, flags=re.IGNORECASE)
    # A hyphen inside a word joins it (`boundary-layer`): only at a word's start does it exclude.
    text = re.sub(r"(?<=\w)-(?=\w)", " ", text)

    def field_name(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if name.lower() in FIELDS:
            if not value:
                notes.append(f"nothing after '{name}:': ignored")
                return " "
            if match.group(0) != f"{name}:{value}":
                notes.append(f"read '{match.group(0)}' as '{name}:{value}'")
            return FIELDS[name.lower()] + ":" + value
        if value and match.group(0) == f"{name}:{value}":
            notes.append(f"'{name}:' is not a field: read as a word")
        return f"{name} {value}"  # prose ("the landscape: …") needs no note

    # `title: vaccine` means title:vaccine; `title:` with nothing after it means nothing.
    text = _FIELD_VALUE.sub(field_name, text)
    if re.search(r"(^|\s):+|:+(\s|$)", text):
        text = re.sub(r"(^|\s):+|:+(\s|$)", r"\1 \2", text)
        notes.append("a stray ':' was ignored")
    text = re.sub(r"(?<=\w)[?!.,;]+(?=\s|$)", "", text)  # a question's punctuation
    text = text.replace("?", " ")
    text = re.sub(r"(?:^|(?<=\s))-+(?=\s|$)", " ", text)  # a dash between words, not an exclusion
    words = text.split()
    while words and words[-1] in _OPERATORS:
        notes.append(f"'{words.pop()}' at the end was ignored")
    while words and words[0] in ("AND", "OR"):
        notes.append(f"'{words.pop(0)}' at the start was ignored")
    if words and all(w.startswith("-") or w == "NOT" for w in words):
        # Only exclusions: "everything but", as `NOT word` already reads.
        words = ["NOT " + w[1:] if w.startswith("-") else w for w in words if w != "NOT"]
    return " ".join(words)


_OPERATORS = ("AND", "OR", "NOT")
_FIELD_VALUE = re.compile(r"(?<![\w\"])([A-Za-z_]+):[ \t]*(\S*)")


def _query_terms(query: Any, ranker: Ranker) -> set[str]:
    """Stemmed terms of the title and content fields the query asks for, wildcards expanded.

    Leaf by leaf: Whoosh's compound `existing_terms` skips the terms of every field after
    the first it meets.
    """
    terms: set[str] = set()
    # Expanded segment by segment (as the ranker did, which keeps them): a segment's reader
    # finds fuzzy terms with an automaton, the whole index's reader by comparing every term.
    segments = ranker.segments
    for leaf in query.leaves():
        if getattr(leaf, "fieldname", None) not in ("title", "content"):
            continue
        if isinstance(leaf, Q.Phrase):
            terms.update(str(word) for word in leaf.words)
        elif isinstance(leaf, Q.Term):
            text = leaf.text
            terms.add(text.decode() if isinstance(text, bytes) else str(text))
        else:
            for segment in segments:
                try:
                    found = segment.expand(leaf)
                except Exception:  # a leaf type without terms to expand
                    break
                terms.update(t.decode() for t in found)
    return terms


def _suggest(
    searcher: Any, words: list[str], original: str, text_of: Callable[[str], str] | None
) -> str:
    """ "Did you mean": each word absent from the index replaced by the closest that is there."""
    reader = searcher.reader()
    changed = original
    for word in words:
        term = _STEMMER.term(fold(word))
        if _held(reader, "content", term) or _held(reader, "title", term):
            continue
        best, best_freq = None, 0
        for distance in (1, 2):
            for candidate in reader.terms_within("content", term, distance, prefix=1):
                freq = _held(reader, "content", candidate)
                if freq > best_freq:
                    best, best_freq = candidate, freq
            if best:
                break
        if best:
            spelled = _spell(searcher, best, text_of) or best
            changed = re.sub(rf"\b{re.escape(word)}\b", spelled, changed, count=1)
    return changed if changed != original else ""


def _held(reader: Any, fieldname: str, term: str) -> int:
    """How many entries hold `term` (0 when only deleted copies did): a term's document
    frequency counts the copies an edit or a removal left in a segment until it is merged."""
    freq = reader.doc_frequency(fieldname, term)
    if freq and reader.has_deletions() and not reader.postings(fieldname, term).is_active():
        return 0
    return freq


def _spell(searcher: Any, term: str, text_of: Callable[[str], str] | None) -> str:
    """A real word for a stemmed term (`hospit` → `hospital`), read from a document holding it."""
    if text_of is None:
        return ""
    for hit in searcher.search(Q.Term("content", term), limit=1):
        for word in re.findall(r"\w+", text_of(hit["id"])):
            if _STEMMER.term(fold(word)) == term:
                return word.lower()
    return ""


# -- dates ---------------------------------------------------------------------------------


def _take_dates(text: str, now: datetime, notes: list[str]) -> tuple[str, list[Any]]:
    queries = []

    def take(match: re.Match[str]) -> str:
        value = match.group(1)
        if value.startswith("[") and not value.endswith("]"):
            notes.append(f"'{match.group(0)}' has no closing ']': read to its end date")
        try:
            queries.append(_date_query(value, now))
        except (ValueError, OverflowError):
            notes.append(f"'{match.group(0)}' is not a date (try 2024, 2024-06-01, >-7d): ignored")
        return " "

    return _DATE_TERM.sub(take, text), queries


def _date_query(value: str, now: datetime) -> Any:
    """`2024`, `2024-06`, `>2024-06-01`, `<=2024`, `>-7d`, `[2024-01 to 2024-03]`, `today`."""
    value = value.strip()
    if value.startswith("["):
        low, high = _split_range(value.strip("[]"))
        start = _period(low, now)[0] if low.strip() else None
        end = _period(high, now)[1] if high.strip() else None
        return Q.DateRange("published", start, end)
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            first, last = _period(value[len(op) :], now)
            if op[0] == ">":
                return Q.DateRange("published", first, None)
            return Q.DateRange("published", None, last if op == "<=" else first)
    first, last = _period(value, now)
    return Q.DateRange("published", first, None if _relative(value) else last)


def _split_range(inner: str) -> list[str]:
    """`2024-01 to 2024-03`, `2024-01,2024-03`, `2025-09 to`, `to 2023-06` → [low, high]."""
    parts = re.split(r"\s*\bto\b\s*|\s*,\s*", inner.strip(), maxsplit=1, flags=re.IGNORECASE)
    return [*parts, ""][:2]


def _relative(value: str) -> bool:
    return (
        re.fullmatch(r"-?\d+[dwmy]|today|yesterday|week|month|year", value.strip().lower())
        is not None
    )


def _period(value: str, now: datetime) -> tuple[datetime, datetime]:
    """A date as written → the (first, last) instant it covers, naive UTC as Whoosh stores."""
    value = value.strip().lower()
    now = now.astimezone(UTC).replace(tzinfo=None)
    rel = re.fullmatch(r"-?(\d+)([dwmy])", value)
    if rel:
        amount, unit = int(rel.group(1)), rel.group(2)
        days = {"d": 1, "w": 7, "m": 30, "y": 365}[unit] * amount
        # Further back than the calendar goes (`>-3000y`) is everything there is.
        return now - timedelta(days=min(days, (now - datetime.min).days)), now
    if value in ("today", "yesterday"):
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if value == "yesterday":
            day -= timedelta(days=1)
        return day, day + timedelta(days=1) - timedelta(microseconds=1)
    if value in ("week", "month", "year"):
        return now - timedelta(days={"week": 7, "month": 30, "year": 365}[value]), now
    parts = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if not parts:
        raise ValueError(value)
    year = int(parts.group(1))
    month = int(parts.group(2)) if parts.group(2) else None
    day = int(parts.group(3)) if parts.group(3) else None
    if month is None:
        return datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59)
    if day is None:
        last = calendar.monthrange(year, month)[1]
        return datetime(year, month, 1), datetime(year, month, last, 23, 59, 59)
    start = datetime(year, month, day)
    return start, start.replace(hour=23, minute=59, second=59, microsecond=999_999)


def _utc(value: Any) -> datetime | None:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None


# -- snippets ------------------------------------------------------------------------------

SNIPPET_WORDS = 36
_SNIPPET_WORD = re.compile(r"\w+")


def snippet(
    text: str, terms: set[str], words: int = SNIPPET_WORDS
) -> tuple[str, list[tuple[int, int]]]:
    """The stretch of `text` where most query terms meet, with the matches' offsets in it.

    Scans word by word with the index's own stemming, so `hospitals` lights up for a search
    for `hospital`; the offsets let each front end mark the matches its own way.
    """
    if not text:
        return "", []
    seen, start_of = words_at(text)
    if not seen:
        return text[:200], []
    terms_of = _STEMMER.word_terms(seen)
    at = list(compress(count(), map(terms.__contains__, terms_of)))
    matched = list(zip(at, map(terms_of.__getitem__, at), strict=True))
    start = _best_window(matched, len(seen), words)
    end = min(len(seen), start + words)
    begin_char = start_of(start)
    end_char = start_of(end - 1) + len(seen[end - 1])
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(seen) else ""
    body = " ".join(text[begin_char:end_char].split())
    # Offsets are recomputed on the whitespace-collapsed body.
    spans: list[tuple[int, int]] = []
    wanted = {seen[i] for i, _ in matched if start <= i < end}
    for m in _SNIPPET_WORD.finditer(body):
        if m.group() in wanted:
            spans.append((m.start() + len(prefix), m.end() + len(prefix)))
    return prefix + body + suffix, spans


def _best_window(matched: list[tuple[int, str]], total: int, words: int) -> int:
    """Start of the window of `words` words with the most distinct terms, then most matches."""
    if not matched:
        return 0
    best_start, best_score = 0, (-1, -1)
    right = 0
    for left_index, (left, _) in enumerate(matched):
        while right < len(matched) and matched[right][0] < left + words:
            right += 1
        inside = matched[left_index:right]
        score = (len({term for _, term in inside}), len(inside))
        if score > best_score:
            best_start, best_score = left, score
    # Give the first match a little context before it.
    return max(0, min(best_start - 4, total - words))


# -- phrases -------------------------------------------------------------------------------


class FastPhrase(Q.Phrase):
    """Whoosh's Phrase, matched with set arithmetic on positions instead of span objects.

    For "the report" over 10k entries Whoosh's SpanNear builds a million span objects (about
    a second); shifting each word's positions into a set and intersecting is a few ms.
    """

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        fieldname = self.fieldname
        if fieldname not in searcher.schema:
            return matching.NullMatcher()
        field = searcher.schema[fieldname]
        reader = searcher.reader()
        matchers = []
        for word in self.words:
            try:
                btext = field.to_bytes(word)
            except ValueError:
                return matching.NullMatcher()
            if (fieldname, btext) not in reader:
                return matching.NullMatcher()
            matchers.append(Q.Term(fieldname, btext).matcher(searcher, context))
        if len(matchers) == 1:
            return matchers[0]
        found = _PhraseMatcher(matchers, self.slop)
        return matching.WrappingMatcher(found, boost=self.boost) if self.boost != 1.0 else found


class _PhraseMatcher(SpanWrappingMatcher):
    """Documents where the words follow each other (within `slop`), found by set intersection."""

    def __init__(self, ms: list[Any], slop: int = 1) -> None:
        self.ms, self.slop = ms, slop
        super().__init__(make_binary_tree(binary.IntersectionMatcher, ms))

    def copy(self) -> Any:
        return self.__class__([m.copy() for m in self.ms], self.slop)

    def replace(self, minquality: float = 0) -> Any:
        return self if self.is_active() else matching.NullMatcher()

    def _get_spans(self) -> list[Span]:
        positions = [m.value_as("positions") for m in self.ms]
        if self.slop <= 1:
            # Start from the rarest word's positions and look the others up by bisection: a
            # common word ("the") has dozens of positions a document, the rare one a few.
            rarest = min(range(len(positions)), key=lambda i: len(positions[i]))
            starts = []
            for p in positions[rarest]:
                start = p - rarest
                if all(_has(positions[i], start + i) for i in range(len(positions)) if i != rarest):
                    starts.append(start)
        else:
            found: set[int] | None = None
            for offset, pos in enumerate(positions):
                shifted = {p - offset - d for p in pos for d in range(self.slop)}
                found = shifted if found is None else found & shifted
                if not found:
                    return []
            starts = sorted(found or ())
        return [Span(p, p + len(self.ms) - 1) for p in starts]


def _has(sorted_positions: list[int], position: int) -> bool:
    i = bisect_left(sorted_positions, position)
    return i < len(sorted_positions) and sorted_positions[i] == position
