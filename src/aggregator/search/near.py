"""Words read loosely: `word~` (`NearTerm`: the terms within a few edits of the word or its
stem, or of what it may be a slip of: `slip_forms`, which "did you mean" shares) and
`vacc*`, `z?brafish` (`_partial`: prefixes and wildcards)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from whoosh import query as Q
from whoosh.support.levenshtein import damerau_levenshtein

from aggregator.index import fold
from aggregator.search.words import _STEMMER, _any_of

MAX_EDITS = 2
"""`word~N` allows at most this many edits: more reaches most of the index."""


def _partial(fields: tuple[str, ...], word: str) -> Any:
    """`vacc*` (a prefix), `z?brafish` (`?` one letter, `*` any): the terms it stands for."""
    pattern = fold(word)
    if not pattern.strip("*?"):
        return Q.Every()  # `*` alone: everything
    return _any_of([Partial(name, pattern) for name in fields])


class Partial(Q.Wildcard):
    """A pattern matched against the words the index's stems stand for, not only the stems.

    The index holds stems: *security* is `secur`, *hospital* `hospit`, so `securi*`,
    `secu?ity` and `hospital*` match no term as typed (Lucene's wildcards on a stemmed
    field miss them too). A stem near the pattern (one of its literal start's prefixes, or
    one starting with that start) is taken when a word made of it and an English ending
    (`ENDINGS`) matches the pattern and stems back to it.
    """

    def normalize(self) -> Any:
        return self  # Whoosh's would make a prefix pattern a `Prefix`: not this lookup

    def _btexts(self, ixreader: Any) -> Iterator[bytes]:
        found = dict.fromkeys(super()._btexts(ixreader))
        lead = self._find_prefix(self.text)
        if len(lead) < _LEAD:
            return iter(found)
        matches = re.compile(self._get_pattern()).match
        name = self.fieldname
        shorter = [lead[:k].encode() for k in range(_LEAD, len(lead))]
        near = [b for b in shorter if (name, b) in ixreader]
        if self.text[len(lead) :] != "*":  # a prefix's longer stems all matched already
            near += islice(ixreader.expand_prefix(name, lead), _MOST_STEMS)
        for btext in near:
            if btext in found:
                continue
            stem = btext.decode()
            bases = (stem, stem[:-1] + "y") if stem.endswith("i") else (stem,)
            if any(
                matches(word) and _STEMMER.term(word) == stem
                for base in bases
                for ending in ENDINGS
                for word in (base + ending, base + ending + "s")
            ):
                found[btext] = None
        return iter(found)


ENDINGS = (
    *("", "e", "es", "ed", "er", "est", "ing", "ly", "y", "ies", "ied", "ity", "ities"),
    *("ty", "ion", "ation", "ate", "ated", "ator", "able", "ably", "ability", "ible"),
    *("al", "ally", "ance", "ence", "ness", "ment", "ful", "ic", "ical", "ism", "ist"),
    *("ive", "ize", "ized", "ization", "ise", "ised", "ous", "ant", "ent", "le", "ling", "ry"),
)
"""Endings Porter takes off (or leaves a stem of), for the words a stem stands for; each
is tried with an `s` too."""
_LEAD = 3
"""Letters a pattern starts with before its words are looked for: shorter reach too far."""
_MOST_STEMS = 2_000
"""Stems starting with a pattern's start that are tried (`ab?ve` has few; `com?` many)."""


ENDINGS_TAKEN = ("s", "es", "ies", "ed", "er", "ers", "ly", "al", "als", "ial", "ion", "ions",
                 "ation", "ations", "ing", "ings", "ment", "ments", "ness", "ity")  # fmt: skip
"""Endings the stemmer takes off a word it recognises, but not off a misspelt one: the
stem of `hosptial` is `hosptial`, far from `hospit`; without its ending it is one slip."""


def slip_forms(term: str, word: str) -> dict[str, int]:
    """What a typed word may be a slip of, with the slips it took to get there: its stem
    (none); the word without an ending the stemmer would have taken off (none), leaving four
    letters; and both again for the word without its last letter, typed by mistake (one:
    `hospitalx` is `hospital`, whose stem `hospit` is three edits from what was typed)."""
    forms = {term: 0}
    for base, slips in ((word, 0), (word[:-1], 1)):
        if len(base) < 4:
            continue
        cut = [base[: -len(end)] for end in ENDINGS_TAKEN if base.endswith(end)]
        for form in [_STEMMER.term(base), *(c for c in cut if len(c) >= 4)]:
            forms.setdefault(form, slips)
    return forms


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
        self.forms = {text: 0, typed: 0, **slip_forms(text, typed)} if maxdist else {}
        """What was typed may be a slip of, and the slips to each (`words.slip_forms`)."""

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
        for form, slips in self.forms.items():  # a word whose ending was mistyped
            if slips and (self.fieldname, form) in ixreader:
                found[form] = None
            elif form not in (self.text, self.typed):  # (as near as a word that long allows)
                edits = min(self.maxdist, _edits(form, None))
                found.update(dict.fromkeys(ixreader.terms_within(self.fieldname, form, edits)))
        return list(found)

    def expansion_boost(self, term: bytes | str) -> float:
        """1 for the word itself, a quarter for each edit away: an entry with a term one
        edit off has to hold it four times as strongly (more often, in a shorter text) to
        pass an entry with the word. A letter doubled or not (`vacine`, `vaccine`), the
        commonest slip, is half an edit."""
        term = term.decode() if isinstance(term, bytes) else term
        forms = self.forms or {self.text: 0, self.typed: 0}
        return 0.25 ** min(slips + _slips(term, form) for form, slips in forms.items())


def _slips(a: str, b: str) -> float:
    """Edits from a to b, a letter doubled or undoubled counting half."""
    edits = damerau_levenshtein(a, b)
    single = damerau_levenshtein(_DOUBLED.sub(r"\1", a), _DOUBLED.sub(r"\1", b))
    return single + (edits - single) / 2 if single < edits else edits


_DOUBLED = re.compile(r"(.)\1+")
