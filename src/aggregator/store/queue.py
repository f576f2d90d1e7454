"""The index change queue: written by triggers with every entry change, drained by the index."""

from __future__ import annotations

from aggregator.store.database import Database


class QueueRows(Database):
    def pending_index_count(self) -> int:
        """Entries whose latest change the index has not applied yet."""
        with self._read() as conn:
            return conn.execute("SELECT count(DISTINCT entry_id) FROM index_queue").fetchone()[0]

    def unindexed_entry_count(self) -> int:
        """Stored entries with a change still queued (deleted ones are not counted)."""
        with self._read() as conn:
            return conn.execute(
                "SELECT count(DISTINCT q.entry_id) FROM index_queue AS q "
                "JOIN entry AS e ON e.id = q.entry_id"
            ).fetchone()[0]
