"""A query language people can use, read forgivingly, over the Whoosh index.

Words must all match (ranked by BM25F over title and text); `OR`, `NOT` and `-word`;
"exact phrases"; fields (`title:`, `author:`, `source:`, `category:`, `url:`); dates
(`published:2024`, `published:>2024-06-01`, `published:[2024-01 to 2024-03]`,
`published:>-7d`), clauses like the others (`NOT published:2024`); `word*`, `z?brafish` and
`word~`. The query is read by its own small parser (`_Reader`), each word by the index's
analyzer: what cannot be read is passed over or read as words, and the notes say so. A
question whose words do not all appear together is ranked by how many of its plain words
match, and how well, its fields, exclusions, phrases and dates kept, instead of finding
nothing.
"""

from __future__ import annotations

import calendar
import contextlib
import functools
import re
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import compress, count
from typing import Any

from whoosh import matching, sorting
from whoosh import query as Q
from whoosh.analysis import STOP_WORDS
from whoosh.matching import binary
from whoosh.query.spans import Span, SpanWrappingMatcher
from whoosh.support.levenshtein import damerau_levenshtein
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
PLAIN_WORDS = 3
"""The any-word reading needs this many plain words (two words are a query that means both)."""
PASSAGE_WORDS = 8
"""A query with this many plain words is a pasted passage: its quotation marks are
punctuation: the any-word reading counts the words of its quotes with the others (the
exact quote adding to the score)."""
MAX_WORD = 64
"""A word longer than this (a pasted blob) is looked up as it is: no near matches and no "did
you mean", whose edit-distance searches would take seconds over it."""
MAX_PHRASE = 32
"""A phrase is matched by its first this many words."""
MAX_SLOP = 32
"""`"a b"~N` lets at most this many words between."""
MAX_EDITS = 2
"""`word~N` allows at most this many edits: more reaches most of the index."""
COUNT_EXACTLY = 20_000
"""Whoosh's own search (for queries the ranker does not know) counts matches one by one up
to this many (exact total and facets), and estimates beyond."""
# A closed range; an unclosed one up to its end date (the words after it stay words); a date.
_DATE_TERM = re.compile(
    r"\b(published|date):(?:[ \t]+(?=[\[<>*\d]))?"
    r"(\[[^\]]*\]|\[[^\s\]]*(?:\s+to(?:\s+[^\s\]]+)?)?|[^\s\[\]()]+)",
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
    loose: Any = None
    """The any-word reading (the plain words ranked by how many match, everything else kept
    as written), or None when the query has too few plain words to loosen."""
    loose_note: str = ""


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
        ranker = self._current_ranker()
        searcher = self._current()
        ask = _Ask(
            text=text,
            now=now,
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
    if page.total < ANY_WORD_BELOW and parsed.loose is not None:
        loose = _loosened(parsed)
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
    if results.scored_length() < ANY_WORD_BELOW and parsed.loose is not None:
        loose = _loosened(parsed)
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


def _filters(
    category: str | None,
    source: str | None,
    allow: Iterable[str] | None,
    tagged: Sequence[str] = (),
) -> Any:
    parts = []
    if category:
        topic = Q.Term(
            "category", "/".join(p.strip() for p in category.lower().split("/") if p.strip())
        )
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
    for name in ("category", "source"):
        try:
            groups = results.groups(name)
        except (KeyError, ValueError):
            groups = {}
        out[name] = {str(k): int(v) for k, v in groups.items() if k not in (None, "", "-")}
    return out


# -- the query language --------------------------------------------------------------------


def parse_query(text: str, *, now: datetime | None = None, any_word: bool = False) -> ParsedQuery:
    """User text → Whoosh query, forgiving: whatever cannot be read is read as words, and
    every repair is told in the notes.

    `OR` binds tighter than words side by side and explicit `AND` tighter than `OR` (as in
    Whoosh: `a b OR c` is a and (b or c)); `NOT` and `-` take the clause after them. With
    `any_word`, the any-word reading (see `ParsedQuery.loose`), when the query has one.
    """
    now = now or datetime.now(UTC)
    notes: list[str] = []
    text = " ".join(text.split())
    text, dates = _take_dates(text, now, notes)
    text = _forgive(text, notes)
    reader = _Reader(_tokens(text), dates, notes)
    items = reader.sequence(top=True)
    query = _all_of([item.query for item in items]).normalize() if items else Q.Every()
    parsed = ParsedQuery(query=query, notes=notes, words=reader.words, text=text)
    _loosen(parsed, items)
    return _loosened(parsed) if any_word and parsed.loose is not None else parsed


def _loosen(parsed: ParsedQuery, items: list[_Item]) -> None:
    """The any-word reading, for when no entry has every word: the plain words (a word with
    no field, sign, quote or operator) are ranked by how many of them match, and how well;
    everything else (fields, exclusions, phrases, dates, OR and AND, near and partial
    words) stays as written. In a pasted passage (PASSAGE_WORDS plain words or more) quotes
    are the passage's punctuation: their words count with the others, and a quote found
    whole adds to the score. Stop words are dropped: they match nearly everything and would
    only slow the ranking."""
    plain = re.findall(r"\w+", " ".join(item.plain for item in items if item.plain is not None))
    if len(plain) < PLAIN_WORDS:
        return
    passage = len(plain) >= PASSAGE_WORDS
    if passage:
        plain = re.findall(
            r"\w+", " ".join(i.plain or i.quoted or "" for i in items if i.plain or i.quoted)
        )
    words = [w for w in plain if w.lower() not in STOP_WORDS]
    if not words:
        return
    anyof = Q.Or([_word_query(_DEFAULT_FIELDS, w) for w in words], scale=0.9)
    kept = [item.query for item in items if item.plain is None and not (passage and item.quoted)]
    loose = Q.And([*kept, anyof]) if kept else anyof
    phrases = [item.query for item in items if passage and item.quoted]
    if phrases:
        loose = Q.AndMaybe(loose, _any_of(phrases))
    parsed.loose = loose.normalize()
    parsed.loose_note = "no entry has every word: ranked by how many of them match"
    if kept:
        parsed.loose_note += " (the rest of the query applies as written)"
    if phrases:
        parsed.loose_note += "; in a passage this long a quote's words count as words"


def _loosened(parsed: ParsedQuery) -> ParsedQuery:
    return ParsedQuery(
        query=parsed.loose,
        notes=[*parsed.notes, parsed.loose_note],
        words=parsed.words,
        text=parsed.text,
    )


@functools.cache
def _schema() -> Any:
    return make_schema()


_DEFAULT_FIELDS = ("title", "content")
_TIGHT: dict[str, Callable[[Any, Any], Any]] = {
    "AND": lambda a, b: Q.And([a, b]),
    "ANDNOT": Q.AndNot,
    "ANDMAYBE": Q.AndMaybe,
    "REQUIRE": Q.Require,
}
"""Operators that bind tighter than OR (as in Whoosh), each with what it makes of a and b."""
_BINARY = frozenset([*_TIGHT, "OR"])
_OPERATORS = frozenset([*_BINARY, "NOT"])
_FIELD_VALUE = re.compile(r"(?<![\w\"])([A-Za-z_]+):[ \t]*(\S*)")
_FIELDED = re.compile(r"([a-z]+):(.+)", re.DOTALL)
_NEAR = re.compile(r"(.*\w)~(\d*)", re.DOTALL)
_BOOST = re.compile(r"(.*[^\W_]|.*[*\"])\^(\d{1,3}(?:\.\d{1,3})?)", re.DOTALL)
_DATE_MARK = re.compile("\ue000(\\d+)\ue001")
"""A date clause, read before the rest (its ranges hold spaces) and left in the text as a
mark the reader puts it back at, under the operators around it."""
MATCH_NOTHING = Q.Term("id", "")
"""A clause that can match no entry (entries' ids are never empty): what an impossible date
stands for. Whoosh's NullQuery would be dropped from an AND instead."""


def _balanced(text: str) -> str:
    """Without an unmatched quote or parentheses: the query as typed, as it can be read (and
    offered back as a suggestion)."""
    if text.count('"') % 2:
        text = text[: text.rfind('"')] + text[text.rfind('"') + 1 :]
    if text.count("(") != text.count(")"):
        text = " ".join(text.replace("(", " ").replace(")", " ").split())
    return text


def _forgive(text: str, notes: list[str]) -> str:
    """Repair what would make the reader guess: stray quotes, brackets, colons, dashes."""
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
        if name.lower() in FIELDS or name.lower() in DATE_FIELDS:
            if not value:
                notes.append(f"nothing after '{name}:': ignored")
                return " "
            if name.lower() in DATE_FIELDS:  # a value `_take_dates` could not read
                if match.group(0) != f"{name}:{value}":
                    return f"{name} {value}"  # prose: "the date: tomorrow"
                notes.append(f"'{match.group(0)}' is not a date (try 2024, >-7d): ignored")
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
    # A question mark inside a word stands for one letter (`z?brafish`); elsewhere it is a
    # question's. An address keeps its own (`url:who.int/page?id=3`).
    words = [
        w if w.startswith("url:") else re.sub(r"(?<!\w)\?+|\?+(?!\w)", " ", w)
        for w in text.split(" ")
    ]
    text = " ".join(words)
    wild = [w for w in text.split() if "?" in w and not w.startswith("url:")]
    if wild:
        notes.append(f"'?' in '{wild[0]}' stands for any one letter")
    return re.sub(r"(?:^|(?<=\s))-+(?=\s|$)", " ", text)  # a dash between words


@dataclass
class _Item:
    """A clause of the query as read: its Whoosh query, and its text when it is plain words
    (no field, sign, quote or operator), which the any-word reading may loosen."""

    query: Any
    plain: str | None = None
    quoted: str | None = None
    """A phrase's words, when it searches the default fields: in a pasted passage its
    quotation marks are punctuation (see `_loosen`)."""


def _tokens(text: str) -> list[tuple[str, ...]]:
    """The forgiven text → tokens: `(`, `)`, AND, OR, NOT, `-` (a word's minus sign),
    `field(` (a field before a parenthesis), `date` (a date's mark), `phrase`, `word`."""
    tokens: list[tuple[str, ...]] = []
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()":
            tokens.append((char,))
            at += 1
        elif (sign := _SIGN.match(text, at)) is not None:
            at = sign.end()
            if "-" in sign.group() and at < end and not text[at].isspace():
                tokens.append(("-",))
        elif (date := _DATE_MARK.match(text, at)) is not None:
            tokens.append(("date", date.group(1)))
            at = date.end()
        elif (phrase := _PHRASE.match(text, at)) is not None:
            name, words, after = phrase.groups()
            tokens.append(("phrase", name or "", words, after or ""))
            at = phrase.end()
        elif (group := _FIELD_GROUP.match(text, at)) is not None:
            tokens.append(("field(", group.group(1)))
            at = group.end()
        else:
            word = _WORD_TOKEN.match(text, at)
            assert word is not None  # any other character starts a word
            tokens.append((word.group(),) if word.group() in _OPERATORS else ("word", word.group()))
            at = word.end()
    return tokens


_SIGN = re.compile(r"[-+]+")
_PHRASE = re.compile(r'(?:([a-z]+):)?"([^"]*)"(~\d*|\^\d{1,3}(?:\.\d{1,3})?)?')
_FIELD_GROUP = re.compile(r"([a-z]+):(?=\()")
_WORD_TOKEN = re.compile('[^\\s()"\ue000]+|["\ue000]')


class _Reader:
    """Tokens → clauses, by recursive descent, forgiving: an operator with nothing on one
    side, two operators in a row, an empty or unopened parenthesis are passed over with a
    note; everything else is read as it stands."""

    def __init__(self, tokens: list[tuple[str, ...]], dates: list[Any], notes: list[str]) -> None:
        self.tokens, self.dates, self.notes = tokens, dates, notes
        self.at = 0
        self.field: str | None = None
        """Inside `title:( … )`: the field its words search."""
        self.words: list[str] = []
        """Plain words and the words of phrases, for "did you mean" (not those excluded)."""
        self.negated = 0

    def _peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def _take(self) -> tuple[str, ...]:
        self.at += 1
        return self.tokens[self.at - 1]

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def sequence(self, top: bool = False) -> list[_Item]:
        """Clauses side by side, up to a `)` (or the end): all of them must match."""
        items: list[_Item] = []
        while (kind := self._peek()) is not None:
            if kind == ")":
                if not top:
                    break
                self._take()
                self._note("a ')' before its '(' was ignored")
            elif kind in _BINARY:
                self._take()
                self._note(f"'{kind}' with nothing before it was ignored")
            elif (item := self._either()) is not None:
                items.append(item)
        return items

    def _either(self) -> _Item | None:
        """`a OR b OR c`."""
        parts = [p for p in [self._both()] if p is not None]
        while self._peek() == "OR":
            self._take()
            if self._operand_missing("OR"):
                break
            if (part := self._both()) is not None:
                parts.append(part)
        if len(parts) < 2:
            return parts[0] if parts else None
        return _Item(Q.Or([part.query for part in parts]))

    def _both(self) -> _Item | None:
        """`a AND b AND c`, and Whoosh's `a ANDNOT b`, `a ANDMAYBE b` (b only adds to the
        score) and `a REQUIRE b` (b only narrows)."""
        left = self._unary()
        while (operator := self._peek()) in _TIGHT:
            self._take()
            if self._operand_missing(operator):
                break
            right = self._unary()
            if left is None or right is None:
                left = left or right
            elif operator == "AND":
                left = _Item(_all_of([left.query, right.query]))
            else:
                left = _Item(_TIGHT[operator](left.query, right.query))
        return left

    def _operand_missing(self, operator: str) -> bool:
        """After `operator`: pass over the operators that follow it (`OR OR`, `OR AND`: the
        first one stands) and say whether nothing is left for it to join."""
        while (kind := self._peek()) in _BINARY:
            self._take()
            if kind == operator:
                self._note(f"read '{operator} {operator}' as '{operator}'")
            else:
                self._note(f"'{kind}' after '{operator}' was ignored")
        if self._peek() in (None, ")"):
            self._note(f"'{operator}' with nothing after it was ignored")
            return True
        return False

    def _unary(self) -> _Item | None:
        """`NOT a`, `-a`; two negations cancel out."""
        signs = []
        while self._peek() in ("NOT", "-"):
            signs.append(self._take()[0])
            if self._operand_missing(signs[-1]):
                return None
        self.negated += len(signs) % 2
        item = self._primary()
        self.negated -= len(signs) % 2
        if item is None or not signs:
            return item
        if len(signs) % 2 == 0:
            self._note(f"'{' '.join(signs)}' cancel out")
            return _Item(item.query)
        if len(signs) > 1:
            self._note(f"read '{' '.join(signs)}' as '{signs[-1]}'")
        return _Item(Q.Not(item.query))

    def _primary(self) -> _Item | None:
        token = self._take()
        kind = token[0]
        if kind in ("(", "field("):
            if kind == "field(":
                self._take()  # its "("
            outer, self.field = self.field, token[1] if kind == "field(" else self.field
            items = self.sequence()
            self.field = outer
            if self._peek() == ")":
                self._take()
            else:
                self._note("a '(' without its ')' was closed at the end")
            if not items:
                self._note("empty parentheses were ignored")
                return None
            query = _all_of([item.query for item in items])
            if kind == "field(":
                return _Item(query)
            # Parentheses around plain words (a passage's asides) leave them plain words.
            if all(item.plain is not None for item in items):
                return _Item(query, " ".join(item.plain or "" for item in items))
            if all(item.plain or item.quoted for item in items):
                return _Item(query, quoted=" ".join(i.plain or i.quoted or "" for i in items))
            return _Item(query)
        if kind == "date":
            date = self.dates[int(token[1])]
            return None if date is None else _Item(date)
        if kind == "phrase":
            _, name, words, after = token
            fields = (name,) if name in _FIELD_NAMES else self._fields()
            if name in ("", "content") and not self.negated:
                self.words += re.findall(r"[^\W\d_]{3,}", words)
            quoted = words if not name and self.field is None else None
            return _Item(self._phrase(fields, words, after), quoted=quoted)
        return self._word(token[1])

    def _fields(self) -> tuple[str, ...]:
        return (self.field,) if self.field in _FIELD_NAMES else _DEFAULT_FIELDS

    def _word(self, word: str) -> _Item | None:
        fields = self._fields()
        fielded = _FIELDED.fullmatch(word)
        if fielded and fielded.group(1) in _FIELD_NAMES:
            fields, word = (fielded.group(1),), fielded.group(2)
        boost = 1.0
        if (boosted := _BOOST.fullmatch(word)) is not None:
            word, boost = boosted.group(1), float(boosted.group(2))
        if "*" in word or ("?" in word and fields != ("url",)):
            return _Item(_partial(fields, word).with_boost(boost))
        if (near := _NEAR.fullmatch(word)) is not None:
            query = self._near(fields, near.group(1), near.group(2))
            return _Item(query.with_boost(boost))
        if _SPELLED.fullmatch(word) and not fielded and not self.negated:
            self.words.append(word)
        plain = word if not fielded and self.field is None and boost == 1.0 else None
        query = _word_query(fields, word)
        if fields == ("url",) and "/" in word.strip("/"):
            query = _address(query, word)
        return _Item(query.with_boost(boost), plain)

    def _near(self, fields: tuple[str, ...], word: str, digits: str) -> Any:
        """`word~` and `word~N`: the index terms within a few edits of the word (see
        `NearTerm`); `N` is at most MAX_EDITS, and short words get fewer."""
        asked = None
        if digits:
            asked = int(digits) if len(digits) < 4 else MAX_EDITS + 1
            if asked > MAX_EDITS:
                self._note(f"read '{word}~{digits}' as '{word}~{MAX_EDITS}': at most two edits")
                asked = MAX_EDITS
        if len(word) > MAX_WORD:
            return _word_query(fields, word)
        schema, parts = _schema(), []
        for name in fields:
            terms = list(schema[name].process_text(word, mode="query"))
            typed = fold(word) if name != "category" else word.lower()
            if len(terms) != 1:  # a near match is of one word
                parts.append(_word_query((name,), word))
                continue
            stem = terms[0]
            parts.append(NearTerm(name, stem, _edits(stem, asked), typed, _edits(typed, asked)))
        return _any_of(parts)

    def _phrase(self, fields: tuple[str, ...], text: str, after: str) -> Any:
        """Words in order, in each field that keeps positions; in a field that keeps none
        (`url:`, `category:`), its words anywhere in it."""
        slop, boost = 1, 1.0
        if after.startswith("~") and after[1:]:
            slop = min(int(after[1:]) if len(after) < 6 else MAX_SLOP + 1, MAX_SLOP + 1)
            if slop > MAX_SLOP:
                self._note(f"'~{after[1:]}' after a phrase read as '~{MAX_SLOP}'")
                slop = MAX_SLOP
            slop = max(slop, 1)
        elif after.startswith("^"):
            boost = float(after[1:])
        schema, parts = _schema(), []
        for name in fields:
            field = schema[name]
            words = list(field.process_text(text, mode="query"))
            if len(words) > MAX_PHRASE:
                self._note(f"a phrase of {len(words)} words was matched by its first {MAX_PHRASE}")
                words = words[:MAX_PHRASE]
            if not words:
                continue
            if len(words) == 1:
                parts.append(Q.Term(name, words[0]))
            elif field.format.supports("positions"):
                parts.append(FastPhrase(name, words, slop=slop))
            else:
                parts.append(Q.And([Q.Term(name, w) for w in words]))
        return _any_of(parts).with_boost(boost)


_FIELD_NAMES = frozenset(FIELDS.values())
_SPELLED = re.compile(rf"[^\W\d_]{{3,{MAX_WORD}}}")
"""A word "did you mean" may correct: letters only, and not a pasted blob."""


def _word_query(fields: Iterable[str], word: str) -> Any:
    """A word in each of the fields, as Whoosh's parser reads it: a word the analyzer
    splits (`can't`, `i.e`) is a phrase of its parts, or all of them in a field that keeps
    no positions (`url:`)."""
    schema, parts = _schema(), []
    for name in fields:
        field = schema[name]
        terms = list(field.process_text(word, mode="query"))
        if len(terms) == 1:
            parts.append(Q.Term(name, terms[0]))
        elif terms and field.format.supports("positions") and len(terms) <= MAX_PHRASE:
            parts.append(FastPhrase(name, terms))
        elif terms:
            parts.append(Q.And([Q.Term(name, term) for term in dict.fromkeys(terms)]))
    return _any_of(parts)


def _address(words: Any, address: str) -> Any:
    """`url:` with a whole address: the entries whose address holds all its words (the
    field keeps no order), the entry at that very address first."""
    exact = [Q.Term("canonical", f"{scheme}://{address}", boost=100.0) for scheme in _SCHEMES]
    return Q.AndMaybe(words, Q.Or(exact))


_SCHEMES = ("https", "http")


def _partial(fields: tuple[str, ...], word: str) -> Any:
    """`vacc*` (a prefix), `z?brafish` (`?` one letter, `*` any): the terms it stands for."""
    pattern = fold(word)
    if not pattern.strip("*?"):
        return Q.Every()  # `*` alone: everything
    parts = []
    for name in fields:
        if pattern.endswith("*") and "*" not in pattern[:-1] and "?" not in pattern:
            parts.append(Q.Prefix(name, pattern[:-1]))
        else:
            parts.append(Q.Wildcard(name, pattern))
    return _any_of(parts)


def _any_of(queries: list[Any]) -> Any:
    if not queries:
        return Q.NullQuery
    return queries[0] if len(queries) == 1 else Q.Or(queries)


def _all_of(queries: list[Any]) -> Any:
    """AND, without `*` (everything) in it: Whoosh would read an AND holding Every as Every."""
    kept = [q for q in queries if not isinstance(q, Q.Every)]
    if not kept:
        return Q.Every() if queries else Q.NullQuery
    return kept[0] if len(kept) == 1 else Q.And(kept)


def _edits(text: str, asked: int | None) -> int:
    """Edits a near match allows: as Lucene, none for a word of one or two letters, one up
    to five letters, two beyond; fewer when asked for fewer."""
    most = 0 if len(text) <= 2 else 1 if len(text) <= 5 else MAX_EDITS
    return most if asked is None else min(asked, most)


class NearTerm(Q.FuzzyTerm):
    """`word~`: the terms within a few edits of the word's stem, or of the word as typed.

    The index holds stems (`hospital` is `hospit`, two edits away from the word): the word
    as typed alone would miss its own stem. Each term found is weighted by how close it is
    (`expansion_boost`): the ranker scores a document by its best term, so an entry with
    the exact word comes before one with many near ones.
    """

    def __init__(
        self, fieldname: str, text: str, maxdist: int, typed: str, typed_dist: int
    ) -> None:
        super().__init__(fieldname, text, maxdist=maxdist, prefixlength=0)
        self.typed, self.typed_dist = typed, typed_dist

    def __eq__(self, other: object) -> bool:
        return (
            super().__eq__(other)
            and self.typed == other.typed  # type: ignore[attr-defined]
            and self.typed_dist == other.typed_dist  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return super().__hash__() ^ hash((self.typed, self.typed_dist))

    def __repr__(self) -> str:
        return (
            f"NearTerm({self.fieldname!r}, {self.text!r}, maxdist={self.maxdist}, "
            f"typed={self.typed!r}, typed_dist={self.typed_dist}, boost={self.boost})"
        )

    def _btexts(self, ixreader: Any) -> list[Any]:
        found: dict[Any, None] = {}
        for text, distance in dict.fromkeys(
            ((self.text, self.maxdist), (self.typed, self.typed_dist))
        ):
            if distance:
                found.update(dict.fromkeys(ixreader.terms_within(self.fieldname, text, distance)))
            elif (self.fieldname, text) in ixreader:
                found[text] = None
        return list(found)

    def expansion_boost(self, term: bytes | str) -> float:
        """1 for the word itself, a quarter for each edit away: an entry with a term one
        edit off has to hold it four times as strongly (more often, in a shorter text) to
        pass an entry with the word. A letter doubled or not (`vacine`, `vaccine`), the
        commonest slip, is half an edit."""
        term = term.decode() if isinstance(term, bytes) else term
        return 0.25 ** min(_slips(term, text) for text in (self.text, self.typed))


def _slips(a: str, b: str) -> float:
    """Edits from a to b, a letter doubled or undoubled counting half."""
    edits = damerau_levenshtein(a, b)
    single = damerau_levenshtein(_DOUBLED.sub(r"\1", a), _DOUBLED.sub(r"\1", b))
    return single + (edits - single) / 2 if single < edits else edits


_DOUBLED = re.compile(r"(.)\1+")


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


class _Impossible(ValueError):
    """A date written as one that the calendar does not have (2024-02-30)."""


def _take_dates(text: str, now: datetime, notes: list[str]) -> tuple[str, list[Any]]:
    """Each date clause read and left as a mark (see `_DATE_MARK`), so that `NOT`, `-` and
    `OR` apply to it as to any clause; a date that cannot be read is left out, with a note."""
    queries: list[Any] = []

    def take(match: re.Match[str]) -> str:
        written, value = match.group(0), match.group(2)
        if value.startswith("[") and not value.endswith("]"):
            notes.append(f"'{written}' has no closing ']': read to its end date")
        elif written != f"{match.group(1)}:{value}":
            notes.append(f"read '{written}' as '{match.group(1)}:{value}'")
        try:
            queries.append(_date_query(value, now, notes, written))
        except _Impossible as exc:
            notes.append(f"'{written}' is not in the calendar ({exc}): it matches nothing")
            queries.append(MATCH_NOTHING)
        except (ValueError, OverflowError):
            notes.append(f"'{written}' is not a date (try 2024, 2024-06-01, >-7d): ignored")
            queries.append(None)
        return f"\ue000{len(queries) - 1}\ue001"

    return _DATE_TERM.sub(take, text), queries


def _date_query(value: str, now: datetime, notes: list[str], written: str) -> Any:
    """`2024`, `2024-06`, `>2024-06-01`, `<=2024`, `>-7d`, `[2024-01 to 2024-03]`, `today`.

    `>` is after the whole period named (`>2024`: from 2025), `<` before it, `>=` and `<=`
    include it; an age (`>-7d`, newer than seven days ago; `today`) is the instant it starts
    at. A range
    may leave an end open (`[2024-01 to]`, `[* TO 2023-06]`), and one written the wrong way
    round is read the right way round.
    """
    value = value.strip()
    if value.startswith("["):
        low, high = (part.strip() for part in _split_range(value.strip("[]")))
        start = _period(low, now)[0] if low not in ("", "*") else None
        end = _period(high, now)[1] if high not in ("", "*") else None
        if start is not None and end is not None and start > end:
            notes.append(f"read '{written}' from {high} to {low}: its ends were swapped")
            start, end = _period(high, now)[0], _period(low, now)[1]
        return Q.DateRange("published", start, end)
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            rest = value[len(op) :]
            first, last = _period(rest, now)
            if _relative(rest):  # an age: newer (`>`) or older (`<`) than that instant
                if op[0] == ">":
                    return Q.DateRange("published", first, None)
                return Q.DateRange("published", None, first, endexcl=op == "<")
            if op == ">":
                return Q.DateRange("published", last, None, startexcl=True)
            if op == ">=":
                return Q.DateRange("published", first, None)
            if op == "<":
                return Q.DateRange("published", None, first, endexcl=True)
            return Q.DateRange("published", None, last)
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
    if year < 1:
        raise _Impossible("there is no year 0")
    if month is None:
        return datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59, 999_999)
    if not 1 <= month <= 12:
        raise _Impossible(f"there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return datetime(year, month, 1), datetime(year, month, last, 23, 59, 59, 999_999)
    if not 1 <= day <= last:
        raise _Impossible(f"{calendar.month_name[month]} {year} has {last} days")
    start = datetime(year, month, day)
    return start, start.replace(hour=23, minute=59, second=59, microsecond=999_999)


def _utc(value: Any) -> datetime | None:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else None


# -- snippets ------------------------------------------------------------------------------

SNIPPET_WORDS = 36


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
    # Offsets are found again in the whitespace-collapsed body, by the analyzer's own words
    # (a CJK pair or a word with harakat is no `\w+` run of the text).
    body_words, body_start = words_at(body)
    spans: list[tuple[int, int]] = []
    for k, term in enumerate(_STEMMER.word_terms(body_words)):
        if term in terms:
            first = body_start(k) + len(prefix)
            last = first + len(body_words[k])
            if spans and first <= spans[-1][1]:  # overlapping pairs of characters: one mark
                spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
            else:
                spans.append((first, last))
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
