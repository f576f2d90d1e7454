"""The SQLite store: schema versions, refusal of files it must not touch, the change queue."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator.errors import EntryNotFoundError, StoreError, StoreVersionError
from aggregator.models import EntryDraft, Source, View
from aggregator.store import Store
from aggregator.store.database import from_db, select_in, to_db
from aggregator.store.schema import MIGRATIONS, SCHEMA_VERSION

FEED = "https://feed.example/rss"


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "library.sqlite3")
    s.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    yield s
    s.close()


def queue(store: Store) -> list[tuple[str, str]]:
    with store._read() as conn:
        return conn.execute("SELECT entry_id, op FROM index_queue ORDER BY seq").fetchall()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_library_is_wal_at_the_current_version(tmp_path: Path):
    Store.open(tmp_path / "lib.sqlite3").close()
    conn = sqlite3.connect(tmp_path / "lib.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_second_aggregator_waits_while_the_first_creates_the_library(tmp_path: Path):
    """Switching to WAL needs the file to itself, and SQLite does not wait for that: a
    second process opening a new library while the first wrote its schema failed at once,
    claiming a 30 s wait."""
    path = tmp_path / "lib.sqlite3"
    first = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    first.execute("BEGIN IMMEDIATE")
    first.execute("CREATE TABLE being_created (x)")  # as a first process's migration would
    releaser = threading.Timer(0.5, lambda: first.execute("ROLLBACK"))
    releaser.start()
    try:
        Store.open(path).close()  # waits for the first, then finds the schema to create
    finally:
        releaser.join()
        first.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_library_is_refused_and_left_untouched(tmp_path: Path):
    path = tmp_path / "lib.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreVersionError, match="newer aggregator") as info:
        Store.open(path)
    assert info.value.exit_code == 2
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib.sqlite3"]  # no -wal, no -shm


@pytest.mark.parametrize(
    "content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_a_damaged_file_is_a_clear_error_and_left_untouched(tmp_path: Path, content: bytes):
    path = tmp_path / "lib.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        Store.open(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert path.read_bytes() == content


def test_another_programs_sqlite_file_is_refused(tmp_path: Path):
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(StoreError, match="not an aggregator library"):
        Store.open(path)
    assert digest(path) == before


def test_migration_runs_once_and_reopening_is_harmless(tmp_path: Path):
    path = tmp_path / "lib.sqlite3"
    Store.open(path).close()
    again = Store.open(path)
    again.close()


def draft(guid: str, **fields) -> EntryDraft:
    return EntryDraft(guid=guid, title=fields.pop("title", f"Title {guid}"), **fields)


def test_a_version_1_library_is_migrated_and_keeps_its_entries(tmp_path: Path):
    """Version 2 puts the id in `entry_by_source` (per-source counts read that index alone)
    and adds `entry_by_date` (see the next test)."""
    path = tmp_path / "lib.sqlite3"
    store = Store.open(path)
    store.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    store.upsert_entries(FEED, [draft("a"), draft("b")])
    store.close()
    conn = sqlite3.connect(path)  # as version 1 left it
    conn.executescript(
        """DROP INDEX entry_by_date; DROP INDEX entry_by_source;
           CREATE INDEX entry_by_source ON entry (source_url, published DESC);
           ALTER TABLE entry DROP COLUMN enclosures;"""
        + BEFORE_11
        + "PRAGMA user_version = 1;"
    )
    conn.close()
    store = Store.open(path)
    assert {row.title for row in store.list_entries(View())} == {"Title a", "Title b"}
    assert store.source_counts() == {FEED: (2, 2)}
    assert len(store.index_mark()[0]) == 32  # an identity of its own, for its index
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    sql = "SELECT source_url, count(id) FROM entry GROUP BY source_url"
    plan = " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
    assert "COVERING INDEX entry_by_source" in plan
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "entry_by_date" in names


BEFORE_11 = (
    "DROP TRIGGER entry_changed; ALTER TABLE entry DROP COLUMN feed_html;"
    "ALTER TABLE entry DROP COLUMN feed_text; ALTER TABLE entry DROP COLUMN article_url;"
    + re.search(r"CREATE TRIGGER entry_changed.*?END;", MIGRATIONS[0], re.S)[0]
)
"""What schema 11 added, taken away: a library as version 10 left it."""


def _mark_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    if version < 5:
        conn.execute("ALTER TABLE entry DROP COLUMN enclosures")
    if version < 11:
        conn.executescript(BEFORE_11)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("before", "wrong", "right"),
    [
        pytest.param(  # version 4: an image inside a link was kept as a link inside a link
            3,
            ("", "[[image: comic](https://x.example/i.png)](https://x.example/c)"),
            ("", "[image: chart](https://x.example/c.png)"),
            id="link-in-a-link",
        ),
        pytest.param(  # version 6: a `|` in a table's cell split the cell
            5,
            ("<table><tr><td>a | b</td></tr></table>", "| a | b |\n| --- |"),
            ("<p>a | b</p>", "a | b"),  # no table: kept
            id="bar-in-a-cell",
        ),
        pytest.param(  # version 8: text that spelled a tag was kept bare: raw HTML
            7,
            ("<p>&lt;img src=x onerror=alert(1)&gt;</p>", "<img src=x onerror=alert(1)>"),
            ("<p>a &gt; b</p>", "a > b"),
            id="spelled-tag",
        ),
        pytest.param(  # version 10: line breaks, list numbers, text read as a list, …
            9,
            ("<p>1984. Roses<br>red</p>", "1984. Roses red"),
            ("<p>plain</p>", "plain"),
            id="line-starts-and-breaks",
        ),
        pytest.param(  # version 11: a caption above its table; lists in a row kept apart
            10,
            ("<ol><li>a</li></ol><ol><li>b</li></ol>", "1. a\n\n2. b"),
            ("<ol><li>a</li></ol><p>x</p>", "1. a\n\nx"),
            id="lists-in-a-row",
        ),
    ],
)
def test_a_version_drops_markdown_made_wrong_before_it(
    tmp_path: Path, before: int, wrong: tuple[str, str], right: tuple[str, str]
):
    path = tmp_path / "lib.sqlite3"
    store = Store.open(path)
    store.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    store.upsert_entries(FEED, [draft("a", html=wrong[0]), draft("b", html=right[0])])
    a, b = (row[0] for row in queue(store))
    store.set_markdown(a, wrong[1])
    store.set_markdown(b, right[1])
    store.close()
    _mark_version(path, before)  # as that version left it
    store = Store.open(path)
    assert store.entry(a).markdown == ""  # made again on the next read
    assert store.entry(b).markdown == right[1]
    store.close()


def test_version_11_tells_a_kept_article_from_a_post_and_forgets_stale_validators(
    tmp_path: Path,
):
    """Version 10 left entries waiting for their page that held an article kept while their
    post changed, with or without the page's validators, and entries back to the feed's
    content whose validators outlived the article (review)."""
    path = tmp_path / "lib.sqlite3"
    store = Store.open(path)
    store.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    rows = {
        "kept": ("pending", "<p>The article, kept.</p>", '"a1"'),
        "kept-bare": ("pending", "<p>The article, kept.</p>", None),
        "teaser": ("pending", '<base href="https://x.example/">Teaser.', '"a2"'),
        "whole": ("feed", '<base href="https://x.example/">All of it.', '"a3"'),
        "kept-teaser": ("full", '<base href="https://x.example/">Teaser.', '"a4"'),
    }
    store.upsert_entries(FEED, [draft(guid) for guid in rows])
    store.close()
    conn = sqlite3.connect(path)
    for guid, (state, html, etag) in rows.items():
        conn.execute(
            "UPDATE entry SET full_text = ?, content_html = ?, article_etag = ? WHERE guid = ?",
            (state, html, etag, guid),
        )
    conn.commit()
    conn.close()
    _mark_version(path, 10)  # as that version left it
    store = Store.open(path)
    with store._read() as c:
        found = dict(c.execute("SELECT guid, feed_html FROM entry").fetchall())
        etags = c.execute("SELECT count(*) FROM entry WHERE article_etag IS NOT NULL")
        assert etags.fetchone()[0] == 0  # each waiting page is fetched whole once
    assert found == {
        "kept": "",
        "kept-bare": "",
        "teaser": None,
        "whole": None,
        "kept-teaser": None,
    }
    with store._read() as c:  # the teaser kept as if whole waits for its page
        states = dict(c.execute("SELECT guid, full_text FROM entry").fetchall())
    assert states["kept-teaser"] == "pending"
    store.close()


def test_version_7_makes_again_entries_whose_html5_sections_were_lost(tmp_path: Path):
    """Their text was lost when stored (see test_feed_content_in_html5_sections_is_kept):
    their feeds are read whole again, and the entries count as changed."""
    path = tmp_path / "lib.sqlite3"
    store = Store.open(path)
    store.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    html5 = '<base href="https://x.example/"><section><p>lost</p></section>'
    drafts = [draft("a", html=html5), draft("b", html="<p>kept</p>")]
    store.record_success(FEED, drafts, etag='"v1"', last_modified=None)
    assert store.source_states()[FEED].etag == '"v1"'
    store.close()
    _mark_version(path, 6)  # as that version left it
    store = Store.open(path)
    counts = store.upsert_entries(FEED, drafts)
    assert (counts.updated, counts.unchanged) == (1, 1)
    assert store.source_states()[FEED].etag is None
    store.close()


def test_version_3_drops_markdown_made_before_brackets_were_escaped(tmp_path: Path):
    path = tmp_path / "lib.sqlite3"
    store = Store.open(path)
    store.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    store.upsert_entries(FEED, [draft("a", html="<p>[x](javascript:alert(1))</p>")])
    (eid,) = [row[0] for row in queue(store)]
    store.set_markdown(eid, "[x](javascript:alert(1))")  # as an older version cached it
    queued = queue(store)
    store.close()
    _mark_version(path, 2)  # as that version left it
    store = Store.open(path)
    assert store.entry(eid).markdown == ""  # made again, escaped, on the next read
    assert queue(store) == queued  # nothing to index again
    store.close()


def test_rows_looked_up_by_a_list_do_not_need_the_connection_after(tmp_path: Path):
    """A Ctrl-C in `reindex` left a look-up generator half-read; it was finished after the
    library closed and printed a traceback ("Cannot operate on a closed database")."""
    conn = sqlite3.connect(tmp_path / "t.sqlite3")
    conn.execute("CREATE TABLE t (id INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(1200)])
    rows = select_in(conn, "SELECT id FROM t WHERE id IN ({marks})", range(0, 1200, 2))
    conn.close()
    assert [r[0] for r in rows] == list(range(0, 1200, 2))  # three slices, all read


def test_entries_upsert_counts_and_the_queue_follows_in_the_same_transaction(store: Store):
    counts = store.upsert_entries(FEED, [draft("a"), draft("b")])
    assert (counts.new, counts.updated, counts.unchanged) == (2, 0, 0)
    assert [op for _, op in queue(store)] == ["upsert", "upsert"]
    counts = store.upsert_entries(FEED, [draft("a"), draft("b", title="Changed")])
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 1)
    assert len(queue(store)) == 3  # only the changed one was queued again
    assert store.pending_index_count() == 2


def test_a_failed_transaction_leaves_neither_entry_nor_queue_row(store: Store):
    store.upsert_entries(FEED, [draft("a")])
    before = queue(store)
    with pytest.raises(RuntimeError), store._write() as conn:
        conn.execute(
            "INSERT INTO entry (id, source_url, guid, first_seen, last_seen) VALUES ('x', ?, 'x', '', '')",
            (FEED,),
        )
        raise RuntimeError("crash before commit")
    assert queue(store) == before
    with pytest.raises(EntryNotFoundError):
        store.entry("x")


def test_flags_do_not_touch_the_queue(store: Store):
    store.upsert_entries(FEED, [draft("a"), draft("b")])
    ids = [row[0] for row in queue(store)]
    before = queue(store)
    store.set_flags(ids[:1], read=True)
    store.set_flags(ids, starred=True)
    assert queue(store) == before
    a, b = store.entry(ids[0]), store.entry(ids[1])
    assert (a.read, a.starred, b.read, b.starred) == (True, True, False, True)
    assert store.entry_totals() == (2, 1, 2)


def test_renaming_a_source_requeues_its_entries_and_deleting_queues_deletes(store: Store):
    store.upsert_entries(FEED, [draft("a"), draft("b")])
    store.sync_sources([Source(url=FEED, title="Renamed", category="Medicine")])
    assert len(queue(store)) == 4
    assert store.delete_source(FEED) == (2, 0)
    assert [op for _, op in queue(store)][-2:] == ["delete", "delete"]
    assert store.entry_totals() == (0, 0, 0)


def test_entry_round_trip(store: Store):
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    store.upsert_entries(
        FEED,
        [
            draft(
                "g",
                url="https://x.example/a",
                author="Ana",
                published=when,
                summary="s",
                html="<h1>m</h1>",
                text="m",
                full_text="partial",
            )
        ],
    )
    eid = queue(store)[0][0]
    entry = store.entry(eid)
    assert (entry.url, entry.author, entry.published, entry.html, entry.text) == (
        "https://x.example/a",
        "Ana",
        when,
        "<h1>m</h1>",
        "m",
    )
    assert entry.partial and entry.source_title == "Feed" and entry.category == "Medicine"
    assert store.entries_by_id([eid, "nope"]).keys() == {eid}


def test_an_entry_of_a_source_with_no_title_in_the_list_names_it_as_the_feed_does(tmp_path):
    """The reader showed the feed's address where the list and the sidebar show its name."""
    store = Store.open(tmp_path / "library.sqlite3")
    try:
        store.sync_sources([Source(url=FEED, category="Medicine")])  # no title in the list
        store.record_success(
            FEED, [draft("g")], etag=None, last_modified=None, feed_title="Scripting News"
        )
        (row,) = store.list_entries(View())
        assert row.source == "Scripting News"
        assert store.entry(row.id).source_title == "Scripting News"
    finally:
        store.close()


