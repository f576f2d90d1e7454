"""The typed text made readable before it is read: unmatched quotes and parentheses,
brackets, stray colons and dashes, field names with a space after them; each repair told in
the notes."""

from __future__ import annotations

import re

from aggregator.search.dates import DATE_FIELDS
from aggregator.search.words import FIELDS

_FIELD_VALUE = re.compile(r"(?<![\w\"])([A-Za-z_]+):[ \t]*(\S*)")


_INNER_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")
_HYPHEN = re.compile(rf'(?<![\w"])([A-Za-z_]+):([^\s()"]*\w-\w[^\s()"]*)|{_INNER_HYPHEN.pattern}')
"""A field's value with a hyphen inside (`author:anne-marie`), or a hyphen inside a word."""
_WILD = re.compile(r"[*?~^]")


def _joined(match: re.Match[str]) -> str:
    """A hyphen inside a word is a space: its parts are words. In a field's value the parts
    stay in that field, as a phrase (`author:"anne marie"`), and `url:` and `category:`
    keep theirs (`url:who.int/long-covid`, a topic `Film-Noir`)."""
    name, value = match.group(1), match.group(2)
    if name is None:
        return " "
    field = FIELDS.get(name.lower())
    if field in ("url", "category"):
        return match.group(0)
    if field is None or _WILD.search(value):
        return _INNER_HYPHEN.sub(" ", match.group(0))
    return f'{name}:"{_INNER_HYPHEN.sub(" ", value)}"'


def _balanced(text: str) -> str:
    """Without an unmatched quote or parentheses: the query as typed, as it can be read (and
    offered back as a suggestion)."""
    if text.count('"') % 2:
        text = text[: text.rfind('"')] + text[text.rfind('"') + 1 :]
    if text.count("(") != text.count(")"):
        text = " ".join(text.replace("(", " ").replace(")", " ").split())
    return text


def _forgive(text: str, notes: list[str]) -> str:
    """Repair what would make the reader guess: stray quotes, brackets, colons, dashes."""
    if text.count('"') % 2:
        notes.append("an unmatched quote was ignored")
    if text.count("(") != text.count(")"):
        notes.append("unbalanced parentheses were ignored")
    text = _balanced(text)
    if "[" in text or "]" in text:
        text = text.replace("[", " ").replace("]", " ")
        notes.append("brackets were read as spaces")
    text = re.sub(r"\burl:\s*https?://", "url:", text, flags=re.IGNORECASE)
    # A hyphen inside a word joins it (`boundary-layer`): only at a word's start does it exclude.
    text = _HYPHEN.sub(_joined, text)

    def field_name(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if name.lower() in FIELDS or name.lower() in DATE_FIELDS:
            if not value:
                notes.append(f"nothing after '{name}:': ignored")
                return " "
            if name.lower() in DATE_FIELDS:  # a value `_take_dates` could not read
                if match.group(0) != f"{name}:{value}":
                    return f"{name} {value}"  # prose: "the date: tomorrow"
                notes.append(f"'{match.group(0)}' is not a date (try 2024, >-7d): ignored")
                return " "
            if match.group(0) != f"{name}:{value}":
                notes.append(f"read '{match.group(0)}' as '{name}:{value}'")
            return FIELDS[name.lower()] + ":" + value
        if value and match.group(0) == f"{name}:{value}":
            notes.append(f"'{name}:' is not a field: read as a word")
        return f"{name} {value}"  # prose ("the landscape: …") needs no note

    # `title: vaccine` means title:vaccine; `title:` with nothing after it means nothing.
    text = _FIELD_VALUE.sub(field_name, text)
    if re.search(r"(^|\s):+|:+(\s|$)", text):
        text = re.sub(r"(^|\s):+|:+(\s|$)", r"\1 \2", text)
        notes.append("a stray ':' was ignored")
    text = re.sub(r"(?<=\w)[?!.,;]+(?=\s|$)", "", text)  # a question's punctuation
    # A question mark inside a word stands for one letter (`z?brafish`); elsewhere it is a
    # question's. An address keeps its own (`url:who.int/page?id=3`).
    words = [
        w if w.startswith("url:") else re.sub(r"(?<!\w)\?+|\?+(?!\w)", " ", w)
        for w in text.split(" ")
    ]
    text = " ".join(words)
    wild = [w for w in text.split() if "?" in w and not w.startswith("url:")]
    if wild:
        notes.append(f"'?' in '{wild[0]}' stands for any one letter")
    return re.sub(r"(?:^|(?<=\s))-+(?=\s|$)", " ", text)  # a dash between words
