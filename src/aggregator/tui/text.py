"""Text fitted to a terminal's cells."""

from __future__ import annotations

from rich.text import Text

ZERO_WIDTH_JOINER = "\u200d"


def unjoined(text: str) -> str:
    """`text` with emoji joined by zero-width joiners (👨‍👩‍👧) apart.

    Terminals disagree on a joined sequence's width (one two-cell glyph, or each part's cells:
    tmux draws the parts), so a line that holds one can be drawn wider than it was laid out,
    pushing the date off its column and leaving stray cells behind. Apart, the parts are the
    same width everywhere. For lines laid out in columns: the list and the sidebar.
    """
    return text.replace(ZERO_WIDTH_JOINER, "") if ZERO_WIDTH_JOINER in text else text


def fitted(text: str, cells: int) -> Text:
    """`text` cut to at most `cells` with an ellipsis, counted in cells (a wide character,
    as in Chinese or Japanese, takes two), never wrapped."""
    shown = Text(text, no_wrap=True)
    shown.truncate(cells, overflow="ellipsis")
    return shown
