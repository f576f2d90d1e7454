"""What every screen of the app that runs workers shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.worker import Worker

if TYPE_CHECKING:
    from aggregator.tui.app import AggregatorApp


class AppScreen(Screen[None]):
    """A screen whose failing workers are told as the app's are: Textual sends a worker's
    state only to the node that started it (the message does not bubble), so without this
    every error of a screen's worker went unseen."""

    app: AggregatorApp

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.app.report_worker_error(event)
