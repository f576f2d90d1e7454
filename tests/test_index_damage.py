"""A damaged search index never loses anything: the store is the truth, the index is made
again from it (by itself when its table of contents is unreadable, by `reindex` otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator.cli import run
from aggregator.config import load_settings
from aggregator.library import open_library
from aggregator.models import EntryDraft, Source
from aggregator.sources import save_opml

FEED = "https://rockets.example/feed"


@pytest.fixture
def opml(tmp_path: Path, isolated_home: Path) -> Path:
    path = tmp_path / "list.opml"
    save_opml(path, [Source(url=FEED, title="Rockets", category="Space")], title="t")
    library = open_library(load_settings(data_dir=isolated_home, opml=str(path)))
    drafts = [
        EntryDraft(guid=str(i), title=f"Rocket launch {i}", text=f"rocket engine test {i} " * 50)
        for i in range(40)
    ]
    library.store.upsert_entries(FEED, drafts)
    assert library.update_index() == 40
    library.close()
    return path


def search(opml: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict | None, str]:
    code = run(["--opml", str(opml), "search", "rocket", "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err


@pytest.mark.parametrize("damage", [b"", b"\x00garbage\xff" * 3])
def test_an_unreadable_table_of_contents_is_made_anew_from_the_store(
    opml: Path, isolated_home: Path, capsys, damage: bytes
):
    (toc,) = (isolated_home / "index").glob("*.toc")
    toc.write_bytes(damage)
    code, found, err = search(opml, capsys)
    assert code == 0, err
    assert found is not None and found["total"] == 40  # refilled before this search
    assert run(["--opml", str(opml), "reindex"]) == 0


def test_a_segment_cut_short_is_named_with_the_way_out(opml: Path, isolated_home: Path, capsys):
    (segment,) = (isolated_home / "index").glob("*.seg")
    with segment.open("r+b") as fh:
        fh.truncate(1000)
    code, _, err = search(opml, capsys)
    assert code == 2
    assert "search index" in err and "damaged" in err and "aggregator reindex" in err
    assert len(err.strip().splitlines()) == 1
    assert run(["--opml", str(opml), "reindex"]) == 0
    capsys.readouterr()
    code, found, err = search(opml, capsys)
    assert code == 0 and found is not None and found["total"] == 40, err


def test_the_terminal_ui_says_when_the_index_is_damaged(tmp_path: Path):
    from textual.widgets import Input

    from tests.test_tui import drive_owned, make_library, record_notes, wait_until

    settings, lib = make_library(tmp_path)
    (segment,) = (settings.index_dir).glob("*.seg")
    with segment.open("r+b") as fh:
        fh.truncate(segment.stat().st_size // 2)

    async def script(app, pilot) -> None:
        notes = record_notes(app)
        await pilot.press("slash")
        app.main.query_one("#search", Input).value = "trial"
        await wait_until(
            pilot, lambda: any("damaged" in t and "reindex" in t for t, _ in notes.messages)
        )

    from aggregator.tui.app import AggregatorApp

    drive_owned(AggregatorApp(settings, library=lib), script)


@pytest.mark.parametrize("cut", ["end", "file", "header"])
def test_other_segment_damage_is_named_too(opml: Path, isolated_home: Path, capsys, cut: str):
    (segment,) = (isolated_home / "index").glob("*.seg")
    if cut == "file":
        segment.unlink()
    elif cut == "header":  # where its directory starts: now before the file's start
        with segment.open("r+b") as fh:
            fh.write(b"\xff" * 8)
    else:
        with segment.open("r+b") as fh:
            fh.truncate(segment.stat().st_size - 20)
    code, _, err = search(opml, capsys)
    assert code == 2 and "damaged" in err and "aggregator reindex" in err, err
