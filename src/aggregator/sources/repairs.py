"""The repairs that make a real list's broken markup text a strict XML parser takes: control
characters dropped, outline attributes quoted, bare `&` and HTML entities written as XML wants
them. What a reader sees in the list does not change."""

from __future__ import annotations

import html.entities
import re

from aggregator.sanitize import strip_controls

_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_ENTITY_OR_AMP = re.compile(r"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)?")


_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
_DOCTYPE = re.compile(r"<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.DOTALL | re.IGNORECASE)


def _repair(text: str) -> str:
    """Fix what breaks XML parsers in real lists, without changing what a reader sees."""
    text = _DECLARATION.sub("", text, count=1)
    text = re.sub(r"<!--.*?(?:-->|$)", "", text, flags=re.DOTALL)
    # No DTDs: OPML needs none, and internal entities are a classic resource attack.
    text = _DOCTYPE.sub("", text)
    return _mend_markup(text)


def _mend_markup(text: str) -> str:
    """Markup (no comments in it) as a strict XML parser takes it: control characters gone,
    outline attributes quoted, bare `&` and HTML entities written as XML wants them."""
    text = strip_controls(text)  # XML forbids most of them; a title must not carry any
    text = _requote_outlines(text)

    def entity(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref is None:
            return "&amp;"  # a bare ampersand, as in `World & Nation`
        name = ref[:-1]
        if ref.startswith("#"):
            try:
                code = int(name[2:], 16) if name[1:2] in "xX" and len(name) > 1 else int(name[1:])
            except ValueError:
                return "&amp;" + ref
            return "&" + ref if _xml_char(code) else ""
        if name in _XML_ENTITIES:
            return "&" + ref
        if name in html.entities.name2codepoint:
            return f"&#{html.entities.name2codepoint[name]};"
        return "&amp;" + ref  # undefined: keep the text as written

    return _ENTITY_OR_AMP.sub(entity, text)


_OUTLINE_START = re.compile(r"<outline\b", re.IGNORECASE)
_NAME = re.compile(r"""\s*([^\s=/<>"']+)\s*""")
_QUOTE_END = re.compile(r"""\s+[^\s=/<>"']+\s*=\s*["']|\s*/?>""")
_SPECIAL = re.compile(r"""[<>"']""")
_TAG_END = re.compile(r"\s*(/?>)")
_BARE_VALUE = re.compile(r"[^\s>]*")
_PLAIN_OUTLINE = re.compile(
    r"""<outline(?:\s+[^\s=/<>"']+\s*=\s*"[^"<>]*")*\s*/?>""", re.IGNORECASE
)
"""An outline tag every value of which is double-quoted with no quote or markup inside: the
rewrite would give it back as it is (nearly every tag of a real list), so it is kept whole."""


def _requote_outlines(text: str) -> str:
    """Rewrite every outline tag with its attributes properly quoted and escaped.

    Real lists put raw quotes inside values (`text="Газета "Коммерсантъ". Главное"`, or a
    description holding `<a href="…">`), which makes an XML parser drop that outline and often
    the ones after it. Here a value ends at the quote that is followed by the next `name="` or
    by the end of the tag, outside any markup inside the value: how a person reads it.
    """
    out: list[str] = []
    pos = seek = 0
    while (start := _OUTLINE_START.search(text, seek)) is not None:
        plain = _PLAIN_OUTLINE.match(text, start.start())
        if plain is not None:  # copied with the text around it
            seek = plain.end()
            continue
        out.append(text[pos : start.start()])
        cursor = start.end()
        attrs: list[str] = []
        while not _TAG_END.match(text, cursor) and (name := _NAME.match(text, cursor)):
            cursor = name.end()
            value = ""
            if text.startswith("=", cursor):
                cursor += 1
                while cursor < len(text) and text[cursor].isspace():
                    cursor += 1
                quote = text[cursor : cursor + 1]
                if quote in ('"', "'"):
                    end = _value_end(text, cursor + 1, quote)
                    if end < 0:
                        break
                    value, cursor = text[cursor + 1 : end], end + 1
                else:
                    bare = _BARE_VALUE.match(text, cursor)
                    value, cursor = bare.group(0), bare.end()
            value = value.replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            attrs.append(f' {name.group(1)}="{value}"')
        end = _TAG_END.match(text, cursor)
        if end is None:  # not a tag we can read: leave it to the XML parser's recovery
            out.append(text[start.start() : cursor])
        else:
            out.append("<outline" + "".join(attrs) + end.group(1))
            cursor = end.end()
        pos = seek = cursor
    out.append(text[pos:])
    return "".join(out)


def _value_end(text: str, i: int, quote: str) -> int:
    """Index of the quote closing a value that starts at `i`, or -1."""
    for markup_aware in (True, False):
        in_markup, inner, j = False, "", i
        while (m := _SPECIAL.search(text, j)) is not None:
            c, j = m.group(), m.start() + 1
            if in_markup:
                if inner:
                    inner = "" if c == inner else inner
                elif c in "\"'":
                    inner = c
                elif c == ">":
                    in_markup = False
            elif c == quote and _QUOTE_END.match(text, j):
                return j - 1
            elif c == "<" and markup_aware and re.match(r"[A-Za-z/!]", text[j : j + 1]):
                in_markup = True
    return -1


def _xml_char(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF
