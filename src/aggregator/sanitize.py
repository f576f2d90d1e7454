"""Make untrusted text inert: for a terminal (no escape sequences, no control characters),
and for whatever renders Markdown made of it (no markup the text did not mean).

A leaf like `models`: every pipeline module that stores text from the network or a shared
file runs it through here, so nothing stored can move a cursor, retitle a window or hide text.
"""

from __future__ import annotations

import re

# ESC-introduced sequences first (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes), so their
# payload does not survive as visible junk once ESC itself is gone. A string's payload goes
# only with its end: an introducer on its own (U+009D is in the commonest mojibake, `â€\x9d`
# for `”`) must not take the rest of a title or an article with it; without its introducer
# the rest is plain text.
_ESCAPE_SEQUENCE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                 # CSI ... final byte
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)      # OSC ... BEL or ST
    | \x1b[PX^_][^\x1b]*\x1b\\              # DCS, SOS, PM, APC ... ST
    | \x1b[ -/]*[0-~]                       # other two-or-more byte escapes
    | \x9b[0-?]*[ -/]*[@-~]                 # 8-bit CSI
    | [\x90\x9d\x98\x9e\x9f][^\x9c\x07\x90\x9d\x98\x9e\x9f\x1b]*[\x9c\x07]  # 8-bit strings
    """,
    re.VERBOSE,
)
# C0 controls except tab and newline, DEL, C1 controls. Carriage returns go too: they can
# overwrite a line on a terminal. So do the bidirectional overrides, embeddings and isolates
# (U+202A-U+202E, U+2066-U+2069): they make text display in an order other than its own, so
# that a title or an address reads as something it is not. Lone surrogates (a JSON Feed may
# spell one, `\ud800`) are no characters at all: stored, they failed the whole feed's write.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_ASCII_CONTROLS = bytes(range(0x00, 0x09)) + bytes(range(0x0B, 0x20)) + b"\x7f"


def has_controls(text: str) -> bool:
    """Whether `text` holds anything `strip_controls` would remove; cheap for ASCII text."""
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw.translate(None, _ASCII_CONTROLS)) != len(raw)
    return _CONTROL.search(text) is not None


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences and control characters, keeping tabs and newlines."""
    if not text or not has_controls(text):
        return text  # the common case: every escape sequence starts with a control character
    text = _ESCAPE_SEQUENCE.sub("", text)
    # A lone CR is a line break too (old Mac files): removed, it joined two words into one.
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def one_line(text: str) -> str:
    """A single clean line for titles and names: line breaks become spaces, ends trimmed.

    Runs of spaces inside are kept, so a title reads exactly as its author wrote it.
    """
    return re.sub(r"[\t\n]", " ", strip_controls(text)).strip()


_CHARACTER_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")


def drop_control_references(markup: str) -> str:
    """Remove HTML character references that spell control characters (`&#27;`, `&#x9b;`).

    HTML parsers turn them into real control characters, which `strip_controls` would then
    have to catch in every piece of text the parser hands back.
    """
    if "&#" not in markup:
        return markup

    def keep(match: re.Match[str]) -> str:
        code = int(match.group(1), 16) if match.group(1) else int(match.group(2))
        if code in (0x09, 0x0A) or (0x20 <= code < 0x7F) or (0x9F < code <= 0x10FFFF):
            return match.group(0)
        return ""

    return _CHARACTER_REFERENCE.sub(keep, markup)


# -- Markdown ----------------------------------------------------------------------------------
# What `read --format markdown` prints goes on to other tools, which may render it as HTML.

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]<>()#+!|~]|&(?=#?[A-Za-z0-9]+;))")


def literal_markdown(text: str) -> str:
    """One line of text that Markdown shows as written: no emphasis, link or HTML made of it."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", one_line(text))


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def literal_paragraphs(text: str) -> str:
    """Plain text as Markdown that shows it as written, its paragraphs kept apart."""
    paragraphs = (literal_markdown(p) for p in _PARAGRAPH_BREAK.split(strip_controls(text)))
    return "\n\n".join(p for p in paragraphs if p)


_URL_ENCODED = str.maketrans({c: f"%{ord(c):02X}" for c in "()<> "})


def markdown_address(url: str) -> str:
    """An address that cannot end its Markdown link or autolink early (`…/x)](javascript:…)`
    and `…/><img onerror=…>` stay one address): what would end it is percent-encoded."""
    return url.translate(_URL_ENCODED)
