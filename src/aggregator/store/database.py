"""Opening the library's SQLite file safely: version check, migrations, one connection a thread."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.errors import StoreError, StoreVersionError
from aggregator.store.schema import MIGRATIONS, SCHEMA_VERSION

BUSY_TIMEOUT_S = 30.0
WAIT_TURN_MS = 100
"""How long one turn of waiting for another writer lasts: a Ctrl-C is seen between turns."""


def to_db(value: datetime | None) -> str | None:
    """UTC, second precision, fixed width: sorts and compares correctly as text."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db(value: str | None) -> datetime | None:
    """`to_db`'s text back (fromisoformat, in C: strptime took half of listing 100k rows)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def select_in(
    conn: sqlite3.Connection, sql: str, values: Sequence[object], before: Sequence[object] = ()
) -> list[tuple[Any, ...]]:
    """Rows of `sql`, whose `IN ({marks})` takes `values` a slice at a time.

    SQLite caps the parameters of one statement; every look-up of a list of ids goes here.
    All rows are read before it returns: a generator left half-read by a Ctrl-C was finished
    only after the library closed, and printed a traceback about a closed database.
    """
    values = list(values)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        rows += conn.execute(
            sql.replace("{marks}", ",".join("?" * len(chunk))), [*before, *chunk]
        ).fetchall()
    return rows


def now_db() -> str:
    return to_db(datetime.now(UTC))  # type: ignore[return-value]


class Database:
    """The file and its connections; the row-level methods live in the mixins of `Store`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._give_up = threading.Event()
        self._waiting = threading.Condition()
        self._waiters = 0
        self._conn()  # open, check the version, migrate: fail now, not halfway through a command

    def stop_waiting(self) -> None:
        """From any thread: writers waiting for another program to let go of the library give
        up at their next turn (a StoreError), as a Ctrl-C stops the thread that saw it only."""
        self._give_up.set()

    def resume_waiting(self) -> None:
        self._give_up.clear()

    @contextmanager
    def waiting_at_most(self, seconds: float | None) -> Iterator[None]:
        """Writes of this thread meanwhile wait at most `seconds` for another writer (not
        BUSY_TIMEOUT_S; None: as they would): for a write that can be left to the next run,
        made by a command that should not stall for it (a search catching the index up)."""
        before = getattr(self._local, "wait_s", None)
        self._local.wait_s = before if seconds is None else seconds
        try:
            yield
        finally:
            self._local.wait_s = before

    def _wait_s(self) -> float:
        wait_s = getattr(self._local, "wait_s", None)
        return BUSY_TIMEOUT_S if wait_s is None else wait_s

    def close(self) -> None:
        """Close every connection, once the threads waiting to write on them have given up:
        one closed under a thread still using it crashed the program (Ctrl-C in a fetch
        while another program held the library)."""
        self._give_up.set()
        with self._waiting:
            self._waiting.wait_for(lambda: not self._waiters, timeout=5 * WAIT_TURN_MS / 1000)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        self._give_up.clear()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}", path=str(self.path)) from None
        try:
            self._check_version(conn)
            _switch_to_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._error(exc) from None
        except StoreError:
            conn.close()
            raise
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        # Read-only checks come first: a file we must refuse is never written to, not even
        # by switching it to WAL.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} was written by a newer aggregator (schema {version}, this one "
                f"knows {SCHEMA_VERSION}); upgrade aggregator to use it. The file was not touched.",
                path=str(self.path),
            )
        if version == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(
                    f"{self.path} is an SQLite file but not an aggregator library; "
                    "it was not touched",
                    path=str(self.path),
                )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see it done
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[step]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if _busy(exc):
            return StoreError(
                f"{self.path} is busy: another aggregator held it for over {self._wait_s():g} s",
                path=str(self.path),
            )
        if isinstance(exc, sqlite3.DatabaseError) and (
            "not a database" in text or "malformed" in text or "corrupt" in text
        ):
            return StoreError(
                f"{self.path} is damaged ({text}); move it aside (or restore a backup) and run "
                "again to start a new library",
                path=str(self.path),
            )
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return StoreError(
                f"{self.path}: the disk is full; nothing of this change was stored (free some "
                "space and run again)",
                path=str(self.path),
            )
        return StoreError(f"{self.path}: {text}", path=str(self.path))

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting for another writer in short turns: SQLite's own wait is
        one call that a Ctrl-C cannot end (Python sees the signal only when it returns), so a
        Ctrl-C while another program held the library took the whole busy timeout to stop.
        Between turns, `stop_waiting` is heeded too (threads other than the one Ctrl-C
        reached)."""
        deadline = time.monotonic() + self._wait_s()
        with self._waiting:
            self._waiters += 1
        try:
            conn.execute(f"PRAGMA busy_timeout = {WAIT_TURN_MS}")
            try:
                while True:
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        return
                    except sqlite3.OperationalError as exc:
                        if not _busy(exc) or time.monotonic() >= deadline:
                            raise
                        if self._give_up.is_set():
                            raise StoreError(
                                f"{self.path} is busy (another aggregator holds it); "
                                "stopped waiting",
                                path=str(self.path),
                            ) from None
            finally:
                conn.execute(f"PRAGMA busy_timeout = {round(BUSY_TIMEOUT_S * 1000)}")
        finally:
            with self._waiting:
                self._waiters -= 1
                self._waiting.notify_all()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; rolled back whole if anything in it fails."""
        conn = self._conn()
        try:
            self._begin(conn)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            # SQLite rolls back by itself on some errors (a full disk): a ROLLBACK then
            # fails too, and its "no transaction is active" would hide what went wrong.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from None
            raise


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """SQLite does not wait out its busy timeout for this switch: while another aggregator
    creates a new library, it would fail at once, so the wait is here."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _statements(script: str) -> Iterator[str]:
    """Split a script into statements (trigger bodies hold semicolons of their own)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        yield pending.strip()
