"""The command line as a user meets it: output shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.cli import run
from aggregator.library import default_opml
from aggregator.models import View


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_first_run_copies_the_default_list(capsys, isolated_home: Path):
    code, out, _ = cli(capsys, "sources", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert len(listed) >= 24
    assert {s["category"] for s in listed} == {"Medicine", "Travel", "Politics"}
    for key in (
        "url",
        "title",
        "category",
        "type",
        "entries",
        "last_success",
        "last_error",
        "failures",
    ):
        assert key in listed[0]
    assert (isolated_home / "feeds.opml").read_bytes() == default_opml()
    assert (isolated_home.stat().st_mode & 0o777) == 0o700


def test_plain_listing_is_one_line_per_source(capsys):
    code, out, _ = cli(capsys, "sources", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) >= 24
    # topic, title, URL, entries, unread, health
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert all(line.split("\t")[3:5] == ["0", "0"] for line in lines)


def test_add_and_remove(capsys, isolated_home: Path):
    code, out, _ = cli(
        capsys,
        "sources",
        "add",
        "https://New.example/feed.xml",
        "--category",
        "Science / Space",
        "--title",
        "New",
    )
    assert code == 0 and "Added New in Science/Space" in out
    _, out, _ = cli(capsys, "sources", "list", "--json")
    added = [s for s in json.loads(out) if s["url"] == "https://new.example/feed.xml"]
    assert added and added[0]["category"] == "Science/Space" and added[0]["title"] == "New"
    code, _, err = cli(capsys, "sources", "add", "https://new.example/feed.xml")
    assert code == 1 and "already a source" in err
    code, out, _ = cli(capsys, "sources", "remove", "https://new.example/feed.xml")
    assert code == 0 and "Removed New" in out
    code, _, err = cli(capsys, "sources", "remove", "https://new.example/feed.xml")
    assert code == 1 and "no source with URL" in err


def test_a_library_too_busy_for_a_change_leaves_the_list_as_it_was(
    capsys, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`sources add`, `remove` and `opml import` said the library was busy after they had
    already changed the list file (QA): now they change nothing, or all of it."""
    from aggregator.store import database

    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)
    code, out, _ = cli(capsys, "sources", "list", "--json")
    first = json.loads(out)[0]["url"]
    listed = (isolated_home / "feeds.opml").read_bytes()
    other = tmp_path / "other.opml"
    other.write_text(
        '<opml version="2.0"><body><outline type="rss" xmlUrl="https://o.example/f"/></body></opml>'
    )
    changes = [
        ("sources", "add", "https://busy.example/feed", "--no-discover"),
        ("sources", "remove", first),
        ("opml", "import", str(other)),
    ]
    holder = sqlite3.connect(isolated_home / "library.sqlite3")
    holder.execute("BEGIN IMMEDIATE")  # another program writing, past the busy timeout
    for change in changes:
        code, _, err = cli(capsys, *change)
        assert code == 2 and "busy" in err and err.count("\n") == 1, (change, err)
        assert (isolated_home / "feeds.opml").read_bytes() == listed, change
    holder.rollback()
    holder.close()
    for change in changes:
        assert cli(capsys, *change)[0] == 0, change
    _, out, _ = cli(capsys, "sources", "list", "--json")
    urls = {s["url"] for s in json.loads(out)}
    assert {"https://busy.example/feed", "https://o.example/f"} <= urls and first not in urls


def test_control_characters_and_bad_text_in_arguments_are_one_line_errors_or_cleaned(
    capsys, isolated_home: Path
):
    """Found by review: an escape in --title or --category was an internal error (lxml
    refuses it), as was an argument that was not UTF-8 (it arrives with surrogates)."""
    code, out, err = cli(
        capsys, "sources", "add", "https://t.example/f", "--no-discover",
        "--title", "Red\x1b[31m title\x07", "--category", "Sci\x00ence",
    )  # fmt: skip
    assert code == 0, err
    assert "Added Red title in Science" in out
    code, _, err = cli(capsys, "sources", "add", "http://\udcff.example/", "--no-discover")
    assert code == 1 and err.count("\n") == 1 and "not UTF-8" in err
    code, _, err = cli(capsys, "read", "\udcff")
    assert code == 1 and "no entry with id" in err and err.count("\n") == 1


