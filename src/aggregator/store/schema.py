"""The SQLite schema in one place, versioned by `PRAGMA user_version`.

`MIGRATIONS[n]` takes a database from version n to n + 1. A database whose version is higher
than `SCHEMA_VERSION` was written by a newer aggregator and is refused without being touched.

Index changes are queued by triggers, so every write to `entry`, however it is made, records
its change in the same transaction: the index can never silently miss one.
"""

from __future__ import annotations

SCHEMA_VERSION = 11

_V1 = """
CREATE TABLE source (
    url            TEXT PRIMARY KEY,
    title          TEXT NOT NULL DEFAULT '',
    category       TEXT NOT NULL DEFAULT '',
    listed         INTEGER NOT NULL DEFAULT 1,  -- 0 once gone from the OPML; entries stay readable
    added_at       TEXT NOT NULL,
    etag           TEXT,
    last_modified  TEXT,
    last_attempt   TEXT,
    last_success   TEXT,
    last_error     TEXT,
    failures       INTEGER NOT NULL DEFAULT 0,
    next_attempt   TEXT,
    moved_to       TEXT,
    gone           INTEGER NOT NULL DEFAULT 0,
    feed_title     TEXT NOT NULL DEFAULT '',    -- what the feed calls itself
    site_url       TEXT NOT NULL DEFAULT ''
);

CREATE TABLE entry (
    id                TEXT PRIMARY KEY,
    source_url        TEXT NOT NULL REFERENCES source(url) ON UPDATE CASCADE ON DELETE CASCADE,
    guid              TEXT NOT NULL,
    url               TEXT NOT NULL DEFAULT '',
    canonical_url     TEXT NOT NULL DEFAULT '',
    title             TEXT NOT NULL DEFAULT '',
    author            TEXT NOT NULL DEFAULT '',
    published         TEXT,
    updated           TEXT,
    summary           TEXT NOT NULL DEFAULT '',
    content_html      TEXT NOT NULL DEFAULT '',  -- as sent; untrusted, converted before display
    content_markdown  TEXT NOT NULL DEFAULT '',  -- made from content_html on first read
    content_text      TEXT NOT NULL DEFAULT '',  -- for the index and snippets
    full_text         TEXT NOT NULL DEFAULT 'feed'
                      CHECK (full_text IN ('feed', 'pending', 'full', 'partial')),
    extract_attempts  INTEGER NOT NULL DEFAULT 0,
    article_etag      TEXT,
    article_modified  TEXT,
    content_hash      TEXT NOT NULL DEFAULT '',  -- fingerprint of what the source sent
    first_seen        TEXT NOT NULL,
    last_seen         TEXT NOT NULL,
    UNIQUE (source_url, guid)
);
CREATE INDEX entry_by_source ON entry (source_url, published DESC);
CREATE INDEX entry_by_published ON entry (published DESC);
CREATE INDEX entry_by_canonical ON entry (canonical_url) WHERE canonical_url != '';
CREATE INDEX entry_pending ON entry (source_url) WHERE full_text = 'pending';

CREATE TABLE entry_flags (
    entry_id    TEXT PRIMARY KEY REFERENCES entry(id) ON DELETE CASCADE,
    read        INTEGER NOT NULL DEFAULT 0,
    starred     INTEGER NOT NULL DEFAULT 0,
    changed_at  TEXT NOT NULL
);
CREATE INDEX flags_read ON entry_flags (entry_id) WHERE read = 1;
CREATE INDEX flags_starred ON entry_flags (entry_id) WHERE starred = 1;

CREATE TABLE index_queue (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id   TEXT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    queued_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX index_queue_by_entry ON index_queue (entry_id);

CREATE TRIGGER entry_added AFTER INSERT ON entry BEGIN
    INSERT INTO index_queue (entry_id, op) VALUES (NEW.id, 'upsert');
END;
CREATE TRIGGER entry_changed
AFTER UPDATE OF source_url, url, title, author, published, summary, content_text ON entry
WHEN OLD.source_url IS NOT NEW.source_url OR OLD.url IS NOT NEW.url
  OR OLD.title IS NOT NEW.title OR OLD.author IS NOT NEW.author
  OR OLD.published IS NOT NEW.published OR OLD.summary IS NOT NEW.summary
  OR OLD.content_text IS NOT NEW.content_text
BEGIN
    INSERT INTO index_queue (entry_id, op) VALUES (NEW.id, 'upsert');
END;
CREATE TRIGGER entry_removed AFTER DELETE ON entry BEGIN
    INSERT INTO index_queue (entry_id, op) VALUES (OLD.id, 'delete');
END;
-- The index holds each entry's source title and category: renaming or refiling a source
-- requeues its entries.
CREATE TRIGGER source_refiled AFTER UPDATE OF title, category ON source
WHEN OLD.title IS NOT NEW.title OR OLD.category IS NOT NEW.category
BEGIN
    INSERT INTO index_queue (entry_id, op)
    SELECT id, 'upsert' FROM entry WHERE source_url = NEW.url;
END;
"""

