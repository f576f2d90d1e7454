"""The fields a query may name, and what a word becomes in them: the index's own analysis
(`_schema`, `_STEMMER`), a word's terms in each field (`_word_query`), and the any-of and
all-of that join clauses."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from whoosh import query as Q

from aggregator.index import FoldStemTokenizer, make_schema
from aggregator.models import FOLDER_SLASH
from aggregator.search.characters import LoneCharacter, is_lone_cjk, paired
from aggregator.search.phrases import FastPhrase

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
_DEFAULT_FIELDS = ("title", "content")
MAX_PHRASE = 32
"""A phrase is matched by its first this many words."""
_STEMMER = FoldStemTokenizer()


@functools.cache
def _schema() -> Any:
    return make_schema()


def _word_query(fields: Iterable[str], word: str) -> Any:
    """A word in each of the fields, as Whoosh's parser reads it: a word the analyzer
    splits (`can't`, `i.e`) is a phrase of its parts, or all of them in a field that keeps
    no positions (`url:`)."""
    return _in_order(fields, word)


def _in_order(
    fields: Iterable[str], text: str, *, slop: int = 1, cut: Callable[[int], None] | None = None
) -> Any:
    """The terms of `text` in order, in each of the fields: one term is a term, several a
    phrase; in a field that keeps no positions, all of them anywhere. A phrase longer than
    MAX_PHRASE is all of its terms anywhere, or (with `cut`, told how long it was) its
    first MAX_PHRASE in order."""
    schema, parts = _schema(), []
    for name in fields:
        field = schema[name]
        if name == "category" and "/" in text:
            parts.append(_topic_path(text))
            continue
        terms = list(field.process_text(text, mode="query"))
        positions = field.format.supports("positions")
        lone = positions and any(map(is_lone_cjk, terms))
        if lone:
            terms = paired(field, terms)
            lone = any(map(is_lone_cjk, terms))
        if len(terms) > MAX_PHRASE and cut is not None:
            cut(len(terms))
            terms = terms[:MAX_PHRASE]
        if lone:
            # `猫`, `B站`, `T恤`: the index holds 站 only in pairs (站看): each part anywhere.
            parts.append(_all_of([_term_of(name, term) for term in dict.fromkeys(terms)]))
        elif len(terms) == 1:
            parts.append(Q.Term(name, terms[0]))
        elif terms and positions and len(terms) <= MAX_PHRASE:
            parts.append(FastPhrase(name, terms, slop=slop))
        elif terms:
            parts.append(Q.And([Q.Term(name, term) for term in dict.fromkeys(terms)]))
    return _any_of(parts)


def _term_of(name: str, term: str) -> Any:
    return LoneCharacter(name, term) if is_lone_cjk(term) else Q.Term(name, term)


def _topic_path(text: str) -> Any:
    """`category:Film/TV` as a path (`Film` > `TV`) or as one folder whose name has a `/`
    (kept as FOLDER_SLASH): the query cannot tell, and the index holds whichever it is."""
    levels = text.split("/")[: _PATH_LEVELS + 1]
    paths = [levels[0]]
    for level in levels[1:]:
        paths = [f"{p}{slash}{level}" for p in paths for slash in ("/", FOLDER_SLASH)]
    field = _schema()["category"]
    terms = {t for path in paths for t in field.process_text(path, mode="query")}
    return _any_of([Q.Term("category", term) for term in sorted(terms)])


_PATH_LEVELS = 4
"""The slashes of a typed topic path read either way (2^4 paths at most)."""


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