def test_one_feed_written_two_ways_is_one_source(capsys, isolated_home: Path, tmp_path: Path):
    """A `#fragment` is never sent and `./` is resolved: both name the feed already there."""
    assert cli(capsys, "sources", "add", "https://d.example/feeds/1.xml", "--no-discover")[0] == 0
    code, _, err = cli(
        capsys, "sources", "add", "https://d.example/feeds/./1.xml#top", "--no-discover"
    )
    assert code == 1 and "(as https://d.example/feeds/1.xml) is already a source" in err
    other = tmp_path / "other.opml"
    other.write_text(
        '<opml version="2.0"><body>'
        '<outline text="A" xmlUrl="https://e.example/a.xml"/>'
        '<outline text="A again" xmlUrl="HTTPS://E.example/a.xml#latest"/>'
        '<outline text="D" xmlUrl="https://d.example/feeds/1.xml#x"/>'
        "</body></opml>"
    )
    assert cli(capsys, "opml", "import", str(other))[0] == 0
    _, out, _ = cli(capsys, "sources", "list", "--json")
    urls = [s["url"] for s in json.loads(out)]
    assert urls.count("https://e.example/a.xml") == 1
    assert not [
        u
        for u in urls
        if u.startswith(("https://e.example/a.xml#", "https://d.example/feeds/1.xml#"))
    ]
    code, out, _ = cli(capsys, "sources", "remove", "https://d.example/feeds/../feeds/1.xml")
    assert code == 0 and "Removed" in out


def test_remove_takes_the_entries_out_of_the_index_too(capsys, isolated_home: Path):
    """`stats` said 10 waiting to be indexed after a remove, against 0 entries (review)."""
    from aggregator.config import load_settings
    from aggregator.library import open_library
    from aggregator.models import EntryDraft

    code, out, _ = cli(capsys, "sources", "list", "--json")
    url = json.loads(out)[0]["url"]
    with open_library(load_settings()) as lib:
        lib.store.upsert_entries(url, [EntryDraft(guid=f"g{i}", title="t") for i in range(10)])
        assert lib.update_index() == 10
    code, out, _ = cli(capsys, "sources", "remove", url)
    assert code == 0 and "10 entries" in out
    code, out, _ = cli(capsys, "stats", "--json")
    stats = json.loads(out)
    assert stats["indexed"] == stats["entries"] == 0 and stats["pending_index"] == 0


def test_remove_keeps_starred_entries_until_asked_again(capsys, isolated_home: Path):
    """`sources remove` deleted starred entries without a word (review): they stay, under
    the source now unlisted, and a second remove deletes them."""
    from aggregator.config import load_settings
    from aggregator.library import open_library
    from aggregator.models import EntryDraft

    code, out, _ = cli(capsys, "sources", "list", "--json")
    url = json.loads(out)[0]["url"]
    with open_library(load_settings()) as lib:
        lib.store.upsert_entries(url, [EntryDraft(guid=f"g{i}", title=f"t{i}") for i in range(5)])
        ids = [row.id for row in lib.store.list_entries(View())]
        lib.store.set_flags(ids[:2], starred=True)
        lib.update_index()
    code, out, _ = cli(capsys, "sources", "remove", url)
    assert code == 0 and "3 entries; kept its 2 starred entries" in out
    code, out, _ = cli(capsys, "sources", "list", "--json")
    assert url not in out
    code, out, _ = cli(capsys, "search", "t0 OR t1 OR t2 OR t3 OR t4", "--json")
    assert len(json.loads(out)["hits"]) == 2
    # and a search can be narrowed to them, as the JSON names their source (QA pass)
    code, out, _ = cli(capsys, "search", "t0 OR t1 OR t2", "--source", url, "--json")
    assert code == 0 and len(json.loads(out)["hits"]) == 2
    code, out, _ = cli(capsys, "sources", "remove", url)
    assert code == 0 and "(no longer in the list) and 2 entries" in out
    code, out, _ = cli(capsys, "stats", "--json")
    assert json.loads(out)["entries"] == 0
    code, _, err = cli(capsys, "sources", "remove", url)
    assert code == 1 and f"no source with URL {url}" in err