def test_a_source_removed_with_a_starred_entry_kept_forgets_its_validators(store: Store):
    """Added again, it sent its old ETag, was answered 304, and never got the entries its
    removal deleted back."""
    store.record_success(FEED, [draft("a"), draft("b")], etag='"1"', last_modified="Mon")
    starred = store.list_entries(View())[0].id
    store.set_flags([starred], starred=True)
    assert store.delete_source(FEED, keep_starred=True) == (1, 1)
    state = store.source_states()[FEED]
    assert (state.etag, state.last_modified) == (None, None)


def test_sources_gone_from_the_list_are_unlisted_not_deleted(store: Store):
    store.upsert_entries(FEED, [draft("a")])
    store.sync_sources([])
    assert store.entry_totals()[0] == 1
    assert store.source_counts()[FEED] == (1, 1)


def test_stored_times_read_back_as_the_same_utc_instant():
    """Times are kept as fixed-width UTC text; reading them gives aware UTC datetimes."""
    cet = timezone(timedelta(hours=1))
    for value in (
        datetime(2024, 5, 23, 16, 0, 7, tzinfo=UTC),
        datetime(2024, 5, 23, 17, 0, 7, tzinfo=cet),
        datetime(2024, 5, 23, 16, 0, 7),  # naive: taken as UTC
    ):
        text = to_db(value)
        assert text == "2024-05-23T16:00:07Z"
        back = from_db(text)
        assert back == datetime(2024, 5, 23, 16, 0, 7, tzinfo=UTC) and back.tzinfo is UTC
    assert from_db(None) is None and from_db("") is None


