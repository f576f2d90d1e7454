"""A source filed in several folders (its folder, and others its tags name): its entries are
in each of those topics — in the list, the sidebar, `fetch --category` and searches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from aggregator.config import load_settings
from aggregator.models import Source, View
from aggregator.tui.app import AggregatorApp
from aggregator.tui.widgets.sidebar import Place, Sidebar
from tests.test_tui import MED, ONC, RAIL, choose, drive_owned, make_library, sidebar_labels, titles

pytestmark = pytest.mark.usefixtures("utc")

SOURCES = [
    Source(url=MED, title="Clinic Notes", category="Medicine"),
    Source(url=ONC, title="Cell Letters", category="Medicine/Oncology", tags=("Travel/Health",)),
    Source(url=RAIL, title="Rail Diary", category="Travel"),
]


def test_a_tagged_source_is_listed_in_its_other_topic(tmp_path: Path):
    _, lib = make_library(tmp_path, SOURCES)
    try:
        rows = lib.entries(View(category="Travel"))
        assert {r.source_url for r in rows} == {RAIL, ONC}
        assert {r.source_url for r in lib.entries(View(category="Travel/Health"))} == {ONC}
        assert {r.source_url for r in lib.entries(View(category="Medicine"))} == {MED, ONC}
        assert [s.url for s in lib.select_sources(category="Travel")] == [ONC, RAIL]
        assert lib.tagged_sources("health", by_name=True) == (ONC,)
        assert lib.tagged_sources("health") == ()  # by path, a level's name is not a topic
    finally:
        lib.close()


def test_the_sidebar_shows_a_tagged_source_in_each_topic_counting_it_once(tmp_path: Path):
    settings, lib = make_library(tmp_path, SOURCES)

    async def script(app: AggregatorApp, pilot: Pilot[Any]) -> None:
        assert sidebar_labels(app) == [
            "All  8",
            "Starred",
            "Medicine  5",
            "Clinic Notes  3",
            "Oncology  2",
            "Cell Letters  2",
            "Travel  5",  # Rail Diary's 3 and Cell Letters' 2
            "Health  2",
            "Cell Letters  2",
            "Rail Diary  3",
        ]
        await choose(pilot, Place("topic", "Travel"))
        assert len(titles(app)) == 5

    drive_owned(AggregatorApp(settings, library=lib), script)


def test_a_search_narrowed_to_a_topic_finds_the_entries_of_sources_tagged_with_it(tmp_path: Path):
    _, lib = make_library(tmp_path, SOURCES)
    try:
        everywhere = {h.source_url for h in lib.search("trial OR rail OR surgery").hits}
        assert everywhere == {MED, ONC, RAIL}
        in_travel = {
            h.source_url for h in lib.search("trial OR rail OR surgery", category="Travel").hits
        }
        assert in_travel == {ONC, RAIL}
        assert {h.source_url for h in lib.search("trial", category="health").hits} == {ONC}
        assert lib.check_search_filters("health", None) == (
            "health",
            None,
        )  # a tag's level is a topic
    finally:
        lib.close()


def test_a_topic_with_a_comma_in_its_name_can_narrow_a_search(tmp_path: Path):
    sources = [*SOURCES[:2], Source(url=RAIL, title="Rail Diary", category="Travel, Leisure")]
    _, lib = make_library(tmp_path, sources)
    try:
        found = {h.source_url for h in lib.search("rail", category="Travel, Leisure").hits}
        assert found == {RAIL}
    finally:
        lib.close()


def test_a_source_chosen_in_its_other_topic_stays_there(tmp_path: Path):
    from tests.test_tui import settle

    settings, lib = make_library(tmp_path, SOURCES)

    async def script(app: AggregatorApp, pilot: Pilot[Any]) -> None:
        sidebar = app.main.query_one(Sidebar)
        sidebar.focus()
        await pilot.pause()
        lines = [
            i
            for i in range(sidebar.last_line + 1)
            if (n := sidebar.get_node_at_line(i)) and n.data == Place("source", ONC)
        ]
        assert len(lines) == 2  # under Medicine/Oncology and under Travel/Health
        sidebar.cursor_line = lines[1]
        await pilot.press("enter")
        await settle(pilot)
        assert sidebar.cursor_line == lines[1]  # it jumped to the first place
        app.main.action_unread_only()  # the list is loaded again
        await settle(pilot)
        assert sidebar.cursor_line == lines[1]

    drive_owned(AggregatorApp(settings, library=lib), script)


def test_a_search_counts_the_topics_tags_file_sources_in(tmp_path: Path):
    _, lib = make_library(tmp_path, SOURCES)
    try:
        result = lib.search("trial OR rail OR surgery")
        by_source = result.facets["source"]
        topics = result.facets["category"]
        assert topics["Travel/Health"] == by_source[ONC]  # a topic only a tag names
        assert topics["Travel"] == by_source[RAIL]  # the folder's own count is unchanged
        narrowed = lib.search("trial OR rail OR surgery", category="Travel/Health")
        assert {h.source_url for h in narrowed.hits} == {ONC}
    finally:
        lib.close()


def test_a_folder_named_with_a_slash_is_named_as_shown_on_the_command_line(tmp_path: Path):
    """`Film/TV` is one folder (kept as `Film∕TV`): `--category Film/TV` names it in a fetch,
    a search and an add, as long as no folder `Film` holds a `TV`; a folder's name in
    another case is the folder as listed, not a new one."""
    slash = "Film\u2215TV"
    _, lib = make_library(
        tmp_path,
        [
            Source(url=MED, title="Clinic Notes", category="Medicine"),
            Source(url=ONC, title="Cell Letters", category="Medicine/Oncology"),
            Source(url=RAIL, title="Rail Diary", category=slash),
        ],
    )
    try:
        assert [s.url for s in lib.select_sources(category="Film/TV")] == [RAIL]
        assert [s.url for s in lib.select_sources(category="film/tv")] == [RAIL]
        category, _ = lib.check_search_filters("Film/TV", None)
        assert category == slash.lower()
        found = lib.search("", category=category, sort="newest")
        assert found.hits and {h.source_url for h in found.hits} == {RAIL}
        added = lib.add_source("https://film.example.org/feed", category="film/tv", discover=False)
        assert added.source.category == slash
        added = lib.add_source(
            "https://clinic.example.org/feed", category="MEDICINE", discover=False
        )
        assert added.source.category == "Medicine"
        added = lib.add_source(
            "https://tv.example.org/feed", category="Film/Series", discover=False
        )
        assert added.source.category == "Film/Series"  # a new folder inside a new one
        added = lib.add_source("https://two.example.org/feed", category="Film/TV", discover=False)
        assert added.source.category == slash  # still the folder shown as Film/TV
        # and so does an edit (the UI's `e`)
        assert lib.update_source(MED, category="film/tv").category == slash
        assert lib.update_source(MED, category="medicine/ONCOLOGY").category == "Medicine/Oncology"
    finally:
        lib.close()


def test_a_topic_typed_in_another_case_files_into_the_list_s_own_folders(tmp_path: Path):
    """`--category medicine/oncology` made a second `medicine` > `oncology` beside the list's
    empty `Medicine` > `Oncology` (found by a QA pass): an empty folder's case was unknown."""
    from aggregator.library import open_library
    from aggregator.sources import read_opml

    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><head><title>t</title></head><body><outline text="Medicine">'
        f'<outline text="Oncology"/><outline text="Clinic" xmlUrl="{MED}"/></outline>'
        "</body></opml>"
    )
    with open_library(load_settings(data_dir=tmp_path / "home", opml=str(opml))) as lib:
        into = lib.add_source("https://a.example/f", category="medicine/oncology", discover=False)
        below = lib.add_source("https://b.example/f", category="MEDICINE/Cardio", discover=False)
    assert (into.source.category, below.source.category) == (
        "Medicine/Oncology",
        "Medicine/Cardio",
    )
    document = read_opml(opml.read_bytes())
    assert document.folders == ("Medicine", "Medicine/Oncology", "Medicine/Cardio")
    assert opml.read_text().count('text="Medicine"') == 1


