"""The search bar: results follow the typing, a moment after the last key."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

DEBOUNCE_S = 0.08
"""Long enough to skip the searches of a fast typist's middle keys, short enough to feel live."""


class SearchBar(Input):
    DEFAULT_CSS = """
    SearchBar { dock: top; border: tall $panel; height: 3; }
    SearchBar:focus { border: tall $accent; }
    """
    BINDINGS = [Binding("down", "results", "Results", show=False)]

    class QueryChanged(Message):
        """The query settled (debounced); an empty query means "back to the list"."""

        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

    class QueryDone(Message):
        """Enter or ↓: go to the results."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder='Search  (words, "phrases", OR, -word, title:, published:>-7d …)',
            id=id,
            # Tab passes through here on its way to the sidebar's facets: a query selected
            # whole on focus was replaced by the next key pressed.
            select_on_focus=False,
        )
        self._timer: Timer | None = None

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(
            DEBOUNCE_S, lambda: self.post_message(self.QueryChanged(self.value))
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self.post_message(self.QueryChanged(self.value))
        self.post_message(self.QueryDone())

    def action_results(self) -> None:
        self.post_message(self.QueryDone())