_V2 = """
-- With the id in it, a source's entry and unread counts are read from this index alone
-- (every source's, at 100,000 entries: 129 -> 25 ms; the sidebar and the sources screen
-- ask for them on every load).
DROP INDEX entry_by_source;
CREATE INDEX entry_by_source ON entry (source_url, published DESC, id);
-- The list's order (newest first, an undated entry by when it was first seen): its first
-- screenful is read from here instead of sorting the library (111 -> 0 ms at 100,000).
CREATE INDEX entry_by_date ON entry (COALESCE(NULLIF(published, ''), first_seen) DESC);
"""

_V3 = """
-- Markdown is made from an entry's HTML when it is first read, and kept. That made before
-- brackets in text were escaped (a `[x](javascript:...)` written in an article stayed a live
-- link for whatever renders `aggregator read`): made again on the next read.
UPDATE entry SET content_markdown = '' WHERE content_markdown != '' AND content_html != '';
"""

_V4 = """
-- An image inside a link was kept as a link inside a link, which shows as raw Markdown.
UPDATE entry SET content_markdown = '' WHERE content_markdown LIKE '%[[image: %';
"""

_V5 = """
-- The files an entry carries (podcast episodes, videos: RSS enclosures, JSON Feed
-- attachments), as a JSON list; '' for none. Feeds already stored are read whole once more
-- (their validators forgotten), so that entries stored before this find their files.
ALTER TABLE entry ADD COLUMN enclosures TEXT NOT NULL DEFAULT '';
UPDATE source SET etag = NULL, last_modified = NULL;
"""

_V6 = """
-- A `|` in a table's cell was not escaped, so it split the cell: tables made again on the
-- next read.
UPDATE entry SET content_markdown = ''
WHERE content_markdown LIKE '%|%' AND (content_html LIKE '%<td%' OR content_html LIKE '%<th%');
"""

_V7 = """
-- Feed content that opened with an HTML5 section (<article>, <section>, <header>, <main>,
-- <figure>...) after its <base href> was read as part of a page's head and dropped: no text
-- was indexed and none shown. Such entries are made again: the Markdown on the next read,
-- and the text when their feeds, read whole once more, still carry them.
UPDATE entry SET content_markdown = '', content_hash = ''
WHERE content_html LIKE '<base %' AND (content_html LIKE '%<article%'
    OR content_html LIKE '%<section%' OR content_html LIKE '%<header%'
    OR content_html LIKE '%<main%' OR content_html LIKE '%<figure%'
    OR content_html LIKE '%<aside%' OR content_html LIKE '%<nav%'
    OR content_html LIKE '%<footer%' OR content_html LIKE '%<details%');
UPDATE source SET etag = NULL, last_modified = NULL
WHERE url IN (SELECT source_url FROM entry WHERE content_hash = '');
"""

_V8 = """
-- Text that spelled a tag (`&lt;img onerror=...&gt;`) or a character reference was kept
-- bare in the Markdown, which then rendered it as raw HTML: made again on the next read.
UPDATE entry SET content_markdown = ''
WHERE content_markdown LIKE '%<%' OR content_markdown LIKE '%&%';
"""

