"""The fields a query may name, and what a word becomes in them: the index's own analysis
(`_schema`, `_STEMMER`), a word's terms in each field (`_word_query`), and the any-of and
all-of that join clauses."""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from whoosh import query as Q

from aggregator.index import FoldStemTokenizer, make_schema
from aggregator.index.folding import CJK_CHARS, cjk_patterns
from aggregator.models import FOLDER_SLASH
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
        if positions and len(terms) > 1 and any(map(_lone_cjk, terms)):
            terms = _paired(field, terms)
        if len(terms) > MAX_PHRASE and cut is not None:
            cut(len(terms))
            terms = terms[:MAX_PHRASE]
        if len(terms) == 1 and positions and _lone_cjk(terms[0]):
            parts.append(LoneCharacter(name, terms[0]))
        elif positions and len(terms) > 1 and any(map(_lone_cjk, terms)):
            # `B站`, `T恤`: the index holds 站 only in pairs (站看): each part anywhere.
            parts.append(Q.And([LoneCharacter(name, t) if _lone_cjk(t) else Q.Term(name, t)
                                for t in dict.fromkeys(terms)]))  # fmt: skip
        elif len(terms) == 1:
            parts.append(Q.Term(name, terms[0]))
        elif terms and field.format.supports("positions") and len(terms) <= MAX_PHRASE:
            parts.append(FastPhrase(name, terms, slop=slop))
        elif terms:
            parts.append(Q.And([Q.Term(name, term) for term in dict.fromkeys(terms)]))
    return _any_of(parts)


def _lone_cjk(term: str) -> bool:
    return len(term) == 1 and cjk_patterns()[0].match(term) is not None


def _paired(field: Any, terms: list[str]) -> list[str]:
    """Characters typed apart (`"猫 很"`) as the index holds them together: in pairs."""
    out: list[str] = []
    run: list[str] = []
    for term in [*terms, ""]:
        if _lone_cjk(term):
            run.append(term)
            continue
        if len(run) > 1:
            out += field.process_text("".join(run), mode="query")
        else:
            out += run
        run = []
        if term:
            out.append(term)
    return out


class LoneCharacter(Q.Wildcard):
    """One Chinese, Japanese or Korean character, as a word of its own (`猫`, `京`).

    The index holds CJK text as overlapping pairs (`我的猫很` → `我的`, `的猫`, `猫很`) and
    a character alone only where it stands alone, so the character as a term found almost
    nothing. It stands for every pair it begins (a run of the sorted term list) or ends:
    each character a pair can begin with, followed by it, is looked up.
    """

    def normalize(self) -> Any:
        return self  # Whoosh's would make it a plain term

    def _btexts(self, ixreader: Any) -> Iterator[bytes]:
        name, char = self.fieldname, self.text
        begun = list(ixreader.expand_prefix(name, char))
        pairs = ((lead + char).encode() for lead in _leading_cjk(ixreader, name))
        ended = [pair for pair in pairs if (name, pair) in ixreader]
        return iter(dict.fromkeys([*begun, *ended]))


def _leading_cjk(ixreader: Any, name: str) -> list[str]:
    """The characters the field's CJK terms begin with, kept while the reader lives. Found by
    a jump from each to the first term after it: on 5,000 entries of random Chinese, 3,000
    jumps over 570,000 terms took 0.11-0.23 s a field, where reading them all took 0.8 s;
    the pairs a character ends are then 3,000 look-ups (20-40 ms)."""
    kept = _LEADS.setdefault(ixreader, {})
    if name not in kept:
        leads, start = [], _FIRST_CJK
        while (term := next(iter(ixreader.terms_from(name, start)), None)) is not None:
            if term[0] != name:
                break
            lead = term[1].decode()[0]
            leads.append(lead)
            if ord(lead) == sys.maxunicode:
                break
            start = chr(ord(lead) + 1)
        kept[name] = [lead for lead in leads if _lone_cjk(lead)]
    return kept[name]


_FIRST_CJK = CJK_CHARS[0]
"""Where CJK characters begin in the term list's order (Hangul Jamo; 々 and 〇 come before
the kana): the lowest of CJK_CHARS."""
_LEADS: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()


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
