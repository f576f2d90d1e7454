"""What characters become before text is split into words, and how it is split: the part of the
analysis that is about Unicode.

Folding, for every script: lower case; compatibility forms made plain (NFKC: `ﬁ` → `fi`,
full-width `Ｔｏｋｙｏ` → `tokyo`, half-width `ｶﾀｶﾅ` → `カタカナ`); diacritics dropped (Latin
accents, Greek tonos, Arabic harakat and Hebrew points: `الصِّحَّة` → `الصحة`); invisible
format characters dropped (soft hyphen, joiners, direction marks, variation selectors, the
Arabic tatweel). Marks that are letters' own parts stay: Indic and Thai vowel signs, viramas,
nuktas and the kana voicing marks (`が` is not `か`).

Splitting: words are `\\w+` runs of the folded text, except that Chinese, Japanese and Korean
runs (Han, Hiragana, Katakana, Hangul), which have no spaces between words, become
overlapping bigrams (`東京都` → `東京`, `京都`), a lone character itself: Lucene's CJK
analysis. A query of two characters or more is then a phrase of bigrams that matches inside
longer runs.

Each character's folding is worked out once and kept in a table that `str.translate` reads in
C; only text that is not already NFKC pays for a normalisation.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence

from whoosh.support.charset import accent_map

WORD = re.compile(r"\w+")
CJK_CHARS = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005-\u3007\u3021-\u3029\u3038-\u303c"  # 々〆〇, Hangzhou numerals, 〻
    "\u3041-\u3096\u309d-\u309f"  # Hiragana
    "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"  # Katakana (with ー), its extensions
    "\u3131-\u318e"  # Hangul compatibility Jamo
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs, extension A
    "\ua960-\ua97c\uac00-\ud7a3\ud7b0-\ud7fb"  # Hangul syllables and Jamo extensions
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f\uffa0-\uffdc"  # half-width Katakana and Hangul
    "\U0001b000-\U0001b16f"  # Kana supplement and extensions
    "\U00020000-\U000323af"  # CJK ideographs, extensions B to H
)
"""Characters indexed as bigrams. All are word characters (`\\w`)."""


@functools.cache
def cjk_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Whether folded text holds CJK (search), and its pieces: a CJK run (group 1) or a word
    without CJK in it (group 2). Compiled when first asked (4 ms), not on import."""
    return re.compile(f"[{CJK_CHARS}]"), re.compile(f"([{CJK_CHARS}]+)|([^\\W{CJK_CHARS}]+)")


IGNORED = frozenset(
    "\u00ad\u034f\u061c\u0640\u180b\u180c\u180d\u180f\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
"""Invisible characters dropped, so that a word they sit inside stays one word: soft hyphen,
combining grapheme joiner, Arabic letter mark and tatweel, Mongolian variation selectors,
zero-width joiner, direction marks and embeddings, word joiner, invisible operators, byte
order mark, variation selectors. Zero-width space and non-joiner still part words."""


def is_diacritic(char: str) -> bool:
    """A non-spacing mark that accents a letter rather than being part of it.

    Told by its canonical combining class: the positional classes (200 and up: accents above,
    below, …), overlays (1), and the fixed classes of Hebrew points and Arabic and Syriac
    vowel marks (10-36). Class 0 (Indic and Thai vowel signs and other marks that make the
    letter), 7 (nukta), 8 (kana voicing), 9 (virama) and the Telugu, Thai, Lao and Tibetan
    vowel and tone classes (84-132) stay.
    """
    if unicodedata.category(char) != "Mn":
        return False
    ccc = unicodedata.combining(char)
    return ccc == 1 or 10 <= ccc <= 36 or ccc >= 200


def _folded_char(code: int) -> str:
    char = chr(code)
    if char in IGNORED:
        return ""
    text = unicodedata.normalize("NFKC", char).lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if c not in IGNORED and not is_diacritic(c))
    if kept != decomposed:
        text = unicodedata.normalize("NFC", kept)
    return text.translate(accent_map).lower()  # letters that do not decompose: ø, ł, đ, ß


class _Folds(dict[int, str]):
    """Each character's folding, worked out when first met (`str.translate` reads it in C)."""

    def __missing__(self, code: int) -> str:
        folded = self[code] = _folded_char(code)
        return folded


class _Resized(dict[int, str]):
    """For each character: empty if it folds to exactly one character, else "x"."""

    def __missing__(self, code: int) -> str:
        mark = self[code] = "" if len(FOLDS[code]) == 1 else "x"
        return mark


FOLDS = _Folds({code: chr(code).lower() for code in range(128)})
_RESIZED = _Resized(dict.fromkeys(range(128), ""))


def fold(text: str) -> str:
    """Lower case, compatibility forms made plain, no diacritics: what index and query see.

    That is NFKC, then each character's folding; but as a character's folding includes its
    own NFKC, NFKC of the whole text is needed only where it joins characters (`ｶﾞ` → `ガ`,
    Hangul jamo), and that leaves a folding that is not normalised yet (`カ` + U+3099).
    """
    text = text.lower()
    if text.isascii():
        return text
    folded = text.translate(FOLDS)
    if unicodedata.is_normalized("NFKC", folded):
        return folded
    return unicodedata.normalize("NFKC", text).translate(FOLDS)


def grams(run: str) -> list[str]:
    """A CJK run's overlapping bigrams; a lone character is its own term."""
    return [run] if len(run) == 1 else list(map(operator.add, run, run[1:]))


