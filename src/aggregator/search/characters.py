"""Chinese, Japanese and Korean characters searched as the index holds them: a run of text in
overlapping pairs (`我的猫` → `我的`, `的猫`), a character alone only where it stood alone.
Characters typed apart are paired again (`paired`), and one left alone stands for every pair
it begins or ends (`LoneCharacter`)."""

from __future__ import annotations

import itertools
import sys
import weakref
from collections.abc import Iterator
from typing import Any

from whoosh import query as Q

from aggregator.index.folding import CJK_CHARS, cjk_patterns


def is_lone_cjk(term: str) -> bool:
    """One CJK character: the index holds it in pairs, and alone only where it stood alone."""
    return len(term) == 1 and cjk_patterns()[0].match(term) is not None


def paired(field: Any, terms: list[str]) -> list[str]:
    """Characters typed apart (`"猫 很"`) as the index holds them together: in pairs."""
    out: list[str] = []
    for lone, group in itertools.groupby(terms, key=is_lone_cjk):
        run = list(group)
        joined = lone and len(run) > 1
        out += field.process_text("".join(run), mode="query") if joined else run
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
        kept[name] = [lead for lead in leads if is_lone_cjk(lead)]
    return kept[name]


_FIRST_CJK = CJK_CHARS[0]
"""Where CJK characters begin in the term list's order (Hangul Jamo; 々 and 〇 come before
the kana): the lowest of CJK_CHARS."""
_LEADS: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()
