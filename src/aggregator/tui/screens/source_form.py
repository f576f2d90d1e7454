"""Add or edit a source: URL (a feed, or a site whose feed is found), title, topic, the links
to follow on a page without a feed, full text."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, Switch

FULL_HEIGHT = 26
"""Terminal lines the form needs with bordered fields (24), with a line to spare above and below."""


@dataclass(frozen=True)
class SourceForm:
    url: str
    title: str
    category: str
    full_text: bool
    selector: str | None = None
    """For a page followed without a feed: the CSS selector of its links to articles (None:
    the form had no such field, a feed's)."""


class SourceFormScreen(ModalScreen[SourceForm | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self, form: SourceForm | None = None, *, editing: bool | None = None) -> None:
        """`form`: a source to edit, or (`editing=False`) an add to try again as typed."""
        super().__init__()
        self.form = form
        self.editing = form is not None if editing is None else editing

    def compose(self) -> ComposeResult:
        editing = self.editing
        with Vertical():
            yield Static(Text("Edit source" if editing else "Add a source", style="bold"))
            yield Label(
                "Feed or site URL"
                + (" (fixed)" if editing else " — a site's feed is found for you")
            )
            yield Input(
                self.form.url if self.form else "",
                id="url",
                disabled=editing,
                placeholder="https://example.org/ or https://example.org/feed.xml",
            )
            with Horizontal(id="names"):
                with Vertical():
                    yield Label("Title (empty: the feed's own)")
                    yield Input(self.form.title if self.form else "", id="title")
                with Vertical():
                    yield Label("Topic (e.g. Medicine/Oncology)")
                    yield Input(self.form.category if self.form else "", id="category")
            # A feed has no selector to edit; an added page without a feed needs one.
            if not editing or (self.form and self.form.selector is not None):
                yield Label(
                    "CSS selector of the page's article links"
                    if editing
                    else "A page without a feed? The CSS selector of its article links"
                )
                yield Input(
                    self.form.selector if self.form else "",
                    id="selector",
                    placeholder="e.g. article h2 a",
                )
            with Horizontal():
                yield Switch(self.form.full_text if self.form else False, id="full-text")
                yield Label("  Fetch every article's full text")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save" if editing else "Add", id="save", variant="primary")

    def on_resize(self) -> None:
        """On a short terminal the fields lose their borders, so that the whole form (its
        buttons too) is in view rather than scrolled."""
        compact = self.app.size.height < FULL_HEIGHT
        self.set_class(compact, "compact")
        for widget in self.query(Input).results():
            widget.compact = compact
        for button in self.query(Button).results():
            button.compact = compact

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def on_input_submitted(self) -> None:
        self._save()

    def _save(self) -> None:
        url = self.query_one("#url", Input).value.strip()
        if not url:
            self.app.notify("A URL is needed.", severity="warning")
            return
        self.dismiss(
            SourceForm(
                url=url,
                title=self.query_one("#title", Input).value.strip(),
                category=self.query_one("#category", Input).value.strip(),
                full_text=self.query_one("#full-text", Switch).value,
                selector=next(
                    (i.value.strip() for i in self.query("#selector").results(Input)), None
                ),
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
