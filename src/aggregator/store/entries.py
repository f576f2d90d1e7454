"""Entry rows and their flags."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aggregator.errors import EntryNotFoundError
from aggregator.models import FIRST_WORDS, Enclosure, Entry, EntryDraft, EntryRow, IndexDoc, View
from aggregator.store.database import Database, from_db, now_db, select_in, to_db


def entry_id(source_url: str, guid: str) -> str:
    """Stable, short (12 hex digits) and the same on every machine for the same item."""
    return hashlib.blake2b(f"{source_url}\n{guid}".encode(), digest_size=6).hexdigest()


def fingerprint(draft: EntryDraft) -> str:
    if draft.fingerprint:
        return draft.fingerprint
    parts = (
        draft.url,
        draft.title,
        draft.author,
        to_db(draft.published) or "",
        to_db(draft.updated) or "",
        draft.summary,
        draft.html,
        draft.text,
    )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingArticle:
    entry_id: str
    url: str
    attempts: int
    chars: int
    """Length of the text the entry holds now (the feed's teaser, or an earlier article;
    without a post kept beside it)."""
    etag: str | None
    last_modified: str | None
    post_html: str
    """The feed's own post: what a link blog says about the page (or a teaser of it)."""
    title: str
    article_text: str
    """The text of the article the entry holds, if it holds one (to judge its post by
    when the page answers 304)."""


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    new: int
    updated: int
    unchanged: int


_TEXT = """CASE WHEN e.feed_text = '' THEN e.content_text
    ELSE e.feed_text || char(10) || char(10) || e.content_text END"""
"""An entry's text to search: a link post's words and the article's."""
_ENTRY_COLUMNS = f"""e.id, e.source_url, e.guid, e.url, e.canonical_url, e.title, e.author,
    e.published, e.updated, e.summary, e.content_html, e.content_markdown, {_TEXT},
    e.full_text,
    COALESCE(f.read, 0), COALESCE(f.starred, 0), COALESCE(NULLIF(s.title, ''), s.feed_title),
    s.category, e.first_seen, e.enclosures, COALESCE(e.feed_html, ''), e.feed_text != '',
    e.article_url"""
_ENTRY_FROM = """entry AS e
    LEFT JOIN entry_flags AS f ON f.entry_id = e.id
    LEFT JOIN source AS s ON s.url = e.source_url"""
