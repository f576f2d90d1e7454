"""The query as read (`ParsedQuery`, made of `_Item` clauses) and its any-word reading: for a
question whose words do not all appear together, its plain words ranked by how many match."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from whoosh import query as Q
from whoosh.analysis import STOP_WORDS

from aggregator.search.words import _DEFAULT_FIELDS, _any_of, _word_query

PLAIN_WORDS = 3
"""The any-word reading needs this many plain words (two words are a query that means both)."""
PASSAGE_WORDS = 8
"""A query with this many words (at least PLAIN_WORDS of them plain) is a pasted passage:
its quotation marks are punctuation: the any-word reading counts the words of its quotes
with the others (the exact quote adding to the score)."""


@dataclass
class ParsedQuery:
    query: Any
    notes: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    """The plain words of the query, for "did you mean"."""
    loose: Any = None
    """The any-word reading (the plain words ranked by how many match, everything else kept
    as written), or None when the query has too few plain words to loosen."""
    loose_note: str = ""


@dataclass
class _Item:
    """A clause of the query as read: its Whoosh query, and its text when it is plain words
    (no field, sign, quote or operator), which the any-word reading may loosen."""

    query: Any
    plain: str | None = None
    quoted: str | None = None
    """A phrase's words, when it searches the default fields: in a pasted passage its
    quotation marks are punctuation (see `_loosen`)."""


def _loosen(parsed: ParsedQuery, items: list[_Item]) -> None:
    """The any-word reading, for when no entry has every word: the plain words (a word with
    no field, sign, quote or operator) are ranked by how many of them match, and how well;
    everything else (fields, exclusions, phrases, dates, OR and AND, near and partial
    words) stays as written. In a pasted passage (PASSAGE_WORDS words or more) quotes
    are the passage's punctuation: their words count with the others, and a quote found
    whole adds to the score. Stop words are dropped: they match nearly everything and would
    only slow the ranking."""
    plain = re.findall(r"\w+", " ".join(item.plain for item in items if item.plain is not None))
    if len(plain) < PLAIN_WORDS:
        return
    # All its words count towards a passage's length, those in quotes too.
    quoted = re.findall(r"\w+", " ".join(item.quoted for item in items if item.quoted))
    passage = len(plain) + len(quoted) >= PASSAGE_WORDS
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
    parsed.loose_note = ""
    if kept:
        parsed.loose_note += " (the rest of the query applies as written)"
    if phrases:
        parsed.loose_note += "; in a passage this long a quote's words count as words"


def _loosened(parsed: ParsedQuery, every: int = 0) -> ParsedQuery:
    """The any-word reading, said to be so; `every`: the entries that have every word (too
    few to show alone), which come first."""
    if every:
        head = f"only {every} {'entry has' if every == 1 else 'entries have'} every word: "
        head += "shown first, then those with most of them"
    else:
        head = "no entry has every word: ranked by how many of them match"
    return ParsedQuery(
        query=parsed.loose,
        notes=[*parsed.notes, head + parsed.loose_note],
        words=parsed.words,
    )