def pieces(text: str) -> Iterator[tuple[str, int, int, bool]]:
    """The index's words of `text`, each with where it is written in `text`.

    Yields (folded word, start, end, gram): `gram` for a CJK bigram or lone character, a
    term as it is (never stemmed). The words are those `fold(text)` split gives, so the
    index (which splits folded text) and the query and highlighter (which need offsets into
    the text as written) agree.
    """
    if text.isascii():
        for match in WORD.finditer(text.lower()):
            yield match.group(), match.start(), match.end(), False
        return
    folded, places = aligned_fold(text)
    for match in cjk_patterns()[1].finditer(folded):
        at, end = match.span()
        run = match.group(1)
        found = [(match.group(), at, end, False)] if run is None else _grams_at(run, at)
        for word, start, finish, gram in found:
            if places is None:
                yield word, start, finish, gram
            else:
                yield word, *places.starts([start]), *places.finishes([finish]), gram


def _grams_at(run: str, at: int) -> list[tuple[str, int, int, bool]]:
    return [(gram, i, i + len(gram), True) for i, gram in enumerate(grams(run), at)]


def words_and_spans(text: str) -> tuple[list[str], list[int], list[int]]:
    """What `pieces` gives, as lists: the folded words, and where each starts and ends in
    `text` (a snippet's whole text goes through here: matches are read in C where it can)."""
    folded, places = aligned_fold(text)
    has_cjk, cjk_pieces = cjk_patterns()
    if has_cjk.search(folded) is None:
        found = list(WORD.finditer(folded))
        words = list(map(re.Match.group, found))
        begins = list(map(re.Match.start, found))
        finishes = list(map(operator.add, begins, map(len, words)))
    else:
        words, begins, finishes = [], [], []
        for match in cjk_pieces.finditer(folded):
            at, end = match.span()
            run = match.group(1)
            if run is None or len(run) == 1:
                words.append(match.group())
                begins.append(at)
                finishes.append(end)
            else:
                words += grams(run)
                begins += range(at, end - 1)
                finishes += range(at + 2, end + 1)
    if places is None:
        return words, begins, finishes
    return words, places.starts(begins), places.finishes(finishes)


class Places:
    """Where the characters of folded text were written, when folding changed the length of
    some: the text was folded in parts (a character, or a letter with its marks), part k
    written from `starts_at[k]` to `ends_at[k + 1]`."""

    def __init__(self, parts: list[str], starts_at: Sequence[int], ends_at: Sequence[int]):
        self.ends = list(itertools.accumulate(map(len, parts)))  # in the folded text
        self.starts_at, self.ends_at = starts_at, ends_at

    def starts(self, starts: Iterable[int]) -> list[int]:
        """Where the words of folded text starting at `starts` start as written."""
        parts = map(bisect.bisect_right, itertools.repeat(self.ends), starts)
        return list(map(self.starts_at.__getitem__, parts))

    def finishes(self, finishes: Iterable[int]) -> list[int]:
        """Where the words of folded text ending before `finishes` end as written: with their
        last part, and what folded to nothing after it (an accent written apart, a soft
        hyphen)."""
        ends = self.ends
        lasts = map(bisect.bisect_right, itertools.repeat(ends), map(_before, finishes))
        after = map(bisect.bisect_right, itertools.repeat(ends), map(ends.__getitem__, lasts))
        return list(map(self.ends_at.__getitem__, after))


_before = (-1).__add__


def aligned_fold(text: str) -> tuple[str, Places | None]:
    """`fold(text)`, and where its characters were written in `text` (None: the k-th folded
    character is the k-th character).

    Folding is local: NFKC composes a letter only with the marks (or Hangul jamo) after it,
    so where it composes anything the text is cut before every other character and each
    piece folded alone.
    """
    lowered = text.lower()
    folded = lowered.translate(FOLDS)
    if unicodedata.is_normalized("NFKC", folded):  # as `fold`: character by character
        if len(lowered) == len(text) == len(folded) and not lowered.translate(_RESIZED):
            return folded, None
        cuts: Sequence[int] = range(len(lowered) + 1)
        parts = list(map(FOLDS.__getitem__, map(ord, lowered)))
    else:
        cuts = [i for i, char in enumerate(lowered) if i == 0 or _cuts_before(char)]
        cuts.append(len(lowered))
        parts = list(map(_fold_lowered, map(lowered.__getitem__, map(slice, cuts, cuts[1:]))))
    if len(lowered) == len(text):
        return "".join(parts), Places(parts, cuts, cuts)
    # A capital İ lower-cases to two characters: cuts in the lower-cased text are mapped back.
    came_from = [i for i, char in enumerate(text) for _ in char.lower()]
    came_from.append(len(text))
    starts_at = [came_from[cut] for cut in cuts]
    ends_at = [came_from[cut - 1] + 1 if cut else 0 for cut in cuts]
    return "".join(parts), Places(parts, starts_at, ends_at)


def _fold_lowered(piece: str) -> str:
    if len(piece) == 1:
        return FOLDS[ord(piece)]
    return unicodedata.normalize("NFKC", piece).translate(FOLDS)


def _cuts_before(char: str) -> bool:
    """Whether NFKC leaves `char` apart from the character before it (a starter that does not
    compose backwards)."""
    code = ord(char)
    if (
        0x1100 <= code <= 0x11FF
        or 0x3131 <= code <= 0x318E
        or 0xA960 <= code <= 0xA97F
        or 0xD7B0 <= code <= 0xD7FF
        or 0xFFA0 <= code <= 0xFFDC
    ):
        return False  # Hangul jamo compose into syllables
    if unicodedata.combining(char) or unicodedata.category(char)[0] == "M":
        return False
    plain = unicodedata.normalize("NFKC", char)
    return not plain or not unicodedata.category(plain[0]).startswith("M")  # ﾞ → U+3099