_NEW_ENTRY = """INSERT INTO entry (id, source_url, guid, url, canonical_url, title, author,
    published, updated, summary, content_html, content_text, full_text, enclosures,
    content_hash, first_seen, last_seen)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# A changed teaser whose article was fetched before keeps that article while the page is
# checked again (a conditional GET: usually a 304, and then nothing is lost or refetched);
# the changed post is kept beside it, and searched with it. The feed's content in place of
# an article takes the article's validators with it: a teaser that came back later would be
# answered 304 and kept as if whole.
# Its page's failed runs still count unless its link changed: a teaser that changes each
# run would otherwise fetch a dead page forever.
_KEEPS_ARTICLE = "full_text = 'full' AND :full_text = 'pending' AND url = :url"
_CHANGED_ENTRY = f"""UPDATE entry SET
    article_etag = CASE WHEN {_KEEPS_ARTICLE} THEN article_etag END,
    article_modified = CASE WHEN {_KEEPS_ARTICLE} THEN article_modified END,
    article_url = CASE WHEN {_KEEPS_ARTICLE} THEN article_url ELSE '' END,
    author = CASE WHEN {_KEEPS_ARTICLE} AND :author = '' THEN author ELSE :author END,
    content_html = CASE WHEN {_KEEPS_ARTICLE} THEN content_html ELSE :html END,
    content_text = CASE WHEN {_KEEPS_ARTICLE} THEN content_text ELSE :text END,
    feed_html = CASE WHEN {_KEEPS_ARTICLE} THEN :html END,
    feed_text = CASE WHEN {_KEEPS_ARTICLE} THEN :text ELSE '' END,
    content_markdown = '',
    url = :url, canonical_url = :canonical_url, title = :title,
    published = :published, updated = :updated, summary = :summary, full_text = :full_text,
    enclosures = :enclosures, content_hash = :hash, last_seen = :seen,
    extract_attempts = CASE WHEN url = :url THEN extract_attempts ELSE 0 END
    WHERE id = :id"""


class EntryRows(Database):
    def upsert_entries(self, source_url: str, drafts: Iterable[EntryDraft]) -> UpsertCounts:
        """Store a source's entries in one transaction: new ones added, changed ones updated.

        The same item seen twice in one batch counts once (the last version wins). The index
        queue is filled by triggers inside this same transaction.
        """
        with self._write() as conn:
            return self._upsert(conn, source_url, drafts)

    def _upsert(
        self,
        conn: sqlite3.Connection,
        source_url: str,
        drafts: Iterable[EntryDraft],
        *,
        update: bool = True,
    ) -> UpsertCounts:
        batch = {entry_id(source_url, d.guid): d for d in drafts}
        if not batch:
            return UpsertCounts(0, 0, 0)
        stored = dict(
            select_in(conn, "SELECT id, content_hash FROM entry WHERE id IN ({marks})", list(batch))
        )
        stamp = now_db()
        new_rows, changed_rows = [], []
        for eid, draft in batch.items():
            digest = fingerprint(draft)
            if eid not in stored:
                new_rows.append(
                    (eid, source_url, draft.guid, *_content(draft), digest, stamp, stamp)
                )
            elif update and stored[eid] != digest:
                changed_rows.append(_changed(draft, eid, digest, stamp))
        conn.executemany(_NEW_ENTRY, new_rows)
        conn.executemany(_CHANGED_ENTRY, changed_rows)
        unchanged = len(batch) - len(new_rows) - len(changed_rows)
        return UpsertCounts(len(new_rows), len(changed_rows), unchanged)

    def pending_articles(self, source_url: str, limit: int) -> list[PendingArticle]:
        """Entries waiting for their full text, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                """SELECT id, url, extract_attempts, length(content_text), article_etag,
                          article_modified,
                          COALESCE(feed_html, content_html),
                          title, CASE WHEN feed_html IS NULL THEN '' ELSE content_text END
                   FROM entry
                   WHERE source_url = ? AND full_text = 'pending' AND url != ''
                   ORDER BY published DESC LIMIT ?""",
                (source_url, limit),
            ).fetchall()
        return [PendingArticle(*row) for row in rows]

    def sources_with_pending_articles(self) -> set[str]:
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT source_url FROM entry WHERE full_text = 'pending'")
            return {row[0] for row in rows}

    def known_guids(self, source_url: str, guids: Sequence[str]) -> set[str]:
        sql = "SELECT guid FROM entry WHERE source_url = ? AND guid IN ({marks})"
        with self._read() as conn:
            return {row[0] for row in select_in(conn, sql, guids, before=[source_url])}

    def set_article(
        self,
        eid: str,
        *,
        html: str,
        text: str,
        post_text: str = "",
        keep_post: bool = True,
        url: str = "",
        author: str = "",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Store an extracted article, from `url`, in place of the teaser (the index is
        requeued). The feed's post stays beside it (unless not `keep_post`: the source asks
        for pages in place of whole feed content), and `post_text` (the post's own words,
        when it is more than a teaser) is searched with it. The page's count of failed runs
        starts again."""
        with self._write() as conn:
            conn.execute(
                """UPDATE entry SET
                     feed_html = CASE WHEN ? THEN COALESCE(feed_html, content_html) ELSE '' END,
                     feed_text = ?,
                     content_html = ?, content_text = ?, article_url = ?, full_text = 'full',
                     content_markdown = '', author = CASE WHEN author = '' THEN ? ELSE author END,
                     extract_attempts = 0,
                     article_etag = ?, article_modified = ?
                   WHERE id = ?""",
                (keep_post, post_text, html, text, url, author, etag, last_modified, eid),
            )

    def article_unchanged(self, eid: str, post_text: str = "", *, keep_post: bool = True) -> None:
        """The article page answered 304: the article kept on the entry is still whole, and
        `post_text` is what its post (which may have changed) says of its own."""
        with self._write() as conn:
            conn.execute(
                """UPDATE entry SET full_text = 'full', feed_text = ?,
                     feed_html = CASE WHEN ? THEN feed_html ELSE '' END
                   WHERE id = ?""",
                (post_text, keep_post, eid),
            )

    def article_failed(
        self, eid: str, *, give_up: bool, post_text: str | None = None, keep_post: bool = True
    ) -> None:
        """Count a failed article fetch; after the last try the feed's teaser is kept as
        partial. `post_text`: what the post says of its own, beside an article the entry
        keeps (None: the entry keeps none)."""
        with self._write() as conn:
            conn.execute(
                """UPDATE entry SET extract_attempts = extract_attempts + 1,
                     full_text = CASE WHEN ? THEN 'partial' ELSE full_text END,
                     feed_text = COALESCE(?, feed_text),
                     feed_html = CASE WHEN ? OR feed_html IS NULL THEN feed_html ELSE '' END
                   WHERE id = ?""",
                (give_up, post_text, keep_post, eid),
            )

    def set_markdown(self, eid: str, markdown: str) -> None:
        """Keep the Markdown made on first read; not an indexed column, so nothing is requeued."""
        with self._write() as conn:
            conn.execute("UPDATE entry SET content_markdown = ? WHERE id = ?", (markdown, eid))

    def index_docs(self, ids: Sequence[str]) -> list[IndexDoc]:
        """What the index needs of these entries (missing ids are skipped).

        An entry without a date is dated by when it was first seen, as the list orders it:
        newest-first search and date searches then treat it as the list does.
        """
        sql = f"""SELECT e.id, e.title, {_TEXT}, e.author,
                        COALESCE(NULLIF(s.title, ''), s.feed_title, e.source_url),
                        e.source_url, COALESCE(s.category, ''), e.url,
                        COALESCE(NULLIF(e.published, ''), e.first_seen), e.canonical_url
                 FROM entry AS e LEFT JOIN source AS s ON s.url = e.source_url
                 WHERE e.id IN ({{marks}})"""
        with self._read() as conn:
            return [
                IndexDoc(
                    id=r[0],
                    title=r[1],
                    text=r[2],
                    author=r[3],
                    source=r[4],
                    source_url=r[5],
                    category=r[6],
                    url=r[7],
                    published=from_db(r[8]),
                    canonical_url=r[9],
                )
                for r in select_in(conn, sql, ids)
            ]

    def entry(self, eid: str) -> Entry:
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE e.id = ?", (eid,)
            ).fetchone()
        if row is None:
            raise EntryNotFoundError(eid)
        return _entry(row)

    def entries_by_id(self, ids: Sequence[str]) -> dict[str, Entry]:
        sql = f"SELECT {_ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE e.id IN ({{marks}})"
        with self._read() as conn:
            return {row[0]: _entry(row) for row in select_in(conn, sql, ids)}

    def set_flags(
        self, ids: Iterable[str], *, read: bool | None = None, starred: bool | None = None
    ) -> int:
        """Set read and/or starred on entries; flags never touch the index."""
        ids = list(ids)
        if not ids or (read is None and starred is None):
            return 0
        stamp = now_db()
        with self._write() as conn:
            conn.executemany(
                """INSERT INTO entry_flags (entry_id, read, starred, changed_at)
                   SELECT id, COALESCE(?, 0), COALESCE(?, 0), ? FROM entry WHERE id = ?
                   ON CONFLICT (entry_id) DO UPDATE SET
                     read = COALESCE(?, read), starred = COALESCE(?, starred),
                     changed_at = excluded.changed_at""",
                [(read, starred, stamp, i, read, starred) for i in ids],
            )
            return conn.execute("SELECT changes()").fetchone()[0]

    def list_entries(self, view: View, limit: int | None = None) -> list[EntryRow]:
        """Rows for a list, newest first (undated entries by when they were first seen)."""
        where, args = [], []
        if view.source_url:
            where.append("e.source_url = ?")
            args.append(view.source_url)
        if view.category:
            tagged = f" OR e.source_url IN ({', '.join('?' * len(view.tagged))})"
            where.append(
                f"(s.category = ? OR s.category LIKE ? ESCAPE '\\'{tagged if view.tagged else ''})"
            )
            escaped = view.category.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.extend([view.category, escaped + "/%", *view.tagged])
        if view.unfiled:
            where.append("COALESCE(s.category, '') = ''")
        if view.unread_only:
            where.append("COALESCE(f.read, 0) = 0")
        if view.starred_only:
            where.append("COALESCE(f.starred, 0) = 1")
        # A screenful walks `entry_by_date` and stops; a whole list reads the table in order
        # and sorts it (through the index it would fetch each row at random: 40% slower).
        whole = not limit and not view.source_url
        sql = f"""SELECT e.id, COALESCE(NULLIF(e.title, ''), substr(e.summary, 1, {FIRST_WORDS})),
                         COALESCE(NULLIF(s.title, ''), NULLIF(s.feed_title, ''), e.source_url),
                         COALESCE(s.category, ''), COALESCE(NULLIF(e.published, ''), e.first_seen),
                         COALESCE(f.read, 0), COALESCE(f.starred, 0), e.full_text = 'partial',
                         e.source_url, COALESCE(e.published, '') = '', e.title = ''
                  FROM entry AS e {"NOT INDEXED" if whole else ""}
                  LEFT JOIN entry_flags AS f ON f.entry_id = e.id
                  LEFT JOIN source AS s ON s.url = e.source_url
                  {"WHERE " + " AND ".join(where) if where else ""}
                  ORDER BY COALESCE(NULLIF(e.published, ''), e.first_seen) DESC
                  {"LIMIT ?" if limit else ""}"""
        if limit:
            args.append(limit)
        # Rows made as the cursor goes (no list of tuples beside them), and a source's name,
        # topic and address shared by its rows: at 100,000 entries, 20 MB less at the peak.
        shared: dict[str, str] = {}
        one = shared.setdefault
        with self._read() as conn:
            return [
                EntryRow(
                    r[0],
                    r[1],
                    one(r[2], r[2]),
                    one(r[3], r[3]),
                    from_db(r[4]),
                    bool(r[5]),
                    bool(r[6]),
                    bool(r[7]),
                    one(r[8], r[8]),
                    bool(r[9]),
                    bool(r[10]),
                )
                for r in conn.execute(sql, args)
            ]

    def known_among(self, ids: Sequence[str]) -> set[str]:
        """Those of `ids` that are entries here."""
        sql = "SELECT id FROM entry WHERE id IN ({marks})"
        with self._read() as conn:
            return {r[0] for r in select_in(conn, sql, ids)}

    def unread_among(self, ids: Sequence[str]) -> list[str]:
        """Those of `ids` that are entries here and unread."""
        sql = """SELECT e.id FROM entry AS e LEFT JOIN entry_flags AS f ON f.entry_id = e.id
                 WHERE e.id IN ({marks}) AND COALESCE(f.read, 0) = 0"""
        with self._read() as conn:
            return [r[0] for r in select_in(conn, sql, ids)]

    def read_ids(self) -> list[str]:
        with self._read() as conn:
            return [r[0] for r in conn.execute("SELECT entry_id FROM entry_flags WHERE read = 1")]

    def starred_ids(self) -> list[str]:
        with self._read() as conn:
            return [
                r[0] for r in conn.execute("SELECT entry_id FROM entry_flags WHERE starred = 1")
            ]

    def entry_totals(self) -> tuple[int, int, int]:
        """(entries, unread, starred) across the library."""
        with self._read() as conn:
            entries = conn.execute("SELECT count(*) FROM entry").fetchone()[0]
            read, starred = conn.execute(
                "SELECT count(*) FILTER (WHERE read = 1), count(*) FILTER (WHERE starred = 1) "
                "FROM entry_flags"
            ).fetchone()
        return entries, entries - read, starred


def _changed(draft: EntryDraft, eid: str, digest: str, stamp: str) -> dict[str, object]:
    return {
        "id": eid,
        "url": draft.url,
        "canonical_url": draft.canonical_url,
        "title": draft.title,
        "author": draft.author,
        "published": to_db(draft.published),
        "updated": to_db(draft.updated),
        "summary": draft.summary,
        "html": draft.html,
        "text": draft.text,
        "full_text": draft.full_text,
        "enclosures": _enclosures_db(draft.enclosures),
        "hash": digest,
        "seen": stamp,
    }


def _content(draft: EntryDraft) -> tuple[object, ...]:
    return (
        draft.url,
        draft.canonical_url,
        draft.title,
        draft.author,
        to_db(draft.published),
        to_db(draft.updated),
        draft.summary,
        draft.html,
        draft.text,
        draft.full_text,
        _enclosures_db(draft.enclosures),
    )


def _enclosures_db(files: tuple[Enclosure, ...]) -> str:
    if not files:
        return ""
    return json.dumps([[f.url, f.type, f.length, f.duration, f.title] for f in files])


def _enclosures(value: str) -> tuple[Enclosure, ...]:
    if not value:
        return ()
    try:
        return tuple(
            Enclosure(str(url), str(kind), int(length), int(duration), str(title))
            for url, kind, length, duration, title in json.loads(value)
        )
    except (ValueError, TypeError):  # a row edited by hand: the entry still reads
        return ()


def _entry(row: tuple) -> Entry:
    (
        eid,
        source_url,
        guid,
        url,
        canonical,
        title,
        author,
        published,
        updated,
        summary,
        content_html,
        markdown,
        text,
        full_text,
        read,
        starred,
        source_title,
        category,
        seen,
        enclosures,
        feed_html,
        post_said,
        article_url,
    ) = row
    return Entry(
        id=eid,
        source_url=source_url,
        guid=guid,
        url=url,
        canonical_url=canonical,
        title=title,
        author=author,
        published=from_db(published),
        updated=from_db(updated),
        seen=from_db(seen),
        summary=summary,
        html=content_html,
        markdown=markdown,
        text=text,
        full_text=full_text,
        read=bool(read),
        starred=bool(starred),
        source_title=source_title or "",
        category=category or "",
        enclosures=_enclosures(enclosures),
        post_html=feed_html,
        post_said=bool(post_said),
        article_url=article_url,
    )
