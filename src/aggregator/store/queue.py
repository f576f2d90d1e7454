"""The index change queue: written by triggers with every entry change, drained by the index."""

from __future__ import annotations

from aggregator.store.database import Database, select_in


class QueueRows(Database):
    def pending_index_count(self) -> int:
        """Entries whose latest change the index has not applied yet."""
        with self._read() as conn:
            return conn.execute("SELECT count(DISTINCT entry_id) FROM index_queue").fetchone()[0]

    def unindexed_entry_count(self, after: int = 0) -> int:
        """Stored entries with a change queued after row `after` (deleted ones are not
        counted)."""
        with self._read() as conn:
            return conn.execute(
                "SELECT count(DISTINCT q.entry_id) FROM index_queue AS q "
                "JOIN entry AS e ON e.id = q.entry_id WHERE q.seq > ?",
                (after,),
            ).fetchone()[0]

    def queued_deletions(self) -> set[str]:
        """Entries removed from the library whose removal the index has not applied yet (its
        writer busy elsewhere): a search leaves them out of its hits, totals and counts."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT DISTINCT q.entry_id FROM index_queue AS q "
                "LEFT JOIN entry AS e ON e.id = q.entry_id WHERE e.id IS NULL"
            )
            return {eid for (eid,) in rows}

    def queued_changes(self, limit: int) -> tuple[int, list[str], list[str]]:
        """The oldest queued changes: (last seq covered, ids to (re)index, ids to delete).

        An entry queued several times counts once; whether it is indexed or deleted depends
        on whether it still exists, not on the order of its queue rows.
        """
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, entry_id FROM index_queue ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
            if not rows:
                return 0, [], []
            ids = list(dict.fromkeys(eid for _, eid in rows))
            sql = "SELECT id FROM entry WHERE id IN ({marks})"
            present = {r[0] for r in select_in(conn, sql, ids)}
        upserts = [i for i in ids if i in present]
        deletes = [i for i in ids if i not in present]
        return rows[-1][0], upserts, deletes

    def queued_entry(self, seq: int) -> str | None:
        """The entry the queue row `seq` names, while it is queued."""
        with self._read() as conn:
            row = conn.execute("SELECT entry_id FROM index_queue WHERE seq = ?", (seq,))
            return (row.fetchone() or (None,))[0]

    def mark_indexed(self, last_seq: int, mark: str) -> None:
        """The index holds every change up to `last_seq`: drop those queue rows, and keep
        the index's new `mark` with them."""
        with self._write() as conn:
            conn.execute("DELETE FROM index_queue WHERE seq <= ?", (last_seq,))
            conn.execute("UPDATE library SET indexed = ?", (mark,))

    def last_queued(self) -> int:
        """The newest queue row's seq (0 when the queue is empty): what a rebuild that reads
        every entry from now on covers, and may mark done when it is committed."""
        with self._read() as conn:
            return conn.execute("SELECT coalesce(max(seq), 0) FROM index_queue").fetchone()[0]

    def index_mark(self) -> tuple[str, str]:
        """(this library's identity, the mark its index was last told it holds: '' before
        any), for telling whether an index is of this library as it is now."""
        with self._read() as conn:
            return conn.execute("SELECT id, indexed FROM library").fetchone()

    def entry_ids(self) -> list[str]:
        """Every stored entry's id, in the order they were stored."""
        with self._read() as conn:
            return [eid for (eid,) in conn.execute("SELECT id FROM entry ORDER BY rowid")]

    def requeue_everything(self, mark: str) -> int:
        """Queue every entry for a new, empty index, which holds the library as of `mark`;
        returns how many."""
        with self._write() as conn:
            conn.execute("DELETE FROM index_queue")
            conn.execute("INSERT INTO index_queue (entry_id, op) SELECT id, 'upsert' FROM entry")
            queued = conn.execute("SELECT changes()").fetchone()[0]
            conn.execute("UPDATE library SET indexed = ?", (mark,))
            return queued
