"""The command palette (ctrl+p): every action of the keys, and OPML import and export."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from aggregator.tui.screens.prompt import PromptScreen

if TYPE_CHECKING:
    from aggregator.tui.app import AggregatorApp


class AggregatorCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app: AggregatorApp = self.app  # type: ignore[assignment]
        main = app.main
        return [
            ("Refresh all sources", "Fetch every source now (R)", app.action_refresh_all),
            (
                "Refresh this view",
                "Fetch the selected topic or source (r)",
                main.action_refresh_here,
            ),
            ("Search", "Search the library (/)", main.action_search),
            ("Sources", "Every source with its health (S)", app.action_sources),
            ("Add a source", "A feed, or a site whose feed is found (a)", app.action_add_source),
            ("Edit this source", "Title, topic, full text (e)", main.action_edit_source),
            (
                "Remove this source",
                "With its stored entries, after a confirm (d)",
                main.action_delete_source,
            ),
            ("Mark all in view read", "Every entry in the list (A)", main.action_all_read),
            (
                "Import OPML",
                "Add the feeds of another OPML file",
                partial(_ask, app, "Import which OPML file?", app.import_opml),
            ),
            (
                "Export OPML",
                "Write your source list as OPML 2.0",
                partial(
                    _ask,
                    app,
                    "Export to which file?",
                    app.ask_to_export,
                    str(Path.cwd() / "feeds-export.opml"),  # where it goes, in full
                ),
            ),
            (
                "Keys and action ids",
                "Every key, and the id to remap it in config.toml (?)",
                app.action_help,
            ),
        ]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def _ask(app: AggregatorApp, question: str, then: Callable[[str], object], value: str = "") -> None:
    def answered(path: str | None) -> None:
        if path:
            then(path)

    app.push_screen(PromptScreen(question, value), answered)