def test_a_source_taken_out_of_the_file_by_hand_can_be_removed(capsys, isolated_home: Path):
    """Its entries stayed searchable with no way to delete them: `sources remove` said
    "no source" (review)."""
    from aggregator.config import load_settings
    from aggregator.library import open_library
    from aggregator.models import EntryDraft

    code, out, _ = cli(capsys, "sources", "list", "--json")
    url = json.loads(out)[0]["url"]
    with open_library(load_settings()) as lib:
        lib.store.upsert_entries(url, [EntryDraft(guid="g", title="kept")])
        lib.update_index()
        opml = lib.settings.opml_path
    text = opml.read_text()
    start = text.index(f'xmlUrl="{url}"')
    line_start, line_end = text.rindex("\n", 0, start), text.index("\n", start)
    opml.write_text(text[:line_start] + text[line_end:])
    code, out, _ = cli(capsys, "search", "kept", "--json")
    assert len(json.loads(out)["hits"]) == 1  # kept readable until removed on purpose
    code, out, _ = cli(capsys, "sources", "remove", url)
    assert code == 0 and "(no longer in the list) and 1 entry" in out
    code, out, _ = cli(capsys, "search", "kept", "--json")
    assert json.loads(out)["hits"] == []


def test_sources_list_all_shows_the_sources_out_of_the_list(capsys, isolated_home: Path):
    """A source kept for its starred entries (or taken out of the file by hand) was listed
    nowhere: its URL, needed to remove it, could be found only in a search's JSON.
    `sources list --all` lists it after the others, marked as out of the list."""
    from aggregator.config import load_settings
    from aggregator.library import open_library
    from aggregator.models import EntryDraft

    _, out, _ = cli(capsys, "sources", "list", "--json")
    listed = json.loads(out)
    url = listed[0]["url"]
    with open_library(load_settings()) as lib:
        lib.store.upsert_entries(url, [EntryDraft(guid=f"g{i}", title=f"t{i}") for i in range(3)])
        lib.store.set_flags([row.id for row in lib.store.list_entries(View())][:1], starred=True)
    assert cli(capsys, "sources", "remove", url)[0] == 0
    _, out, _ = cli(capsys, "sources", "list", "--all", "--json")
    rows = json.loads(out)
    assert [r["url"] for r in rows] == [r["url"] for r in listed[1:]] + [url]
    assert [r["listed"] for r in rows] == [True] * (len(listed) - 1) + [False]
    assert rows[-1]["entries"] == 1 and rows[-1]["type"] is None
    _, out, _ = cli(capsys, "sources", "list", "--all")
    last = out.strip().splitlines()[-1].split("\t")
    assert last[2] == url and last[-1] == "not in the list"
    _, out, _ = cli(capsys, "sources", "list", "--json")
    assert url not in out and "listed" not in out  # the contract's shape, unchanged


def test_a_change_to_a_list_named_with_opml_that_does_not_exist_starts_it(
    capsys, isolated_home: Path, tmp_path: Path
):
    """`--opml NEW_FILE sources add` said "no such file" (review); reading or fetching a
    list that is not there still says so (a typo must not look like an empty list)."""
    new = tmp_path / "new.opml"
    code, out, _ = cli(
        capsys, "--opml", str(new), "sources", "add", "https://a.example/feed", "--no-discover"
    )
    assert code == 0 and new.exists()
    code, out, _ = cli(capsys, "--opml", str(new), "sources", "list", "--json")
    assert [s["url"] for s in json.loads(out)] == ["https://a.example/feed"]
    other = tmp_path / "other.opml"
    code, out, _ = cli(capsys, "--opml", str(other), "opml", "import", str(new))
    assert code == 0 and "1 source" in out
    missing = tmp_path / "missing.opml"
    for args in (("sources", "list"), ("fetch",), ("search", "x")):
        code, _, err = cli(capsys, "--opml", str(missing), *args)
        assert code == 1 and "no such file" in err and not missing.exists()
    code, _, err = cli(
        capsys, "--opml", str(tmp_path / "no" / "l.opml"), "sources", "add", "https://a.example/f"
    )
    assert code == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1