def test_a_screenful_of_the_list_is_read_in_order_from_an_index(store: Store):
    """The first rows of a list walk `entry_by_date` and stop; a whole list is read in table
    order and sorted (through the index every row would be a random read)."""
    store.upsert_entries(FEED, [draft(str(i)) for i in range(5)])
    conn = store._conn()
    executed: list[str] = []
    conn.set_trace_callback(executed.append)
    try:
        assert len(store.list_entries(View(), limit=3)) == 3
        assert len(store.list_entries(View())) == 5
    finally:
        conn.set_trace_callback(None)
    screenful, whole = [sql for sql in executed if sql.lstrip().startswith("SELECT e.id")]

    def plan(sql: str) -> str:
        return " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql))

    assert "entry_by_date" in plan(screenful) and "TEMP B-TREE" not in plan(screenful)
    assert "entry_by_date" not in plan(whole)


def test_a_full_disk_is_said_plainly_and_changes_nothing(tmp_path: Path):
    """Found by a QA pass: on a full disk SQLite rolls the transaction back itself, and the
    ROLLBACK after it failed with "cannot rollback - no transaction is active": an
    internal error that hid the real cause. (A page limit makes the database "full".)"""
    store = Store.open(tmp_path / "lib.sqlite3")
    store.sync_sources([Source(url=FEED, title="Feed", category="Medicine")])
    store.upsert_entries(FEED, [draft("kept")])
    conn = store._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [draft(f"big{i}", html="<p>" + "word " * 20_000 + "</p>") for i in range(5)]
    with pytest.raises(StoreError, match="the disk is full; nothing of this change was stored"):
        store.upsert_entries(FEED, big)
    assert store.entry_totals()[0] == 1  # what was stored before is all there is
    store.close()


