"""Entry rows and their flags."""

from __future__ import annotations

from aggregator.store.database import Database


class EntryRows(Database):
    def entry_totals(self) -> tuple[int, int, int]:
        """(entries, unread, starred) across the library."""
        with self._read() as conn:
            entries = conn.execute("SELECT count(*) FROM entry").fetchone()[0]
            read, starred = conn.execute(
                "SELECT count(*) FILTER (WHERE read = 1), count(*) FILTER (WHERE starred = 1) "
                "FROM entry_flags"
            ).fetchone()
        return entries, entries - read, starred
