"""The index stays in step with the store: crashes, two writers, stale and held locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aggregator.config import load_settings
from aggregator.library import open_library
from aggregator.models import EntryDraft, Source
from aggregator.sources import save_opml

FEED = "https://feed.example/rss"


def make_home(tmp_path: Path) -> tuple[Path, Path]:
    opml = tmp_path / "list.opml"
    save_opml(opml, [Source(url=FEED, title="Feed", category="Medicine")], title="t")
    return tmp_path / "home", opml


def child(home: Path, opml: Path, body: str, **popen: object) -> subprocess.Popen[str]:
    """A separate process with a library open, running `body` (a real second process)."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from aggregator.config import load_settings
        from aggregator.library import open_library
        from aggregator.models import EntryDraft
        lib = open_library(load_settings(data_dir={str(home)!r}, opml={str(opml)!r}))
        """
    ) + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script], text=True, **popen)  # type: ignore[call-overload]


def drafts(prefix: str, n: int) -> list[EntryDraft]:
    return [
        EntryDraft(
            guid=f"{prefix}{i}", title=f"{prefix} story {i}", text=f"zebra {prefix} number{i}"
        )
        for i in range(n)
    ]


def test_a_crash_between_store_and_index_commit_loses_nothing(tmp_path: Path):
    home, opml = make_home(tmp_path)
    crashed = child(
        home,
        opml,
        f"""
        lib.store.upsert_entries({FEED!r}, [EntryDraft(guid=f"g{{i}}", title=f"giraffe {{i}}") for i in range(30)])
        import aggregator.index as index_module
        real_apply = index_module.Index.apply
        def apply_then_die(self, upserts, deletes=(), **kwargs):
            writer = self._writer(5)
            for doc in list(upserts)[:10]:
                writer.add_document(**index_module._fields(doc))
            os._exit(9)  # killed mid-write: no commit, the writer lock still held
        index_module.Index.apply = apply_then_die
        lib.update_index()
        """,
    )
    assert crashed.wait(timeout=60) == 9
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        assert lib.stats().pending_index == 30
        assert lib.search("giraffe").total == 0  # nothing half-written is visible
        assert lib.update_index(wait_s=5) == 30  # the lock of the dead process does not block
        assert lib.search("giraffe").total == 30
        assert lib.stats().pending_index == 0


def test_two_processes_indexing_at_once_both_finish(tmp_path: Path):
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))):
        pass  # create the library first, so the two children only race on the index
    go = tmp_path / "go"
    body = """
        while not os.path.exists({go!r}):
            time.sleep(0.01)
        for round in range(5):
            lib.store.upsert_entries({feed!r}, [EntryDraft(guid=f"{{name}}{{round}}-{{i}}", title="okapi", text="okapi " + name) for i in range(40)])
            lib.update_index()
        print("done")
        """
    children = [
        child(
            home,
            opml,
            f"name = {name!r}\n" + textwrap.dedent(body).format(go=str(go), feed=FEED),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("left", "right")
    ]
    go.touch()
    for proc in children:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.strip() == "done" and "Traceback" not in err
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.update_index()
        assert lib.search("okapi", limit=1).total == 400
        assert lib.stats().pending_index == 0


def test_a_killed_writer_leaves_no_lock_behind(tmp_path: Path):
    home, opml = make_home(tmp_path)
    holder = child(
        home,
        opml,
        """
        writer = lib._open_index()._writer(5)
        print("holding", flush=True)
        time.sleep(60)
        """,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    holder.stdout.close()
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(FEED, drafts("after", 3))
        started = time.monotonic()
        assert lib.update_index(wait_s=5) == 3
        assert time.monotonic() - started < 3


def test_a_held_lock_is_waited_for_then_a_clear_message(tmp_path: Path):
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(FEED, drafts("held", 3))
        writer = lib._open_index()._writer(5)
        try:
            env = {**os.environ, "AGGREGATOR_INDEX_LOCK_WAIT": "1"}
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "aggregator",
                    "--data-dir",
                    str(home),
                    "--opml",
                    str(opml),
                    "reindex",
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
        finally:
            writer.cancel()
        assert result.returncode == 2
        assert "being written by another aggregator" in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert lib.update_index(wait_s=5) == 3  # and nothing was lost meanwhile


def test_reindex_rebuilds_from_the_store(tmp_path: Path, capsys):
    from aggregator.cli import run

    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(FEED, drafts("re", 12))
        lib.update_index()
    for path in (home / "index").iterdir():  # a damaged index: the store still has it all
        if path.suffix == ".seg":
            path.write_bytes(b"garbage")
    assert run(["--data-dir", str(home), "--opml", str(opml), "reindex"]) == 0
    assert "Indexed 12 entries" in capsys.readouterr().out
    assert run(["--data-dir", str(home), "--opml", str(opml), "search", "zebra", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 12


def test_an_index_of_another_version_is_refilled(tmp_path: Path):
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(FEED, drafts("v", 5))
        lib.update_index()
    (home / "index" / "aggregator-index-version").write_text("0\n")
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        assert lib.search("zebra").pending == 5  # the new index is queued to be refilled
        lib.update_index()
        assert lib.search("zebra").total == 5


def test_an_index_from_before_cjk_bigrams_is_rebuilt(tmp_path: Path):
    """Version 9 held Chinese and Japanese runs whole and Arabic diacritics unfolded: such an
    index is refilled from the store, and then finds a word inside a run."""
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(FEED, [EntryDraft(guid="jp", title="東京の天気予報と気候変動")])
        lib.update_index()
    (home / "index" / "aggregator-index-version").write_text("9\n")
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        assert lib.search("東京").pending == 1
        lib.update_index()
        assert lib.search("気候変動").total == 1


def test_one_cjk_character_finds_it_anywhere_in_a_run(tmp_path: Path):
    """A character searched alone (`猫`, cat) found only texts where it stood alone: the
    index holds CJK runs as pairs. It finds each pair it begins or ends, and only those."""
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(
            FEED,
            [
                EntryDraft(guid="alone", title="猫"),
                EntryDraft(guid="starts", title="猫很可爱"),
                EntryDraft(guid="inside", title="我的猫很可爱", text="我的猫很可爱。"),
                EntryDraft(guid="ends", title="这是我的猫"),
                EntryDraft(guid="other", title="我的狗很可爱"),
                EntryDraft(guid="kana", title="東京都の天気"),
                EntryDraft(guid="mark", title="佐々木"),  # 々 sorts before the kana
                EntryDraft(guid="mixed", title="在B站看视频"),
            ],
        )
        lib.update_index()
        titles = {hit.title for hit in lib.search("猫").hits}
        assert titles == {"猫", "猫很可爱", "我的猫很可爱", "这是我的猫"}
        assert {hit.title for hit in lib.search("京").hits} == {"東京都の天気"}
        assert {hit.title for hit in lib.search("木").hits} == {"佐々木"}
        # Beside a Latin letter, and typed apart: as the index holds them (QA).
        assert {hit.title for hit in lib.search("B站").hits} == {"在B站看视频"}
        assert {hit.title for hit in lib.search('"猫 很"').hits} == {"猫很可爱", "我的猫很可爱"}
        assert {hit.title for hit in lib.search("狗 OR の").hits} == {
            "我的狗很可爱",
            "東京都の天気",
        }
        assert lib.search("猫 -狗").total == 4 and lib.search("title:猫").total == 4
        assert lib.search("猫~").total == 4  # no near characters: the character
        marked = {
            hit.snippet[a:b] for hit in lib.search("猫").hits for a, b in hit.highlights
        }  # the character, not the pairs it is in (的猫很)
        assert marked == {"猫"}


def test_nothing_queued_leaves_a_current_index_closed(tmp_path: Path):
    """A fetch that stored nothing new ends without loading Whoosh; a missing index is still
    noticed and refilled."""
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        lib.store.upsert_entries(FEED, drafts("v", 5))
        assert lib.update_index() == 5
    script = textwrap.dedent(
        f"""
        import sys
        from aggregator.config import load_settings
        from aggregator.library import open_library
        with open_library(load_settings(data_dir={str(home)!r}, opml={str(opml)!r})) as lib:
            assert lib.update_index() == 0
        print("whoosh" in sys.modules)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
    for path in (home / "index").glob("_entries_*.toc"):
        path.unlink()  # the index is gone: the next update refills it
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        assert lib.update_index() == 5
        assert lib.search("zebra").total == 5