def test_a_page_source_s_selector_is_checked_when_it_is_added(capsys, isolated_home: Path):
    """A malformed selector was accepted and failed only at the next fetch (found by review)."""
    code, _, err = cli(capsys, "sources", "add", "https://page.example/news", "--selector", "ul[[a")
    assert code == 1 and "bad selector 'ul[[a': Malformed attribute selector" in err
    assert len(err.strip().splitlines()) == 1
    _, out, _ = cli(capsys, "sources", "list", "--json")
    assert "https://page.example/news" not in out


def test_a_topic_that_is_not_in_the_list_is_an_error_not_an_empty_fetch(
    capsys, isolated_home: Path
):
    """`fetch --category Medcine` fetched nothing and exited 0 (found by review)."""
    code, _, err = cli(capsys, "fetch", "--category", "Medcine", "--json")
    assert code == 1 and "no topic named 'Medcine'" in err and "Medicine" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "javascript:alert(1)", "not a url", "|cat /etc/passwd"]
)
def test_non_http_sources_are_refused(capsys, url: str):
    code, _, err = cli(capsys, "sources", "add", url)
    assert code == 1 and err.count("\n") == 1 and "http" in err


def test_a_port_out_of_range_is_refused_and_a_fetch_names_it(capsys, isolated_home: Path):
    """A fetch said "unexpected ExceptionGroup" for it, or "0 sources" once it was refused."""
    code, _, err = cli(capsys, "sources", "add", "http://127.0.0.1:70000/feed.xml")
    assert code == 1 and err.count("\n") == 1 and "port out of range 0-65535" in err
    (isolated_home / "feeds.opml").write_text(
        '<opml version="2.0"><body>'
        '<outline type="rss" text="typo" xmlUrl="http://127.0.0.1:70000/feed.xml"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    code, out, err = cli(capsys, "fetch", "--json")
    assert code == 0 and json.loads(out)["sources"] == []
    assert err.startswith("not used: http://127.0.0.1:70000/feed.xml: not a valid URL")
    assert err.count("\n") == 1


def test_import_a_real_list_then_export_it(capsys, corpus: Path, tmp_path: Path):
    news = corpus / "awesome-rss-feeds-opml/recommended/with_category/News.opml"
    code, out, _ = cli(capsys, "opml", "import", str(news))
    assert code == 0 and out.startswith("Imported ")
    code, out, _ = cli(capsys, "opml", "import", str(news))
    assert code == 0 and "Imported 0 sources" in out and "already present" in out
    code, out, _ = cli(capsys, "opml", "export")
    assert code == 0 and out.startswith("<?xml") and 'text="News"' in out
    target = tmp_path / "out.opml"
    code, _, _ = cli(capsys, "opml", "export", str(target))
    assert code == 0 and target.read_text(encoding="utf-8").count("xmlUrl=") == out.count("xmlUrl=")
    # A directory that is not there is a mistake to report, not one to make.
    code, _, err = cli(capsys, "opml", "export", str(tmp_path / "no" / "such" / "out.opml"))
    assert code == 1 and "No such file or directory" in err and err.count("\n") == 1
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<rss><channel/></rss>", "it is a feed"),
        (b"hello", "not an OPML file"),
        (b"<opml><head/><body><outline text='folder'/></body></opml>", "no feeds to import"),
    ],
)
def test_bad_import_files_change_nothing(
    capsys, tmp_path: Path, isolated_home: Path, content: bytes, message: str
):
    cli(capsys, "stats")
    before = (isolated_home / "feeds.opml").read_bytes()
    bad = tmp_path / "bad.opml"
    bad.write_bytes(content)
    code, out, err = cli(capsys, "opml", "import", str(bad))
    assert code == 1 and message in err and err.count("\n") == 1 and out == ""
    assert (isolated_home / "feeds.opml").read_bytes() == before


def test_missing_import_file(capsys, tmp_path: Path):
    code, _, err = cli(capsys, "opml", "import", str(tmp_path / "nope.opml"))
    assert code == 1 and "no such file" in err


def test_stats_json_shape(capsys):
    code, out, _ = cli(capsys, "stats", "--json")
    stats = json.loads(out)
    assert code == 0
    assert set(stats) >= {"sources", "entries", "unread", "starred", "indexed", "pending_index"}
    assert stats["entries"] == 0 and stats["sources"] >= 24