def test_a_source_and_a_topic_that_have_nothing_in_common_are_an_error(tmp_path: Path):
    """`fetch --source <a Medicine feed> --category Travel` fetched nothing and said all was
    well (found by review)."""
    from aggregator.errors import UserError

    _, lib = make_library(tmp_path, SOURCES)
    try:
        assert [s.url for s in lib.select_sources([ONC], category="Travel")] == [ONC]  # a tag
        with pytest.raises(UserError, match=f"{MED} is not in the topic 'Travel'"):
            lib.select_sources([MED], category="Travel")
        with pytest.raises(UserError, match=f"{MED} is not in the topic 'Medicine/Oncology'"):
            lib.select_sources([ONC, MED], category="Medicine/Oncology")  # one of them is
    finally:
        lib.close()


def test_an_import_files_into_the_list_s_folders_in_any_case(tmp_path: Path):
    """An imported `news` folder made a second folder beside the list's `News` (QA pass),
    where `sources add --category news` files into it; topics new to the list are matched
    among themselves too."""
    from aggregator.library import open_library
    from aggregator.sources import read_opml

    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><head><title>t</title></head><body><outline text="News">'
        f'<outline text="Clinic" xmlUrl="{MED}"/></outline></body></opml>'
    )
    other = tmp_path / "other.opml"
    other.write_text(
        '<opml version="2.0"><body><outline text="news">'
        '<outline text="A" xmlUrl="https://a.example/f"/></outline>'
        '<outline text="NEWS"><outline text="Local">'
        '<outline text="B" xmlUrl="https://b.example/f" category="news/local,Sport"/>'
        "</outline></outline>"
        '<outline text="sport"><outline text="C" xmlUrl="https://c.example/f"/></outline>'
        "</body></opml>"
    )
    with open_library(load_settings(data_dir=tmp_path / "home", opml=str(opml))) as lib:
        report = lib.import_opml(other)
    assert [(s.category, s.tags) for s in report.added] == [
        ("News", ()),
        ("News/Local", ("Sport",)),
        ("Sport", ()),
    ]
    document = read_opml(opml.read_bytes())
    assert document.folders == ("News", "News/Local", "Sport")


def test_a_folder_named_with_a_spaced_slash_is_found_as_typed(tmp_path: Path):
    """`UI / UX` (a real list's folder) could not be named: `--category "UI / UX"` said no
    such topic, and `sources add` made `UI` > `UX` (QA pass)."""
    from aggregator.library import open_library

    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><head><title>t</title></head><body><outline text="UI / UX">'
        f'<outline text="Clinic" xmlUrl="{MED}"/></outline></body></opml>'
    )
    with open_library(load_settings(data_dir=tmp_path / "home", opml=str(opml))) as lib:
        (folder,) = lib.topics()
        assert lib.check_search_filters("UI / UX", None) == (folder.lower(), None)
        added = lib.add_source("https://a.example/f", category="ui / ux", discover=False)
    assert added.source.category == folder
