"""Keeping the user's own bytes wherever an in-place edit did not reach.

An edit is made on a parsed tree, and a tree written out again spells things its own way:
`<head></head>` as `<head/>`, `&apos;` as `'`, `>` in a value as `&gt;`, single quotes as
double, an outline tag laid over three lines as one. Each is the same XML, but a list kept
in git would show lines the user never touched as changed. Here the edited document and the
list as it was are cut into tokens (tags, text, comments), compared by what they mean, and
every run of tokens that means the same is written as the list had it; only what the edit
changed is written as the tree wrote it, and so is what the list wrote in a way XML
refuses (a bare `&`, an HTML entity, a raw quote in a value): the repairs it needed. The
caller reads the result back before using it.
"""

from __future__ import annotations

import html
import re
from difflib import SequenceMatcher
from typing import NamedTuple

_TOKEN = re.compile(
    r"""<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>"""
    r"""|</[^>]*>|<(?:[^>"']|"[^"]*"|'[^']*')*>|[^<]+|<[^<>]*>|<""",
    re.DOTALL | re.IGNORECASE,
)
"""Comments, CDATA, processing instructions, a DOCTYPE, tags, text; last, the pieces of a
tag broken by a raw quote, which keep nothing of the list as written (they are not sound)."""
_NAME = re.compile(r"</?([^\s/>]+)")
_ATTRIBUTE = re.compile(r"""([^\s=/<>"']+)\s*=\s*("[^"]*"|'[^']*')""")
_WHITESPACE = re.compile(r"[\t\n\r]")
_TAG = re.compile(r"""</?[^\s/<>"'=&]+(?:\s+[^\s=/<>"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*/?>""")
"""A tag whose every attribute is quoted and holds no `<`: one an XML parser takes."""
_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
"""An `&` that starts no reference XML knows."""
_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


Key = tuple[str, ...]


class Token(NamedTuple):
    key: Key
    """What the token means: a tag's kind, name and attribute values as a parser reads
    them, a text's characters, a comment's own text."""
    raw: str
    """How it is written ("" for the end of a tag written as `<x/>`)."""
    sound: bool = True
    """Whether XML takes it as written (a list that is not well-formed keeps no token that
    is not)."""
    empty: bool = False
    """A start tag written as `<x/>`: its end token follows with no text of its own."""


def tokens(text: str) -> list[Token] | None:
    """`text` as tokens, or None when it does not cut cleanly (not the XML expected)."""
    out: list[Token] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() != pos:
            return None
        pos = match.end()
        raw = match.group()
        sound = not _REFUSED.search(raw)
        if not raw.startswith("<"):
            text_sound = sound and not _AMPERSAND.search(raw)
            out.append(Token(("text", html.unescape(raw.replace("\r\n", "\n"))), raw, text_sound))
        elif raw.startswith(("<!", "<?")):
            out.append(Token(("other", raw.replace("\r\n", "\n")), raw, sound))
        else:
            sound = sound and _TAG.fullmatch(raw) is not None and not _AMPERSAND.search(raw)
            name = _name(raw)
            if raw.startswith("</"):
                out.append(Token(("end", name), raw, sound))
                continue
            attributes = tuple(
                f"{attr}={_value(value[1:-1])}" for attr, value in _ATTRIBUTE.findall(raw)
            )
            empty = raw.endswith("/>")
            out.append(Token(("start", name, *attributes), raw, sound, empty))
            if empty:
                out.append(Token(("end", name), ""))
    return out if pos == len(text) else None


def _name(raw: str) -> str:
    found = _NAME.match(raw)
    return found.group(1) if found else ""


def _value(written: str) -> str:
    """An attribute value as an XML parser reads it: line breaks and tabs written in it are
    spaces, references are their characters."""
    return html.unescape(_WHITESPACE.sub(" ", written))


def splice(original: str, edited: str) -> str | None:
    """`edited`, written as `original` is wherever the two mean the same; None when either
    does not cut into tokens."""
    before, after = tokens(original), tokens(edited)
    if before is None or after is None:
        return None
    kept = [-1] * len(after)  # for each token of `after`, the token of `before` it keeps
    for i, j, size in _matches([t.key for t in before], [t.key for t in after]):
        for k in range(size):
            if before[i + k].sound:
                kept[j + k] = i + k
    out: list[str] = []
    closed: list[bool] = []  # for each open element: was its start written as `<x/>`?
    for j, token in enumerate(after):
        i = kept[j]
        if token.key[0] == "start":
            raw = before[i].raw if i >= 0 and _whole(before, after, kept, i, j) else token.raw
            closed.append(raw.endswith("/>"))
            out.append(raw)
        elif token.key[0] == "end":
            if closed and closed.pop():
                continue  # its start tag closed it
            written = before[i].raw if i >= 0 else token.raw
            out.append(written or f"</{token.key[1]}>")
        else:
            out.append(before[i].raw if i >= 0 else token.raw)
    return "".join(out)


def _matches(a: list[Key], b: list[Key]) -> list[tuple[int, int, int]]:
    """Runs of `a` and `b` that are the same, as (start in a, start in b, length).

    An edit touches a few outlines of a long list: the same beginning and end are found in
    one pass, and only what lies between goes to `SequenceMatcher` (on a whole list of 5,000
    feeds it took seconds, as every line's indentation and `</outline>` match thousands of
    others)."""
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    runs = [(0, 0, head)]
    middle = SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail])
    runs += [(head + i, head + j, n) for i, j, n in middle.get_matching_blocks() if n]
    runs.append((len(a) - tail, len(b) - tail, tail))
    return runs


def _whole(before: list[Token], after: list[Token], kept: list[int], i: int, j: int) -> bool:
    """Whether a start tag can be written as before: when either side writes the element as
    `<x/>`, only if its end is kept too (else `<x/>` would be followed by children, or an
    element's `</x>` lost)."""
    if not (before[i].empty or after[j].empty):
        return True
    return j + 1 < len(after) and kept[j + 1] == i + 1
