"""Query text → Whoosh query tree and notes: `parse_query`, the tokens (`_tokens`) and the
recursive-descent reader (`_Reader`), with Whoosh's precedence, forgiving."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from whoosh import query as Q

from aggregator.index import fold
from aggregator.search.any_word import ParsedQuery, _Item, _loosen, _loosened
from aggregator.search.characters import is_lone_cjk
from aggregator.search.dates import _DATE_MARK, _take_dates
from aggregator.search.forgiving import _forgive
from aggregator.search.near import MAX_EDITS, NearTerm, _edits, _partial
from aggregator.search.words import (
    _DEFAULT_FIELDS,
    FIELDS,
    MAX_PHRASE,
    _all_of,
    _any_of,
    _in_order,
    _schema,
    _word_query,
)

MAX_WORD = 64
"""A word longer than this (a pasted blob) is looked up as it is: no near matches and no "did
you mean", whose edit-distance searches would take seconds over it."""
MAX_SLOP = 32
"""`"a b"~N` lets at most this many words between."""


def parse_query(text: str, *, now: datetime | None = None, any_word: bool = False) -> ParsedQuery:
    """User text → Whoosh query, forgiving: whatever cannot be read is read as words, and
    every repair is told in the notes.

    `OR` binds tighter than words side by side and explicit `AND` tighter than `OR` (as in
    Whoosh: `a b OR c` is a and (b or c)); `NOT` and `-` take the clause after them. With
    `any_word`, the any-word reading (see `ParsedQuery.loose`), when the query has one.
    """
    now = now or datetime.now(UTC)
    notes: list[str] = []
    text = typed = " ".join(text.split())
    text, dates = _take_dates(text, now, notes)
    text = _forgive(text, notes)
    reader = _Reader(_tokens(text), dates, notes)
    noted = len(notes)
    try:
        items = reader.sequence(top=True)
    except RecursionError:  # hundreds of nested parentheses: their words are still searched
        del notes[noted:]
        reader = _Reader(_tokens(re.sub(r"[()]", " ", text)), dates, notes)
        items = reader.sequence(top=True)
        notes.append("parentheses nested too deep were left out")
    query = _all_of([item.query for item in items]).normalize() if items else Q.NullQuery
    if query is Q.NullQuery and reader.unheld and not dates:
        pass  # only what the index cannot hold (`🍕`): nothing is found, and the note says why
    elif query is Q.NullQuery:  # nothing to look for (no words, `""`, punctuation): everything
        query = Q.Every()
        if typed and not dates:
            notes.append("no words to look for in it: every entry is shown")
    parsed = ParsedQuery(query=query, notes=notes, words=reader.words)
    _loosen(parsed, items)
    return _loosened(parsed) if any_word and parsed.loose is not None else parsed


_TIGHT: dict[str, Callable[[Any, Any], Any]] = {
    "AND": lambda a, b: Q.And([a, b]),
    "ANDNOT": Q.AndNot,
    "ANDMAYBE": Q.AndMaybe,
    "REQUIRE": Q.Require,
}
"""Operators that bind tighter than OR (as in Whoosh), each with what it makes of a and b."""
_BINARY = frozenset([*_TIGHT, "OR"])
_OPERATORS = frozenset([*_BINARY, "NOT"])
_FIELDED = re.compile(r"([a-z]+):(.+)", re.DOTALL)
_NEAR = re.compile(r"(.*\w)~(\d*)", re.DOTALL)
_BOOST = re.compile(r"(.*[^\W_]|.*[*\"])\^(\d{1,3}(?:\.\d{1,3})?)", re.DOTALL)


def _tokens(text: str) -> list[tuple[str, ...]]:
    """The forgiven text → tokens: `(`, `)`, AND, OR, NOT, `-` (a word's minus sign),
    `field(` (a field before a parenthesis), `date` (a date's mark), `phrase`, `word`."""
    tokens: list[tuple[str, ...]] = []
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()":
            tokens.append((char,))
            at += 1
        elif (sign := _SIGN.match(text, at)) is not None:
            at = sign.end()
            # `-word` excludes; `--word` (a command's flag, a dash typed as two) is a word.
            if (
                "-" in sign.group()
                and "--" not in sign.group()
                and at < end
                and not text[at].isspace()
            ):
                tokens.append(("-",))
        elif (date := _DATE_MARK.match(text, at)) is not None:
            tokens.append(("date", date.group(1)))
            at = date.end()
        elif (phrase := _PHRASE.match(text, at)) is not None:
            name, words, after = phrase.groups()
            tokens.append(("phrase", name or "", words, after or ""))
            at = phrase.end()
        elif (group := _FIELD_GROUP.match(text, at)) is not None:
            tokens.append(("field(", group.group(1)))
            at = group.end()
        else:
            word = _WORD_TOKEN.match(text, at)
            assert word is not None  # any other character starts a word
            tokens.append((word.group(),) if word.group() in _OPERATORS else ("word", word.group()))
            at = word.end()
    return tokens


