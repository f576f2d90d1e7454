"""The status bar: library size, last refresh, online or offline, a running refresh."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from aggregator.models import plural


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.entries = 0
        self.unread = 0
        self.last_refresh: datetime | None = None
        self.offline: bool | None = None
        self.activity = ""
        self.unread_only = False

    def show(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{plural(self.entries, 'entry', 'entries')} · {self.unread:,} unread")
        if self.unread_only:
            text.append(" · listing unread only (u)", style="bold")
        when = (
            self.last_refresh.astimezone().strftime("%d %b %H:%M") if self.last_refresh else "never"
        )
        text.append(f" · refreshed {when}")
        if self.offline is True:
            text.append(" · offline", style="bold yellow")
        elif self.offline is False:
            text.append(" · online", style="green")
        if self.activity:
            text.append(f" · {self.activity}", style="bold")
        self.update(text)
