"""The reader: an article rendered from Markdown under its title, source, author, date and link."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from aggregator.models import Entry
from aggregator.tui.keys import binding


class Reader(VerticalScroll, can_focus=True):
    # j and k move in every pane, as in the list (vi keys, as newsboat and mutt have them).
    BINDINGS = [
        binding("reader.down", "scroll_down"),
        binding("reader.up", "scroll_up"),
    ]
    DEFAULT_CSS = """
    Reader { padding: 0 2; background: $surface; }
    Reader > #reader-title { text-style: bold; color: $text; padding: 1 0 0 0; }
    Reader > #reader-meta { color: $text-muted; }
    Reader > #reader-link { color: $accent; padding: 0 0 1 0; }
    Reader > #reader-note { color: $warning; }
    Reader > Markdown { padding: 0; margin: 0; background: $surface; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entry: Entry | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Select an entry to read it.", style="italic"), id="reader-title")
        yield Static("", id="reader-meta")
        yield Static("", id="reader-link")
        yield Static("", id="reader-note")
        yield Markdown("", open_links=False)

    async def show(self, entry: Entry | None, *, also_in: tuple[str, ...] = ()) -> None:
        """The body is rendered first and the header set right after it: a long article
        takes a moment to render, and meanwhile the old one stays whole instead of showing
        under the new title. (Textual swaps a very long body in parts, so its first part can
        show under the old title for a moment.) `also_in`: the story's other sources, which
        search results name on its one row."""
        title = self.query_one("#reader-title", Static)
        meta = self.query_one("#reader-meta", Static)
        link = self.query_one("#reader-link", Static)
        note = self.query_one("#reader-note", Static)
        body = self.query_one(Markdown)
        if entry is None:
            await body.update("")
            title.update(Text("Select an entry to read it.", style="italic"))
            for widget in (meta, link, note):
                widget.update("")
            note.display = False
            self.entry = None
            return
        await body.update(entry.markdown or entry.text or entry.summary)
        title.update(Text(entry.title or "(untitled)"))
        parts = [entry.source_title or entry.source_url, entry.author]
        if also_in:
            parts[0] += " (also in " + ", ".join(also_in) + ")"
        if entry.published:
            parts.append(entry.published.astimezone().strftime("%a %d %b %Y, %H:%M"))
        elif entry.seen:  # the source gave no date: say when it arrived, as that
            parts.append(entry.seen.astimezone().strftime("undated, first seen %a %d %b %Y, %H:%M"))
        meta.update(Text(" · ".join(p for p in parts if p)))
        link.update(Text(entry.url))
        if entry.partial and entry.earlier_article:
            note.update(
                Text("Partial: its page could not be fetched again; shown as fetched before.")
            )
        elif entry.partial:
            note.update(
                Text("Partial: the full article could not be fetched; this is what the feed gave.")
            )
        elif entry.full_text == "pending" and entry.earlier_article:
            note.update(
                Text("Its page is checked again on the next refresh; shown as fetched before.")
            )
        elif entry.full_text == "pending":
            note.update(Text("A teaser: the full article comes with the next refresh."))
        else:
            note.update("")
        note.display = entry.partial or entry.full_text == "pending"
        self.entry = entry
        self.scroll_home(animate=False)