def test_ctrl_c_while_another_program_holds_the_library_stops_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """SQLite waited out the whole busy timeout in one call, which a Ctrl-C cannot end: the
    command stopped only 30 s later (QA). The wait is now in turns of WAIT_TURN_MS."""
    import signal
    import time

    from aggregator.store import database

    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 20.0)
    store = Store.open(tmp_path / "lib.sqlite3")
    store.sync_sources([Source(url=FEED, title="Feed")])
    holder = sqlite3.connect(tmp_path / "lib.sqlite3")
    holder.execute("BEGIN IMMEDIATE")

    def ctrl_c(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, ctrl_c)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            store.upsert_entries(FEED, [draft("a")])
        assert time.monotonic() - started < 10  # not the 20 s timeout
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        holder.rollback()
        holder.close()
    assert store.upsert_entries(FEED, [draft("a")]).new == 1  # and the library still works
    store.close()


def test_closing_the_library_while_a_thread_waits_to_write_is_an_error_there_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from aggregator.store import database

    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 20.0)
    store = Store.open(tmp_path / "lib.sqlite3")
    store.sync_sources([Source(url=FEED, title="Feed")])
    holder = sqlite3.connect(tmp_path / "lib.sqlite3")
    holder.execute("BEGIN IMMEDIATE")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.upsert_entries(FEED, [draft("a")])
        except StoreError as exc:
            errors.append(exc)

    waiting = threading.Thread(target=write)
    waiting.start()
    import time

    time.sleep(0.3)
    store.close()
    waiting.join(5)
    holder.rollback()
    holder.close()
    assert not waiting.is_alive()
    assert len(errors) == 1 and "busy" in str(errors[0])
