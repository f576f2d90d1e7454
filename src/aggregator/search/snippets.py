"""Snippets: the stretch of an entry's text where most query terms meet, with the offsets of
the matches in it."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, count

from aggregator.index import words_at
from aggregator.search.characters import is_lone_cjk
from aggregator.search.words import _STEMMER

SNIPPET_WORDS = 36


def snippet(
    text: str,
    terms: set[str],
    words: int = SNIPPET_WORDS,
    phrases: Sequence[tuple[str, ...]] = (),
) -> tuple[str, list[tuple[int, int]]]:
    """The stretch of `text` where most query terms meet, with the matches' offsets in it.

    Scans word by word with the index's own stemming, so `hospitals` lights up for a search
    for `hospital`; the offsets let each front end mark the matches its own way. A phrase's
    words count only where they stand together, as one match. A text of no more than
    `words` words is shown whole.
    """
    if not text:
        return "", []
    seen, start_of = words_at(text)
    if not seen:
        return text[:200], []
    matched = _matches(_STEMMER.word_terms(seen), terms, phrases)
    start = _best_window([(at, key) for at, _, key in matched], len(seen), words)
    end = min(len(seen), start + words)
    begin_char = start_of(start)
    end_char = start_of(end - 1) + len(seen[end - 1])
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(seen) else ""
    whole = start == 0 and end == len(seen)  # (with what follows its last word: a stop)
    body = " ".join((text if whole else text[begin_char:end_char]).split())
    # Offsets are found again in the whitespace-collapsed body, by the analyzer's own words
    # (a CJK pair or a word with harakat is no `\w+` run of the text).
    body_words, body_start = words_at(body)
    spans: list[tuple[int, int]] = []
    for first_word, last_word, key in _matches(_STEMMER.word_terms(body_words), terms, phrases):
        first = body_start(first_word) + len(prefix)
        last = body_start(last_word) + len(prefix) + len(body_words[last_word])
        if len(key) == 2 == last - first and all(map(is_lone_cjk, key)) and key[0] != key[1]:
            # A CJK pair: the character searched alone is marked, not its neighbour.
            if key[0] in terms:
                last -= 1
            elif key[1] in terms:
                first += 1
        if spans and first <= spans[-1][1]:  # overlapping pairs of characters: one mark
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return prefix + body + suffix, spans


def _matches(
    terms_of: list[str], terms: set[str], phrases: Sequence[tuple[str, ...]]
) -> list[tuple[int, int, str]]:
    """(first word, last word, what matched) in text order: each word whose term is
    searched for, and each place where a phrase's terms stand in a row."""
    found = [(at, at, term) for at, term in enumerate(terms_of) if term in terms]
    for phrase in phrases:
        n = len(phrase)
        for at in compress(count(), map(phrase[0].__eq__, terms_of)):
            if tuple(terms_of[at : at + n]) == phrase:
                found.append((at, at + n - 1, " ".join(phrase)))
    return sorted(found)


def _best_window(matched: list[tuple[int, str]], total: int, words: int) -> int:
    """Start of the window of `words` words with the most distinct terms, then most matches,
    opened where its terms meet."""
    if not matched or total <= words:
        return 0
    best: list[tuple[int, str]] = []
    best_score = (-1, -1)
    right = 0
    for left_index, (left, _) in enumerate(matched):
        while right < len(matched) and matched[right][0] < left + words:
            right += 1
        inside = matched[left_index:right]
        score = (len(_terms(inside)), len(inside))
        if score > best_score:
            best, best_score = inside, score
    # The window opens where its terms meet: a match whose term comes again later in it,
    # and that is not followed by the next match (a phrase), is passed over. A front end
    # showing one line of the snippet then shows `federal report`, not a lone `federal`
    # twenty words before it.
    while len(best) > 1 and best[1][0] != best[0][0] + 1 and best[0][1] in _terms(best[1:]):
        best = best[1:]
    # Give the first match a little context before it. Near the text's end the window is
    # filled with words from before it, but opens after the last match it was chosen over.
    first = best[0][0]
    passed = [at for at, _ in matched if at < first]
    return max(0, min(first - 4, max(total - words, passed[-1] + 1 if passed else 0)))


def _terms(matched: list[tuple[int, str]]) -> set[str]:
    return {term for _, term in matched}
