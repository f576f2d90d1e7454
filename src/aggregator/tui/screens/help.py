"""`?`: every key and what it does (as remapped in config.toml, if it was)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from aggregator.tui.keys import ACTIONS, HELP


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, keys: dict[str, str]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column(Text("Key"), style="bold cyan", no_wrap=True)
        table.add_column(Text("Does"))
        table.add_column(Text("Action id"), style="dim")
        table.add_row(
            Text("ctrl+p"), Text("Command palette: every action, OPML import and export"), Text("")
        )
        table.add_row(Text("Tab"), Text("Next pane"), Text(""))
        for action_id, (default, description, _) in ACTIONS.items():
            keys = self.keys.get(action_id, default)
            table.add_row(
                Text(_pretty(keys)), Text(HELP.get(action_id, description)), Text(action_id)
            )
        with VerticalScroll():
            yield Static(Text("Keys", style="bold"))
            yield Static(
                Text("A key with an action id can be remapped in config.toml under [keys].")
            )
            yield Static(table)
            yield Static(Text("Esc closes this.", style="dim"))


def _pretty(keys: str) -> str:
    names = {
        "question_mark": "?",
        "slash": "/",
        "escape": "Esc",
        "enter": "Enter",
        "space": "Space",
        "down": "↓",
        "up": "↑",
        "pagedown": "PgDn",
        "pageup": "PgUp",
        "home": "Home",
        "end": "End",
        "tab": "Tab",
    }
    return " ".join(names.get(k, k) for k in keys.split(","))