def test_data_dir_that_cannot_be_created(capsys, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli(capsys, "--data-dir", str(blocker / "lib"), "stats")
    assert code == 2 and str(blocker) in err and err.count("\n") == 1


def test_data_dir_that_is_a_file_is_the_same_error_however_named(capsys, monkeypatch, tmp_path):
    """`--data-dir FILE` was click's usage error (exit 1), `AGGREGATOR_HOME=FILE` an
    environment error (exit 2): one place, one answer."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli(capsys, "--data-dir", str(blocker), "stats")
    assert code == 2 and f"{blocker} exists and is not a directory" in err
    monkeypatch.setenv("AGGREGATOR_HOME", str(blocker))
    assert cli(capsys, "stats") == (code, "", err)


def _without_root_powers(command: list[str]) -> list[str]:
    """Root may write any file: the command as run without that power (setpriv), or as is."""
    if os.geteuid() != 0:
        return command
    if not shutil.which("setpriv"):
        pytest.skip("root, and no setpriv to run without root's file permissions")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *command]


def test_data_dir_without_write_permission(tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = _python_m("--data-dir", str(locked), "stats", unprivileged=True)
    assert result.returncode == 2 and result.stderr == f"aggregator: {locked} is not writable\n"


def test_a_read_only_side_file_of_the_library_is_named(capsys, tmp_path: Path):
    """A library once read-only leaves a read-only `-shm`: every fetch after it did all its
    requests, then failed naming the library itself (found by review)."""
    home = tmp_path / "home"
    assert cli(capsys, "--data-dir", str(home), "stats")[0] == 0
    shm = home / "library.sqlite3-shm"
    shm.write_bytes(b"")
    shm.chmod(0o400)
    result = _python_m("--data-dir", str(home), "stats", unprivileged=True)
    assert result.returncode == 2
    assert result.stderr == f"aggregator: {shm} is not writable\n"


def test_a_read_only_list_is_not_replaced(capsys, isolated_home: Path):
    """Replacing a file needs only its directory's permission: `sources add` replaced a list
    the user had made read-only (found by a QA pass)."""
    assert cli(capsys, "sources", "list")[0] == 0
    listed = isolated_home / "feeds.opml"
    listed.chmod(0o444)
    before = listed.read_bytes()
    code, _, err = cli(capsys, "sources", "add", "https://ro.example/feed", "--no-discover")
    assert code == 2 and err == f"aggregator: cannot write {listed}: read-only file, not changed\n"
    assert listed.read_bytes() == before and (listed.stat().st_mode & 0o777) == 0o444


def test_a_remove_the_list_refuses_keeps_the_entries(capsys, isolated_home: Path):
    """`sources remove` deleted the source's entries (their read state lost) and then
    failed to write the list, which still named the source (QA)."""
    from aggregator.config import load_settings
    from aggregator.library import open_library
    from aggregator.models import EntryDraft

    _, out, _ = cli(capsys, "sources", "list", "--json")
    url = json.loads(out)[0]["url"]
    with open_library(load_settings()) as lib:
        lib.store.upsert_entries(url, [EntryDraft(guid=f"g{i}", title=f"t{i}") for i in range(3)])
    listed = isolated_home / "feeds.opml"
    listed.chmod(0o444)
    code, _, err = cli(capsys, "sources", "remove", url)
    assert code == 2 and "cannot write" in err
    assert url in listed.read_text()
    _, out, _ = cli(capsys, "stats", "--json")
    assert json.loads(out)["entries"] == 3


def test_damaged_library_exit_2_and_untouched(capsys, isolated_home: Path):
    isolated_home.mkdir(parents=True)
    db = isolated_home / "library.sqlite3"
    db.write_bytes(b"garbage" * 1000)
    code, _, err = cli(capsys, "stats")
    assert code == 2 and "damaged" in err and err.count("\n") == 1
    assert db.read_bytes() == b"garbage" * 1000


def test_newer_library_exit_2_and_untouched(capsys, isolated_home: Path):
    isolated_home.mkdir(parents=True)
    db = isolated_home / "library.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    code, _, err = cli(capsys, "sources", "list")
    assert code == 2 and "newer aggregator" in err
    assert db.read_bytes() == before


def test_broken_own_list_is_reported_and_kept(capsys, isolated_home: Path):
    isolated_home.mkdir(parents=True)
    own = isolated_home / "feeds.opml"
    own.write_text("<html>oops</html>")
    code, _, err = cli(capsys, "sources", "list")
    assert code == 1 and str(own) in err
    code, _, err = cli(capsys, "sources", "add", "https://x.example/feed")
    assert code == 1
    assert own.read_text() == "<html>oops</html>"


def test_bad_config_and_bad_option(capsys, isolated_home: Path):
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text("[fetch]\ntries = 0\n")
    code, _, err = cli(capsys, "stats")
    assert code == 1 and "fetch.tries" in err
    code, _, err = cli(capsys, "stats", "--no-such-flag")
    assert code == 1 and "no-such-flag" in err


def test_opml_option_points_at_another_list(capsys, tmp_path: Path):
    own = tmp_path / "mine.opml"
    own.write_text(
        '<opml><body><outline text="Only" xmlUrl="https://only.example/rss"/></body></opml>'
    )
    code, out, _ = cli(capsys, "--opml", str(own), "sources", "list", "--json")
    assert code == 0 and [s["title"] for s in json.loads(out)] == ["Only"]
    code, _, err = cli(capsys, "--opml", str(tmp_path / "missing.opml"), "sources", "list")
    assert code == 1 and "no such file" in err


def test_untrusted_titles_print_literally(capsys, tmp_path: Path):
    own = tmp_path / "mine.opml"
    own.write_text(
        '<opml><body><outline text="[bold red]x[/] [link=file:///etc]y[/link]" xmlUrl="https://e.example/rss"/></body></opml>'
    )
    code, out, _ = cli(capsys, "--opml", str(own), "sources", "list")
    assert code == 0 and "[bold red]x[/] [link=file:///etc]y[/link]" in out


def test_no_command_prints_help(capsys):
    code, out, _ = cli(capsys)
    assert code == 0 and "sources" in out and "opml" in out


def _python_m(
    *args: str, env: dict | None = None, unprivileged: bool = False
) -> subprocess.CompletedProcess:
    """The real program; `unprivileged`: without root's power to write any file."""
    command = [sys.executable, "-m", "aggregator", *args]
    return subprocess.run(
        _without_root_powers(command) if unprivileged else command,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_opml_import_dash_reads_standard_input(corpus: Path, tmp_path: Path):
    """`curl …/list.opml | aggregator opml import -` said "-: no such file"."""
    news = corpus / "awesome-rss-feeds-opml/recommended/with_category/News.opml"
    command = [sys.executable, "-m", "aggregator", "--data-dir", str(tmp_path / "h")]
    result = subprocess.run(
        [*command, "opml", "import", "-"],
        input=news.read_bytes(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.startswith(b"Imported 11 sources")
    listed = subprocess.run([*command, "sources", "list"], capture_output=True, timeout=60)
    assert listed.stdout.count(b"\nNews\t") + listed.stdout.startswith(b"News\t") == 11


def test_dash_is_standard_input_and_output_even_beside_a_file_named_dash(
    corpus: Path, tmp_path: Path
):
    """Found by a QA pass: `opml export -` wrote a file named "-", and `opml import -` then
    read that file instead of its input. A file of that name is ./-."""
    news = corpus / "awesome-rss-feeds-opml/recommended/with_category/News.opml"
    dash = tmp_path / "-"
    dash.write_text("not a list", encoding="utf-8")
    command = [sys.executable, "-m", "aggregator", "--data-dir", str(tmp_path / "h"), "opml"]
    imported = subprocess.run(
        [*command, "import", "-"],
        input=news.read_bytes(),
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert imported.returncode == 0 and imported.stdout.startswith(b"Imported 11 sources")
    exported = subprocess.run(
        [*command, "export", "-"], capture_output=True, timeout=60, cwd=tmp_path
    )
    assert exported.returncode == 0 and exported.stdout.startswith(b"<?xml")
    assert exported.stdout.count(b"xmlUrl=") >= 11
    assert dash.read_text(encoding="utf-8") == "not a list"


def test_errors_never_show_a_traceback_from_the_real_program(tmp_path: Path):
    env = {**os.environ, "AGGREGATOR_HOME": str(tmp_path / "h")}
    for args in (
        ["sources", "add", "file:///etc/passwd"],
        ["opml", "import", "/nonexistent"],
        ["read"],
    ):
        result = _python_m(*args, env=env)
        assert result.returncode == 1, result
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_the_core_never_loads_textual():
    code = (
        "import sys, aggregator.cli, aggregator.library; "
        "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_a_command_printing_json_never_loads_rich(tmp_path: Path):
    """rich formats for the terminal; a script reading JSON should not pay for loading it."""
    code = (
        "import sys\n"
        "from aggregator.cli import run\n"
        f"code = run(['--data-dir', {str(tmp_path / 'home')!r}, 'stats', '--json'])\n"
        "sys.exit(code or (3 if any(m == 'rich' or m.startswith('rich.') for m in sys.modules)"
        " else 0))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], timeout=60, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["entries"] == 0


def test_fetching_never_loads_httpx_own_command_line_tool():
    """httpx imports its CLI (click, rich, pygments) unless told not to: ~30 ms a run."""
    code = (
        "import sys, aggregator.update, httpx\n"
        "sys.exit(3 if {'rich', 'pygments'} & set(sys.modules) else 0)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


def test_the_progress_display_on_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys):
    """On a terminal a fetch shows a progress bar on the (lazily made) error console, then
    its summary; rich is loaded only then."""
    from aggregator import cli_output
    from aggregator.models import FetchProgress, FetchReport, UpdateResult

    monkeypatch.setenv("TERM", "xterm-256color")  # rich draws nothing on a dumb terminal
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    terminal = cli_output._LazyConsole(stderr=True, force_terminal=True, width=80)
    monkeypatch.setattr(cli_output, "err", terminal)
    result = UpdateResult(url="https://a.example/feed", title="A", category="", status="ok", new=2)
    with cli_output.FetchDisplay(quiet=False) as show:
        assert show.fancy
        show.update(FetchProgress(done=1, total=1, new=2, failed=0, last=result))
        show.indexing(1, 2)
    show.summary(FetchReport(results=(result,), took_s=0.5))
    captured = capsys.readouterr()
    assert "1 source in 0.5 s: 2 new entries" in captured.out
    assert "Fetching" in captured.err or "Indexing" in captured.err


@pytest.mark.parametrize("query", ['"night train"', "night", "nig*", "night~", "title:night"])
def test_searching_a_new_library_finds_nothing_and_says_so(capsys, query: str):
    """A fresh library has an index with no segment yet: every kind of query answers, with
    no results (a phrase crashed there once: 'EmptyReader' has no lengths)."""
    code, out, err = cli(capsys, "search", query, "--json")
    assert code == 0, err
    assert json.loads(out)["total"] == 0


def test_output_into_a_pipe_closed_early_ends_quietly(tmp_path: Path):
    """`aggregator sources list | head -1`: the reader goes away mid-output. Click made that
    exit 1 (a mistake of the user's) with no message; it is no mistake: exit 0, silent."""
    outlines = "".join(
        f'<outline text="S{i}" xmlUrl="https://s{i}.example/feed.xml"/>' for i in range(3000)
    )
    opml = tmp_path / "feeds.opml"
    opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
    for extra in ([], ["--json"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--data-dir", str(tmp_path / "home"),
             "--opml", str(opml), "sources", "list", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline()
        proc.stdout.close()  # as `head -1` does
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and err == b""


def test_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path):
    """`stats --json > /dev/full` was an internal error (exit 3): the machine's problem."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "aggregator", "--data-dir", str(tmp_path), "stats", "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr == "aggregator: No space left on device\n"


def test_exporting_the_list_onto_itself_leaves_it_as_it_is(capsys, isolated_home: Path):
    """It rewrote the user's file anew, its comments and layout gone (found by review)."""
    assert cli(capsys, "stats")[0] == 0  # the first run copies the default list
    own = isolated_home / "feeds.opml"
    own.write_bytes(own.read_bytes().replace(b"<body>", b"<body>\n<!-- mine -->", 1))
    before = own.read_bytes()
    code, _, err = cli(capsys, "opml", "export", str(own))
    assert code == 0 and "is your source list: left as it is" in err
    assert own.read_bytes() == before


def test_sources_added_at_the_same_time_are_all_kept(tmp_path: Path):
    """Found by review: two `sources add` at once both said "Added" and the list kept one
    (8 at once kept 2): each read the list, added its source and wrote its copy over the
    other's. A change of the list now waits for the one before it and starts from its
    result."""
    env = {**os.environ, "AGGREGATOR_HOME": str(tmp_path / "home")}
    assert _python_m("stats", env=env).returncode == 0  # the library and its list, made
    urls = [f"https://site{i}.example/feed" for i in range(6)]
    adding = [
        subprocess.Popen(
            [sys.executable, "-m", "aggregator", "sources", "add", "--no-discover", url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    for process in adding:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    listed = _python_m("sources", "list", "--json", env=env)
    assert {s["url"] for s in json.loads(listed.stdout)} >= set(urls)


def test_a_topic_with_no_source_yet_fetches_nothing_and_says_how_to_fill_it(
    capsys, isolated_home: Path, tmp_path: Path
):
    """An empty folder of the list was "no topic named" (stop 24's note)."""
    listed = tmp_path / "list.opml"
    listed.write_text(
        '<opml version="2.0"><body><outline text="Medicine">'
        '<outline type="rss" text="A" xmlUrl="https://a.example/rss"/></outline>'
        '<outline text="Deep Space"/></body></opml>'
    )
    code, out, err = cli(capsys, "--opml", str(listed), "fetch", "--category", "deep space")
    assert code == 0 and "0 sources" in out
    assert err.strip() == (
        "the topic 'deep space' has no sources yet: "
        "aggregator sources add URL --category 'deep space'"
    )
    code, _, err = cli(capsys, "--opml", str(listed), "search", "x", "--category", "Deep Space")
    assert code == 0 and not err
    code, _, err = cli(capsys, "--opml", str(listed), "fetch", "--category", "Deep")
    assert code == 1 and "no topic named 'Deep' in your list (topics: Deep Space, Medicine)" in err
    source = ["--source", "https://a.example/rss"]
    code, _, err = cli(capsys, "--opml", str(listed), "fetch", *source, "--category", "deep space")
    assert code == 1 and "https://a.example/rss is not in the topic 'deep space'" in err
    listed.write_text('<opml version="2.0"><body/></opml>')
    code, _, err = cli(capsys, "--opml", str(listed), "fetch", "--category", "Deep")
    assert code == 1 and "(it has no topics yet)" in err


def test_two_libraries_sharing_one_list_keep_every_source_each_adds(tmp_path: Path):
    """Two data dirs named one list with --opml: each took turns with itself only, so a
    source one added while the other was saving was lost (QA). The list file is locked,
    again if it was replaced meanwhile; not its folder, which held up other lists (QA)."""
    import threading

    from aggregator.config import load_settings
    from aggregator.library import open_library
    from aggregator.models import Source
    from aggregator.sources import read_opml_file, save_opml

    shared = tmp_path / "lists" / "shared.opml"
    shared.parent.mkdir()
    save_opml(shared, [Source(url="https://first.example/feed")], title="shared")
    libraries = [
        open_library(load_settings(data_dir=tmp_path / name, opml=str(shared)))
        for name in ("a", "b")
    ]
    start = threading.Barrier(2)

    def add_many(lib, name: str) -> None:
        start.wait()
        for i in range(15):
            lib.add_source(f"https://{name}{i}.example/feed", discover=False)

    workers = [
        threading.Thread(target=add_many, args=(lib, name))
        for lib, name in zip(libraries, "ab", strict=True)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for lib in libraries:
        lib.close()
    assert len(read_opml_file(shared).sources) == 31
    assert list(shared.parent.iterdir()) == [shared]  # no lock file beside the list
    # Another list in the same folder is changed while this one is held.
    from aggregator.locks import exclusive

    other = shared.parent / "other.opml"
    save_opml(other, [Source(url="https://first.example/feed")], title="other")
    settings = load_settings(data_dir=tmp_path / "c", opml=str(other))
    with exclusive(shared, 0.0, replaced=True), open_library(settings) as lib:
        lib.add_source("https://c.example/feed", discover=False)
    assert len(read_opml_file(other).sources) == 2