def test_processes_creating_the_index_at_once_all_open_it(tmp_path: Path):
    """The first start of two programs at once: one creates the index, the other opens it."""
    script = textwrap.dedent(
        """
        import os, sys, time
        from pathlib import Path
        from aggregator.index import Index
        go = Path(sys.argv[1])
        while not go.exists():
            time.sleep(0.001)
        index = Index(Path(sys.argv[2]))
        print(index.doc_count())
        """
    )
    for attempt in range(3):
        go, directory = tmp_path / f"go{attempt}", tmp_path / f"index{attempt}"
        children = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(go), str(directory)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        time.sleep(1.0)  # every child imported and waiting
        go.touch()
        for proc in children:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out.strip() == "0"


def test_a_worker_process_reads_and_writes_its_share_of_a_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The worker reads its entries from the store itself: one batch, two segments, and every
    entry found, changed entries included (their old copies gone)."""
    import aggregator.index
    from aggregator.index import directory as index_directory

    monkeypatch.setattr(index_directory, "WORKER_SHARE", 20)
    monkeypatch.setattr(index_directory, "READ_CHUNK", 10)
    monkeypatch.setattr(aggregator.index, "default_workers", lambda batch: 1)
    home, opml = make_home(tmp_path)
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        assert lib.use_processes
        lib.store.upsert_entries(FEED, drafts("w", 60))
        heard: list[tuple[int, int]] = []
        assert lib.update_index(lambda done, total: heard.append((done, total))) == 60
        # Progress moves while the shares are written (this process's count, twice): a
        # fetch's bar stood at 0 until the whole batch was (QA pass).
        assert heard == [(0, 60), (20, 60), (40, 60), (60, 60)]
        assert lib._open_index().segment_count() == 2
        assert lib.search("zebra", limit=100).total == 60
        changed = [
            EntryDraft(guid=f"w{i}", title=f"w story {i}", text=f"okapi w number{i}")
            for i in range(50)
        ]
        lib.store.upsert_entries(FEED, changed)
        assert lib.update_index() == 50
        assert lib.search("zebra", limit=100).total == 10
        assert lib.search("okapi", limit=100).total == 50
        assert {h.title for h in lib.search("number17").hits} == {"w story 17"}


def test_a_fetch_while_another_process_writes_the_index_reports_and_succeeds(
    tmp_path: Path, server
):
    """The entries are stored; the run's report is printed (JSON too) with why they are not
    searchable yet, and it exits 0 (it exited 2 with no report, found by review); they stay
    queued for the next run."""
    from tests.httpd import Route, item, rss

    url = server.route("/feed.xml", Route(body=rss(item("g1", "Okapi sighting", "An okapi."))))
    home, opml = tmp_path / "home", tmp_path / "list.opml"
    save_opml(opml, [Source(url=url, title="Feed")], title="t")
    with open_library(load_settings(data_dir=home, opml=str(opml))) as lib:
        writer = lib._open_index()._writer(5)
        try:
            command = ["--data-dir", str(home), "--opml", str(opml), "fetch", "--json"]
            result = subprocess.run(
                [sys.executable, "-m", "aggregator", *command],
                capture_output=True,
                text=True,
                env={**os.environ, "AGGREGATOR_INDEX_LOCK_WAIT": "1"},
                timeout=60,
            )
        finally:
            writer.cancel()
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["new"] == 1
        assert "being written by another aggregator" in report["index_error"]
        assert lib.update_index(wait_s=5) == 1  # queued, not lost
        assert [h.title for h in lib.search("okapi").hits] == ["Okapi sighting"]
