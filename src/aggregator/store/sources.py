"""Source rows: the store's mirror of the OPML list, and each source's fetch state."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aggregator.errors import SourceNotFoundError
from aggregator.models import EntryDraft, Source, SourceState
from aggregator.store.database import Database, from_db, now_db, select_in, to_db
from aggregator.store.entries import EntryRows, UpsertCounts


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed attempt, recorded at the end of a run (so an offline run can record none)."""

    url: str
    error: str
    next_attempt: datetime | None
    gone: bool = False
    attempted_at: datetime | None = None


class SourceRows(EntryRows, Database):
    def listed_sources(self) -> list[Source]:
        """The sources as the list last read had them (address, title, topic; in the order
        they were first listed): what the library shows while the list cannot be read."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT url, title, category FROM source WHERE listed = 1 ORDER BY rowid"
            ).fetchall()
        return [Source(url=url, title=title, category=category) for url, title, category in rows]

    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Mirror the OPML list: new sources added, titles and categories kept current.

        Sources gone from the list are marked unlisted, not deleted: their entries stay
        readable until the user removes the source on purpose. Writes only what changed,
        so opening the library for a search costs no write transaction.
        """
        wanted = {s.url: (s.title, s.category) for s in sources}
        with self._read() as conn:
            rows = conn.execute("SELECT url, title, category, listed FROM source").fetchall()
        have = {url: (title, category, listed) for url, title, category, listed in rows}
        changes = [
            (url, title, category)
            for url, (title, category) in wanted.items()
            if have.get(url) != (title, category, 1)
        ]
        dropped = [url for url, (_, _, listed) in have.items() if listed and url not in wanted]
        if not changes and not dropped:
            return
        stamp = now_db()
        with self._write() as conn:
            conn.executemany(
                """INSERT INTO source (url, title, category, listed, added_at)
                   VALUES (?, ?, ?, 1, ?)
                   ON CONFLICT (url) DO UPDATE SET
                     title = excluded.title, category = excluded.category, listed = 1""",
                [(url, title, category, stamp) for url, title, category in changes],
            )
            conn.executemany("UPDATE source SET listed = 0 WHERE url = ?", [(u,) for u in dropped])

    def delete_source(
        self, url: str, *, keep_starred: bool = False, then: Callable[[], None] | None = None
    ) -> tuple[int, int]:
        """Delete a source's entries and state; returns (entries deleted, starred kept).

        With `keep_starred`, starred entries stay, under the source marked unlisted (as a
        source gone from the list is): a star is the user's "keep this". `then` runs before
        the deletion is committed, which it undoes by failing (the list file not written).
        """
        spared = " AND id NOT IN (SELECT entry_id FROM entry_flags WHERE starred = 1)"
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM entry WHERE source_url = ?" + (spared if keep_starred else ""), (url,)
            ).rowcount
            count = conn.execute("SELECT count(*) FROM entry WHERE source_url = ?", (url,))
            kept = count.fetchone()[0]
            if kept:  # its validators go: added again, the feed must be read whole
                conn.execute(
                    """UPDATE source SET listed = 0, etag = NULL, last_modified = NULL,
                         failures = 0, last_error = NULL, next_attempt = NULL WHERE url = ?""",
                    (url,),
                )
            else:
                conn.execute("DELETE FROM source WHERE url = ?", (url,))
            if then is not None:
                then()
        return removed, kept

    def unlisted_sources(self) -> list[Source]:
        """The sources the library holds that the list no longer has, oldest first, with
        their own titles (a name from the feed is the caller's to add: `Source.named`)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT url, title, category FROM source WHERE listed = 0 ORDER BY rowid"
            ).fetchall()
        return [Source(url=url, title=title, category=category) for url, title, category in rows]

    def record_success(
        self,
        url: str,
        drafts: Sequence[EntryDraft],
        *,
        etag: str | None,
        last_modified: str | None,
        moved_to: str | None = None,
        feed_title: str = "",
        site_url: str = "",
        update: bool = True,
    ) -> UpsertCounts:
        """A fetched source: its entries and its new state in one transaction.

        The validators (ETag, Last-Modified) are saved only together with the entries, so a
        crash can never leave a validator that would make the next run skip unsaved entries.
        `update=False` adds new entries and leaves stored ones as they are.
        """
        stamp = now_db()
        with self._write() as conn:
            # The state first: a source removed while it was fetched (no row now) stores
            # nothing, and says so, rather than failing on its entries' foreign key.
            updated = conn.execute(
                """UPDATE source SET etag = ?, last_modified = ?, last_attempt = ?,
                     last_success = ?, last_error = NULL, failures = 0, next_attempt = NULL,
                     moved_to = ?, gone = 0,
                     feed_title = CASE WHEN ? != '' THEN ? ELSE feed_title END,
                     site_url = CASE WHEN ? != '' THEN ? ELSE site_url END
                   WHERE url = ?""",
                (
                    etag,
                    last_modified,
                    stamp,
                    stamp,
                    moved_to,
                    feed_title,
                    feed_title,
                    site_url,
                    site_url,
                    url,
                ),
            )
            if not updated.rowcount:
                raise SourceNotFoundError(url)
            return self._upsert(conn, url, drafts, update=update)

    def record_not_modified(self, sources: Iterable[tuple[str, str | None]]) -> None:
        """Sources that answered 304, as (url, new address or None), in one transaction."""
        stamp = now_db()
        rows = [(stamp, stamp, moved_to, url) for url, moved_to in sources]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                """UPDATE source SET last_attempt = ?, last_success = ?, last_error = NULL,
                     failures = 0, next_attempt = NULL, gone = 0,
                     moved_to = COALESCE(?, moved_to)
                   WHERE url = ?""",
                rows,
            )

    def record_failures(self, failures: Iterable[Failure]) -> None:
        rows = [
            (to_db(f.attempted_at) or now_db(), f.error, to_db(f.next_attempt), int(f.gone), f.url)
            for f in failures
        ]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                """UPDATE source SET last_attempt = ?, last_error = ?, failures = failures + 1,
                     next_attempt = ?, gone = ?
                   WHERE url = ?""",
                rows,
            )

    def record_attempts(self, urls: Iterable[str]) -> None:
        """Note an attempt that changes nothing else (a run that found itself offline)."""
        stamp = now_db()
        with self._write() as conn:
            conn.executemany(
                "UPDATE source SET last_attempt = ? WHERE url = ?", [(stamp, u) for u in urls]
            )

    def source_titles(self, urls: Sequence[str]) -> dict[str, str]:
        """The name to show for each source URL (its list title, else the feed's own)."""
        sql = (
            "SELECT url, COALESCE(NULLIF(title, ''), NULLIF(feed_title, ''), url) "
            "FROM source WHERE url IN ({marks})"
        )
        with self._read() as conn:
            return dict(select_in(conn, sql, urls))

    def source_states(self) -> dict[str, SourceState]:
        with self._read() as conn:
            rows = conn.execute(
                """SELECT url, etag, last_modified, last_attempt, last_success, last_error,
                          failures, next_attempt, moved_to, gone, feed_title, site_url
                   FROM source"""
            ).fetchall()
        return {row[0]: _state(row) for row in rows}

    def source_counts(self) -> dict[str, tuple[int, int]]:
        """Entries and unread entries per source URL."""
        with self._read() as conn:
            rows = conn.execute(
                """SELECT e.source_url, count(*), count(*) - count(f.entry_id)
                   FROM entry AS e
                   LEFT JOIN entry_flags AS f ON f.entry_id = e.id AND f.read = 1
                   GROUP BY e.source_url"""
            ).fetchall()
        return {url: (entries, unread) for url, entries, unread in rows}


def _state(row: sqlite3.Row | tuple) -> SourceState:
    url, etag, modified, attempt, success, error, failures, next_try, moved, gone, title, site = row
    return SourceState(
        url=url,
        etag=etag,
        last_modified=modified,
        last_attempt=from_db(attempt),
        last_success=from_db(success),
        last_error=error,
        failures=failures,
        next_attempt=from_db(next_try),
        moved_to=moved,
        gone=bool(gone),
        feed_title=title,
        site_url=site,
    )