_SIGN = re.compile(r"[-+]+")
_PHRASE = re.compile(r'(?:([a-z]+):)?"([^"]*)"(~\d*|\^\d{1,3}(?:\.\d{1,3})?)?')
_FIELD_GROUP = re.compile(r"([a-z]+):(?=\()")
_WORD_TOKEN = re.compile('[^\\s()"\ue000]+|["\ue000]')


class _Reader:
    """Tokens → clauses, by recursive descent, forgiving: an operator with nothing on one
    side, two operators in a row, an empty or unopened parenthesis are passed over with a
    note; everything else is read as it stands."""

    def __init__(self, tokens: list[tuple[str, ...]], dates: list[Any], notes: list[str]) -> None:
        self.tokens, self.dates, self.notes = tokens, dates, notes
        self.at = 0
        self.field: str | None = None
        """Inside `title:( … )`: the field its words search."""
        self.words: list[str] = []
        """Plain words and the words of phrases, for "did you mean" (not those excluded)."""
        self.negated = 0
        self.unheld: list[str] = []
        """Words that make no term (emoji, symbols): left out, and said so."""

    def _peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def _take(self) -> tuple[str, ...]:
        self.at += 1
        return self.tokens[self.at - 1]

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def sequence(self, top: bool = False) -> list[_Item]:
        """Clauses side by side, up to a `)` (or the end): all of them must match."""
        items: list[_Item] = []
        while (kind := self._peek()) is not None:
            if kind == ")":
                if not top:
                    break
                self._take()
                self._note("a ')' before its '(' was ignored")
            elif kind in _BINARY:
                self._take()
                self._note(f"'{kind}' with nothing before it was ignored")
            elif (item := self._either()) is not None:
                items.append(item)
        return items

    def _either(self) -> _Item | None:
        """`a OR b OR c`."""
        parts = [p for p in [self._both()] if p is not None]
        while self._peek() == "OR":
            self._take()
            if self._operand_missing("OR"):
                break
            if (part := self._both()) is not None:
                parts.append(part)
        if len(parts) < 2:
            return parts[0] if parts else None
        return _Item(Q.Or([part.query for part in parts]))

    def _both(self) -> _Item | None:
        """`a AND b AND c`, and Whoosh's `a ANDNOT b`, `a ANDMAYBE b` (b only adds to the
        score) and `a REQUIRE b` (b only narrows)."""
        left = self._unary()
        while (operator := self._peek()) in _TIGHT:
            self._take()
            if self._operand_missing(operator):
                break
            right = self._unary()
            if left is None or right is None:
                left = left or right
            elif operator == "AND":
                left = _Item(_all_of([left.query, right.query]))
            else:
                left = _Item(_TIGHT[operator](left.query, right.query))
        return left

    def _operand_missing(self, operator: str) -> bool:
        """After `operator`: pass over the operators that follow it (`OR OR`, `OR AND`: the
        first one stands) and say whether nothing is left for it to join."""
        while (kind := self._peek()) in _BINARY:
            self._take()
            if kind == operator:
                self._note(f"read '{operator} {operator}' as '{operator}'")
            else:
                self._note(f"'{kind}' after '{operator}' was ignored")
        if self._peek() in (None, ")"):
            self._note(f"'{operator}' with nothing after it was ignored")
            return True
        return False

    def _unary(self) -> _Item | None:
        """`NOT a`, `-a`; two negations cancel out."""
        signs = []
        while self._peek() in ("NOT", "-"):
            signs.append(self._take()[0])
            if self._operand_missing(signs[-1]):
                return None
        self.negated += len(signs) % 2
        item = self._primary()
        self.negated -= len(signs) % 2
        if item is None or not signs:
            return item
        if len(signs) % 2 == 0:
            self._note(f"'{' '.join(signs)}' cancel out")
            return _Item(item.query)
        if len(signs) > 1:
            self._note(f"read '{' '.join(signs)}' as '{signs[-1]}'")
        return _Item(Q.Not(item.query))

    def _primary(self) -> _Item | None:
        token = self._take()
        kind = token[0]
        if kind in ("(", "field("):
            if kind == "field(":
                self._take()  # its "("
            outer, self.field = self.field, token[1] if kind == "field(" else self.field
            items = self.sequence()
            self.field = outer
            if self._peek() == ")":
                self._take()
            else:
                self._note("a '(' without its ')' was closed at the end")
            if not items:
                self._note("empty parentheses were ignored")
                return None
            query = _all_of([item.query for item in items])
            if kind == "field(":
                return _Item(query)
            # Parentheses around plain words (a passage's asides) leave them plain words.
            if all(item.plain is not None for item in items):
                return _Item(query, " ".join(item.plain or "" for item in items))
            if all(item.plain or item.quoted for item in items):
                return _Item(query, quoted=" ".join(i.plain or i.quoted or "" for i in items))
            return _Item(query)
        if kind == "date":
            date = self.dates[int(token[1])]
            return None if date is None else _Item(date)
        if kind == "phrase":
            _, name, words, after = token
            fields = (name,) if name in _FIELD_NAMES else self._fields()
            if name in ("", "content") and not self.negated:
                self.words += re.findall(r"[^\W\d_]{3,}", words)
            quoted = words if not name and self.field is None else None
            return _Item(self._phrase(fields, words, after), quoted=quoted)
        return self._word(token[1])

    def _fields(self) -> tuple[str, ...]:
        return (self.field,) if self.field in _FIELD_NAMES else _DEFAULT_FIELDS

    def _word(self, word: str) -> _Item | None:
        fields = self._fields()
        fielded = _FIELDED.fullmatch(word)
        if fielded and fielded.group(1) in _FIELD_NAMES:
            fields, word = (fielded.group(1),), fielded.group(2)
        boost = 1.0
        if (boosted := _BOOST.fullmatch(word)) is not None:
            word, boost = boosted.group(1), float(boosted.group(2))
        if "*" in word or ("?" in word and fields != ("url",)):
            return _Item(_partial(fields, word).with_boost(boost))
        if (near := _NEAR.fullmatch(word)) is not None:
            query = self._near(fields, near.group(1), near.group(2))
            return _Item(query.with_boost(boost))
        if _SPELLED.fullmatch(word) and set(fields) <= _WORDS_FIELDS and not self.negated:
            self.words.append(word)  # (`title:gardning` too; not names, nor addresses)
        plain = word if not fielded and self.field is None and boost == 1.0 else None
        query = _word_query(fields, word)
        if query is Q.NullQuery and any(c.isalnum() or not c.isascii() for c in word):
            # (Punctuation typed between words is no word either, and goes unsaid.)
            self.unheld.append(word)
            self._note(f"left out {word!r}: symbols and emoji are not indexed")
        if fields == ("url",) and "/" in word.strip("/"):
            query = _address(query, word)
        return _Item(query.with_boost(boost), plain)

    def _near(self, fields: tuple[str, ...], word: str, digits: str) -> Any:
        """`word~` and `word~N`: the index terms within a few edits of the word (see
        `NearTerm`); `N` is at most MAX_EDITS, and short words get fewer."""
        asked = None
        if digits:
            asked = int(digits) if len(digits) < 4 else MAX_EDITS + 1
            if asked > MAX_EDITS:
                self._note(f"read '{word}~{digits}' as '{word}~{MAX_EDITS}': at most two edits")
                asked = MAX_EDITS
        if len(word) > MAX_WORD:
            return _word_query(fields, word)
        schema, parts = _schema(), []
        for name in fields:
            terms = list(schema[name].process_text(word, mode="query"))
            typed = fold(word) if name != "category" else word.lower()
            # A near match is of one word; a CJK character has no near ones (`猫~` is `猫`).
            if len(terms) != 1 or is_lone_cjk(terms[0]):
                parts.append(_word_query((name,), word))
                continue
            stem = terms[0]
            parts.append(NearTerm(name, stem, _edits(stem, asked), typed, _edits(typed, asked)))
        return _any_of(parts)

    def _phrase(self, fields: tuple[str, ...], text: str, after: str) -> Any:
        """Words in order, in each field that keeps positions; in a field that keeps none
        (`url:`, `category:`), its words anywhere in it."""
        slop, boost = 1, 1.0
        if after.startswith("~") and after[1:]:
            slop = min(int(after[1:]) if len(after) < 6 else MAX_SLOP + 1, MAX_SLOP + 1)
            if slop > MAX_SLOP:
                self._note(f"'~{after[1:]}' after a phrase read as '~{MAX_SLOP}'")
                slop = MAX_SLOP
            slop = max(slop, 1)
        elif after.startswith("^"):
            boost = float(after[1:])
        noted: list[int] = []  # the phrase is cut in each field: said once

        def cut(length: int) -> None:
            if not noted:
                self._note(f"a phrase of {length} words was matched by its first {MAX_PHRASE}")
            noted.append(length)

        return _in_order(fields, text, slop=slop, cut=cut).with_boost(boost)


_FIELD_NAMES = frozenset(FIELDS.values())
_WORDS_FIELDS = frozenset(_DEFAULT_FIELDS)
"""Fields of words "did you mean" can respell (names and addresses are not stemmed)."""
_SPELLED = re.compile(rf"[^\W\d_]{{3,{MAX_WORD}}}")
"""A word "did you mean" may correct: letters only, and not a pasted blob."""


def _address(words: Any, address: str) -> Any:
    """`url:` with a whole address: the entries whose address holds all its words (the
    field keeps no order), the entry at that very address first."""
    exact = [Q.Term("canonical", f"{scheme}://{address}", boost=100.0) for scheme in _SCHEMES]
    return Q.AndMaybe(words, Q.Or(exact))


_SCHEMES = ("https", "http")
