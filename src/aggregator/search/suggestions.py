""" "Did you mean": each word of the query absent from the index replaced by the closest word
that is there, spelled as an entry spells it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from itertools import islice
from typing import Any

from whoosh import query as Q
from whoosh.analysis import STOP_WORDS

from aggregator.errors import AggregatorError
from aggregator.index import fold
from aggregator.index.pairs import is_pair
from aggregator.search.near import _edits, slip_forms
from aggregator.search.words import _STEMMER

MORE_COMMON = 10
"""How many times more entries a word one more slip away must be in to be suggested instead."""


def _suggest(
    searcher: Any, words: list[str], original: str, text_of: Callable[[str], str] | None
) -> str:
    """ "Did you mean": each word absent from the index replaced by the closest that is there."""
    reader = searcher.reader()
    analyzer = searcher.schema["content"].analyzer
    changed = original
    for word in words:
        if len(analyzer.terms(word)) != 1:
            continue  # indexed in pieces (CJK as pairs of characters): no word to respell
        folded = fold(word)
        term = _STEMMER.term(folded)
        if _held(reader, "content", term) or _held(reader, "title", term):
            continue
        # A feed of headlines has its words in titles only: looked for there when the texts
        # hold none near (not always: it doubled the time a suggestion takes).
        closest = _closest(reader, term, folded, "content")
        if closest is None and (closest := _closest(reader, term, folded, "title")) is None:
            continue
        best, slips = closest
        spelled = _spell(searcher, best, word.lower(), text_of) or best
        if _far_from_typed(folded, fold(spelled), slips):
            continue
        changed = re.sub(rf"\b{re.escape(word)}\b", spelled, changed, count=1)
    return changed if changed != original else ""


def _far_from_typed(typed: str, spelled: str, slips: int) -> bool:
    """Whether a word near the stem or a cut form of what was typed is far from what was
    typed itself: two slips from `bront` (`brontë` without its ending) reached `bring`,
    three from the word; and a cut form one slip from `over` made `goverment` `over`. A
    word an ending away (`clincal`: `clinics`) still is a suggestion."""
    surface = _slips(typed, spelled)
    return (slips > 1 and surface > slips) or (surface > 1 and typed[:1] != spelled[:1])


def _closest(reader: Any, term: str, word: str, field: str) -> tuple[str, int] | None:
    """The indexed word fewest slips from `term` or `word` without its ending: a letter
    added, dropped, changed, or two neighbours swapped (the commonest typing slip, which
    Whoosh's automaton counts as two changes). Among equals, one as near the whole stem
    (`samller`: `smaller`, not `small`), a reordering of the same letters (`trian`:
    `train`, not `trial`), then the word more entries hold. Two slips are looked for from
    the stem only: from every cut form too, a long word's search took seconds. Returns
    the word and its slips."""
    taken = slip_forms(term, word)
    forms = list(taken)
    swaps = [swapped for form in forms for swapped in _swapped(form)]
    near = _within(reader, field, [f for f, slips in taken.items() if not slips], 1)
    cut = [f for f, slips in taken.items() if slips]
    near.update(f for f in cut if (field, f) in reader)
    near.update(_within(reader, field, cut, 1))  # one slip more: `securt` → `secur` (`security`)
    near.update(s for s in swaps if (field, s) in reader)
    most = _edits(word, None)  # as for `word~`: `bar` is not a slip of `abc`
    if not near and most == 2:  # two slips: two edits, or a swap and an edit
        near = _within(reader, field, [term], 2) | _within(reader, field, _swapped(term), 1)
    ranked: list[tuple[int, bool, bool, int, str]] = []
    for found in near - STOP_WORDS:  # `foo` → `for` helps no one
        slips = [taken[form] + _slips(form, found) for form in forms]  # forms[0]: the stem
        fewest = min(slips)
        held = _held(reader, field, found) if fewest <= most else 0
        if held:
            letters = sorted(found)
            reordered = any(letters == sorted(form) for form in forms)
            ranked.append((fewest, slips[0] > fewest, not reordered, -held, found))
    if not ranked:
        return None
    ranked.sort()
    # A word one slip further that far more entries hold is the likelier meaning: `securty`
    # is `security` (64 entries), not `sécurité` (one), whose stem is a swap away.
    best = ranked[0]
    further = (c for c in ranked if c[0] == best[0] + 1 and -c[3] >= MORE_COMMON * -best[3])
    chosen = next(further, best)
    return chosen[-1], chosen[0]


def _within(reader: Any, field: str, words: list[str], edits: int) -> set[str]:
    """Indexed words within `edits` edits (a swap counting as two) of any of `words`, asked
    of each segment: a segment's automaton and the whole index's reader count swaps
    differently, and the answer must not depend on how many segments there are."""
    return {
        found
        for leaf, _ in reader.leaf_readers()
        for word in words
        for found in leaf.terms_within(field, word, edits, prefix=1)
        if not is_pair(found)
    }


def _swapped(word: str) -> list[str]:
    """`word` with each pair of neighbouring letters swapped."""
    return [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]


def _slips(a: str, b: str) -> int:
    """Edits from `a` to `b`, a swap of neighbours counting as one (optimal string
    alignment distance)."""
    before: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        earlier, before, row = before, row, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(before[j] + 1, row[j - 1] + 1, before[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], earlier[j - 2] + 1)
    return row[-1]


def _held(reader: Any, fieldname: str, term: str) -> int:
    """How many entries hold `term` (0 when only deleted copies did): a term's document
    frequency counts the copies an edit or a removal left in a segment until it is merged."""
    freq = reader.doc_frequency(fieldname, term)
    if freq and reader.has_deletions() and not reader.postings(fieldname, term).is_active():
        return 0
    return freq


SPELLINGS_FROM = 5
"""Entries a stem's spellings are read from: one entry may hold only `accord` where the
typist meant `according`."""


def _spell(searcher: Any, term: str, typed: str, text_of: Callable[[str], str] | None) -> str:
    """A real word for a stemmed term (`hospit` → `hospital`), read from the first entries
    holding it (found unscored: a common word's scores cost a second): of their words with
    that stem, the one closest to what was typed (`eelction` → `election`, not `elected`)."""
    if text_of is None:
        return ""
    spelled: set[str] = set()
    holding = Q.Or([Q.Term("content", term), Q.Term("title", term)])
    for docnum in islice(searcher.docs_for_query(holding), SPELLINGS_FROM):
        try:
            text = text_of(searcher.stored_fields(docnum)["id"])
        except AggregatorError:  # gone from the store, not yet from the index
            continue
        # As written, but in plain forms (full-width `ａｂｃ` is offered as `abc`).
        words = {unicodedata.normalize("NFKC", w).lower() for w in re.findall(r"\w+", text)}
        spelled.update(w for w in words if _STEMMER.term(fold(w)) == term)
    return min(spelled, key=lambda w: (_slips(typed, w), w)) if spelled else ""
