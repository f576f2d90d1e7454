"""Make untrusted text inert for a terminal: no escape sequences, no control characters.

A leaf like `models`: every pipeline module that stores text from the network or a shared
file runs it through here, so nothing stored can move a cursor, retitle a window or hide text.
"""

from __future__ import annotations

import re

# ESC-introduced sequences first (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes), so their
# payload does not survive as visible junk once ESC itself is gone.
_ESCAPE_SEQUENCE = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                 # CSI ... final byte
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?    # OSC ... BEL or ST
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?         # DCS, SOS, PM, APC ... ST
    | \x1b[ -/]*[0-~]                       # other two-or-more byte escapes
    | \x9b[0-?]*[ -/]*[@-~]                 # 8-bit CSI
    | [\x90\x9d\x98\x9e\x9f][^\x9c\x07]*[\x9c\x07]?   # 8-bit DCS/OSC/SOS/PM/APC strings
    """,
    re.VERBOSE,
)
# C0 controls except tab and newline, DEL, C1 controls. Carriage returns go too: they can
# overwrite a line on a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences and control characters, keeping tabs and newlines."""
    if not text or _CONTROL.search(text) is None:
        return text  # the common case, and a cheap test: every sequence starts with a control
    text = _ESCAPE_SEQUENCE.sub("", text)
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """A single clean line for titles and names: line breaks become spaces, ends trimmed.

    Runs of spaces inside are kept, so a title reads exactly as its author wrote it.
    """
    return re.sub(r"[\t\n]", " ", strip_controls(text)).strip()
