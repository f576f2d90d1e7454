"""Snapshots of the terminal UI's screens at fixed sizes, from a fixed library (pytest-textual-
snapshot; the SVGs are in __snapshots__/test_tui_snapshots/). After a deliberate change to the
screens: `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the new SVGs.

Nothing on these screens depends on the clock or the machine: entries are from May 2024, the
sources' health is written with fixed times, times are shown in UTC, the search timing is
pinned and input cursors do not blink.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Input

from aggregator.config import Settings
from aggregator.library import Library
from aggregator.models import SearchResult
from aggregator.store.database import to_db
from aggregator.store.sources import Failure
from aggregator.tui.app import AggregatorApp
from aggregator.tui.screens.main import WIDE
from aggregator.tui.widgets.sidebar import Place
from tests.test_tui import MED, ONC, _keys, choose, make_library, previewed, settle, wait_until

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[Settings, Library]]:
    """The library of test_tui, with one healthy source, one failing, one never fetched."""
    settings, lib = make_library(tmp_path)
    with lib.store._write() as conn:
        conn.execute(
            "UPDATE source SET last_success = ?, last_attempt = ? WHERE url IN (?, ?)",
            (to_db(datetime(2024, 5, 8, 13, 5, tzinfo=UTC)),) * 2 + (MED, ONC),
        )
    lib.store.record_failures(
        [
            Failure(
                url=ONC,
                error="HTTP 503 Service Unavailable",
                next_attempt=datetime(2024, 5, 9, 7, 30, tzinfo=UTC),
                attempted_at=datetime(2024, 5, 8, 19, 0, tzinfo=UTC),
            )
        ]
    )
    search = lib.search

    def pinned(*args: Any, **kwargs: Any) -> SearchResult:
        return replace(search(*args, **kwargs), took_ms=3.0)

    lib.search = pinned  # type: ignore[method-assign]
    yield settings, lib
    lib.close()


def app_for(library: tuple[Settings, Library]) -> AggregatorApp:
    settings, lib = library
    return AggregatorApp(settings, library=lib)


async def still(pilot: Pilot[Any]) -> None:
    """Workers done, the reader beside the list caught up with the cursor, and no input
    cursor blinking (any of these would make the picture a coin toss)."""
    app: AggregatorApp = pilot.app  # type: ignore[assignment]
    await settle(pilot)
    if app.screen is app.main and app.main.size.width >= WIDE and not app.main.reading:
        await previewed(pilot)
    for screen in pilot.app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False
    await pilot.pause()


def searched(app: AggregatorApp, query: str) -> bool:
    """The results shown are this query's (not those of a prefix typed on the way)."""
    result = app.main.search_result
    return result is not None and result.query == query


# -- the main screen ------------------------------------------------------------------------------


def test_main_80x24(snap_compare, library):
    """Narrow: sidebar and list; no reader beside them."""
    assert snap_compare(app_for(library), terminal_size=(80, 24), run_before=still)


def test_main_120x40(snap_compare, library):
    """Wide: the reader beside the list shows the entry under the cursor."""
    assert snap_compare(app_for(library), terminal_size=(120, 40), run_before=still)


def test_main_200x50(snap_compare, library):
    """Very wide, with the cursor on the title written in markup (shown as written)."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("j", "j", "j", "j")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(200, 50), run_before=run_before)


def test_reader_80x24(snap_compare, library):
    """Narrow, reading: the article in place of the list."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(80, 24), run_before=run_before)


# -- search ---------------------------------------------------------------------------------------


def test_search_results_120x40(snap_compare, library):
    """Results with snippets and highlights, the facets in the sidebar, the notice line."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app: AggregatorApp = pilot.app  # type: ignore[assignment]
        await settle(pilot)
        await pilot.press("slash", *_keys("night OR vaccine"), "enter")
        await wait_until(pilot, lambda: searched(app, "night OR vaccine"))
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(120, 40), run_before=run_before)


def test_search_did_you_mean_80x24(snap_compare, library):
    """No results for a misspelling; the suggestion offered, the cursor still in the bar."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app: AggregatorApp = pilot.app  # type: ignore[assignment]
        await settle(pilot)
        await pilot.press("slash", *"vacine")
        await wait_until(pilot, lambda: searched(app, "vacine"))
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(80, 24), run_before=run_before)


# -- other screens --------------------------------------------------------------------------------


def test_sources_screen(snap_compare, library):
    """Every source with topic, counts, last success, health and next try."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("S")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(120, 24), run_before=run_before)


def test_help_screen(snap_compare, library):
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(100, 40), run_before=run_before)


def test_add_source_form(snap_compare, library):
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("a")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(80, 30), run_before=run_before)


def test_add_source_form_on_a_short_terminal(snap_compare, library):
    """Fields without borders, so that the whole form fits."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("a")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(60, 15), run_before=run_before)


def test_delete_confirm(snap_compare, library):
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await choose(pilot, Place("source", ONC))
        await pilot.press("d")
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(80, 24), run_before=run_before)


def test_command_palette(snap_compare, library):
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"opml")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(CommandList).option_count == 2)
        await still(pilot)

    assert snap_compare(app_for(library), terminal_size=(100, 30), run_before=run_before)