_V9 = """
-- Which library this is, and the mark its index was last told it holds (a new one each
-- time the index takes changes off the queue): an index kept beside another library, or
-- beside this one at another time (the file restored from a backup, moved aside, made anew)
-- is rebuilt instead of searched.
CREATE TABLE IF NOT EXISTS library (id TEXT NOT NULL, indexed TEXT NOT NULL DEFAULT '');
INSERT INTO library (id)
SELECT lower(hex(randomblob(16))) WHERE NOT EXISTS (SELECT 1 FROM library);
"""

_V10 = """
-- Markdown made before line breaks, list numbers, cell spans, lazy-loaded images, code that
-- holds a fence (or a block of code in two), pages laid out in tables, and text that looks
-- like a list or a heading at a line's start were kept as written: made again on the next
-- read.
UPDATE entry SET content_markdown = ''
WHERE content_markdown != '' AND (
    content_html LIKE '%<br%' OR content_html LIKE '%<ol%' OR content_html LIKE '%<table%'
    OR content_html LIKE '%<pre%'
    OR content_html LIKE '%data-src%' OR content_html LIKE '%data-lazy-src%'
    OR content_html LIKE '%data-original%' OR content_markdown LIKE '%```%'
    OR content_markdown GLOB '[-+>#=0-9]*'
    OR content_markdown GLOB '*' || char(10) || '[-+>#=0-9]*');
"""

_V11 = """
-- The feed's own post, kept when the page it links to was fetched in its place: a link
-- blog's remark about someone else's article was lost to the article. `feed_html` is NULL
-- while `content_html` is the feed's own; `feed_text` is the post's text, searched with the
-- article's; `article_url` is where the article came from, after redirects. (Entries whose
-- page was fetched before this lost their post; the next change to it brings it back.)
ALTER TABLE entry ADD COLUMN feed_html TEXT;
ALTER TABLE entry ADD COLUMN feed_text TEXT NOT NULL DEFAULT '';
ALTER TABLE entry ADD COLUMN article_url TEXT NOT NULL DEFAULT '';
-- A teaser kept as if whole (the bug below, already met): its page is fetched again.
UPDATE entry SET full_text = 'pending', extract_attempts = 0
WHERE full_text = 'full' AND content_html LIKE '<base href=%';
-- An entry whose post changed while it kept its article holds the article (stored without
-- the <base> that starts every feed item's content): its post is not known.
UPDATE entry SET feed_html = ''
WHERE full_text = 'pending' AND content_html != '' AND content_html NOT LIKE '<base href=%';
-- Validators kept for an article the entry may no longer hold: a teaser that came back
-- after its feed had carried the whole article was answered 304, and kept as if whole.
-- Entries waiting for their page fetch it whole once.
UPDATE entry SET article_etag = NULL, article_modified = NULL
WHERE full_text IN ('feed', 'pending');
DROP TRIGGER IF EXISTS entry_changed;
CREATE TRIGGER entry_changed
AFTER UPDATE OF source_url, url, title, author, published, summary, content_text, feed_text
ON entry
WHEN OLD.source_url IS NOT NEW.source_url OR OLD.url IS NOT NEW.url
  OR OLD.title IS NOT NEW.title OR OLD.author IS NOT NEW.author
  OR OLD.published IS NOT NEW.published OR OLD.summary IS NOT NEW.summary
  OR OLD.content_text IS NOT NEW.content_text OR OLD.feed_text IS NOT NEW.feed_text
BEGIN
    INSERT INTO index_queue (entry_id, op) VALUES (NEW.id, 'upsert');
END;
-- Markdown made before a data table's caption went above it, before lists in a row stayed
-- apart, and before text at a line's start (inside a <span> or the like, or a fence) stayed
-- text: made again on the next read.
UPDATE entry SET content_markdown = ''
WHERE content_markdown != '' AND (content_html LIKE '%<caption%'
    OR content_html LIKE '%</ol>%<ol%' OR content_html LIKE '%</ul>%<ul%'
    OR content_markdown GLOB '*' || char(10) || '[-+>#=0-9]*'
    OR content_markdown GLOB '*' || char(10) || '[*_][-+>#=0-9]*'
    OR content_markdown GLOB '*' || char(10) || '[`~]*' OR content_markdown GLOB '[`~]*');
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11)
assert len(MIGRATIONS) == SCHEMA_VERSION
