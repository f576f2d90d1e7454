""" "Did you mean": each word of the query absent from the index replaced by the closest word
that is there, spelled as an entry spells it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from whoosh import query as Q

from aggregator.index import fold
from aggregator.search.words import _STEMMER


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
