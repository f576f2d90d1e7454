"""Files an entry carries (podcast episodes, videos, documents): read from RSS enclosures,
Atom enclosure links, Media RSS and JSON Feed attachments, stored, and shown when reading."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from aggregator.cli import run
from aggregator.config import load_settings
from aggregator.library import open_library
from aggregator.models import Enclosure, Source
from aggregator.parse import ENCLOSURES_MOST, parse_feed
from aggregator.sources import save_opml
from aggregator.store import Store
from tests.httpd import Route
from tests.test_store import BEFORE_11

NNW = "netnewswire-rsparser/Modules/RSParser/Tests/RSParserTests/Resources"


def test_a_podcast_feed_s_episodes_keep_their_audio_file_size_and_duration(corpus: Path):
    parsed = parse_feed((corpus / NNW / "atp.rss").read_bytes(), "https://atp.fm/rss")
    assert len(parsed.entries) == 100
    assert all(len(e.enclosures) == 1 for e in parsed.entries)
    first = parsed.entries[0].enclosures[0]
    assert first == Enclosure(
        url="http://traffic.libsyn.com/atpfm/atp311.mp3",
        type="audio/mpeg",
        length=54919661,
        duration=1 * 3600 + 54 * 60 + 9,  # <itunes:duration>01:54:09</itunes:duration>
    )
    assert first.describe() == "audio/mpeg · 54.9 MB · 1:54:09"
    assert first.name == "atp311.mp3"
    omni = parse_feed((corpus / NNW / "theomnishow.rss").read_bytes(), "https://omni.example/")
    assert omni.entries[0].enclosures[0].duration == 28 * 60 + 49  # "28:49"


def test_json_feed_attachments_are_enclosures(corpus: Path):
    body = (corpus / "feedparser-tests/tests/json/example.json").read_bytes()
    parsed = parse_feed(body, "https://example.org/feed.json")
    assert [e.enclosures for e in parsed.entries] == [
        (Enclosure("https://example.org/second-item-show.mp4", "video/mp4", 12000000),),
        (),
    ]


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
  <title>Files</title><id>urn:f</id><updated>2024-01-01T00:00:00Z</updated>
  <entry>
    <id>urn:1</id><title>One</title><updated>2024-01-01T00:00:00Z</updated>
    <link rel="alternate" href="https://site.example/posts/1"/>
    <link rel="enclosure" href="/files/report.pdf" type="application/pdf" length="unknown"/>
    <link rel="enclosure" href="javascript:alert(1)" type="audio/mpeg"/>
    <link rel="enclosure" href="file:///etc/passwd" type="audio/mpeg"/>
    <link rel="enclosure" href="https://cdn.example/ep1.mp3" type="Audio/MPEG" length="-1"/>
    <media:content url="https://cdn.example/ep1.mp3" type="audio/mpeg" fileSize="99"/>
    <media:content url="https://cdn.example/clip.mp4" medium="video" duration="75"/>
    <media:content url="https://cdn.example/photo.jpg" type="image/jpeg"/>
    <itunes:duration>3600</itunes:duration>
    <summary>Text</summary>
  </entry>
</feed>"""


def test_enclosures_are_http_absolute_once_each_and_never_local_or_script():
    (entry,) = parse_feed(ATOM, "https://site.example/feed.atom").entries
    assert entry.enclosures == (
        Enclosure("https://site.example/files/report.pdf", "application/pdf"),
        # the feed's -1 says nothing; the episode's duration goes to its first audio file
        Enclosure("https://cdn.example/ep1.mp3", "audio/mpeg", 0, 3600),
        Enclosure("https://cdn.example/clip.mp4", "", 0, 75),  # video by its medium
    )  # the image is no attachment: Media RSS lists pictures too


def test_an_episode_whose_file_has_no_type_keeps_its_duration():
    """Many podcast feeds leave the enclosure's type out; the duration was dropped."""
    feed = (
        b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        b"<channel><title>t</title><item><guid>g</guid><title>Episode</title>"
        b'<enclosure url="https://cdn.example/ep.mp3" length="12"/>'
        b"<itunes:duration>12:34</itunes:duration></item></channel></rss>"
    )
    (entry,) = parse_feed(feed, "https://f.example/").entries
    assert entry.enclosures == (Enclosure("https://cdn.example/ep.mp3", "", 12, 754),)


def test_enclosures_are_capped_and_change_the_fingerprint_only_when_there_are_some():
    def feed(files: str) -> bytes:
        return (
            '<rss version="2.0"><channel><title>t</title><item><guid>g</guid><title>x</title>'
            f"<description>d</description>{files}</item></channel></rss>"
        ).encode()

    many = "".join(
        f'<enclosure url="https://cdn.example/{i}.mp3" type="audio/mpeg" length="1"/>'
        for i in range(ENCLOSURES_MOST + 5)
    )
    (capped,) = parse_feed(feed(many), "https://f.example/").entries
    assert len(capped.enclosures) == ENCLOSURES_MOST
    (bare,) = parse_feed(feed(""), "https://f.example/").entries
    (one,) = parse_feed(feed(many[: many.index("/>") + 2]), "https://f.example/").entries
    assert bare.enclosures == () and len(one.enclosures) == 1
    assert bare.fingerprint != one.fingerprint != capped.fingerprint
    # Without files, the fingerprint is what it was before files were read: stored entries
    # are not all rewritten by the first fetch after the upgrade.
    said = ("g", "https://f.example/g", "x", "", "None", "None", "d", "d")  # (a guid's a link)
    assert (
        bare.fingerprint == hashlib.blake2b("\x1f".join(said).encode(), digest_size=12).hexdigest()
    )


PODCAST = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Pod</title><link>https://pod.example/</link>
<description>d</description>
<item><guid isPermaLink="false">ep1</guid><title>Episode [one]</title>
<description>&lt;p&gt;Show notes for the first episode.&lt;/p&gt;</description>
<enclosure url="https://cdn.example/ep1.mp3" length="34200000" type="audio/mpeg"/></item>
<item><guid isPermaLink="false">post</guid><title>A post</title>
<description>&lt;p&gt;No file here.&lt;/p&gt;</description></item>
</channel></rss>"""


def _library(tmp_path: Path, url: str):
    opml = tmp_path / "list.opml"
    save_opml(opml, [Source(url=url, title="Pod")], title="test")
    return open_library(load_settings(data_dir=tmp_path / "home", opml=str(opml)))


def test_a_fetched_episode_lists_its_file_when_read(server, tmp_path, capsys):
    url = server.route("/pod", Route(body=PODCAST, etag='"1"'))
    with _library(tmp_path, url) as lib:
        assert lib.fetch().results[0].new == 2
        hits = {hit.title: hit.id for hit in lib.search("episode OR post").hits}
        episode = lib.entry(hits["Episode [one]"])
        assert episode.enclosures == (
            Enclosure("https://cdn.example/ep1.mp3", "audio/mpeg", 34200000),
        )
        assert episode.markdown.startswith("Show notes for the first episode.")
        assert episode.markdown.endswith(
            "**Attachments**\n\n- [ep1.mp3](https://cdn.example/ep1.mp3) · audio/mpeg · 34.2 MB\n"
        )
        post = lib.entry(hits["A post"])
        assert post.enclosures == () and "Attachments" not in post.markdown
        # Read twice: the list is added to what is shown, never to the Markdown kept.
        assert lib.entry(episode.id).markdown == episode.markdown
    home = str(tmp_path / "home")
    assert run(["--data-dir", home, "read", episode.id, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["enclosures"] == [
        {
            "url": "https://cdn.example/ep1.mp3",
            "type": "audio/mpeg",
            "length": 34200000,
            "duration": 0,
            "title": "",
        }
    ]
    assert run(["--data-dir", home, "read", episode.id, "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert text.endswith(
        "\n\nShow notes for the first episode.\n\nAttachments:\n"
        "https://cdn.example/ep1.mp3 (audio/mpeg · 34.2 MB)\n"
    )


def test_an_episode_with_only_a_summary_keeps_it_above_its_file(server, tmp_path):
    """A JSON Feed item with a summary and no content: its files took the summary's place
    (the reader shows the Markdown when there is some, else the summary)."""
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Pod",
        "items": [
            {
                "id": "1",
                "title": "Episode",
                "summary": "Notes *about* the episode",
                "attachments": [{"url": "https://cdn.example/e.mp3", "mime_type": "audio/mpeg"}],
            }
        ],
    }
    url = server.route(
        "/pod.json", Route(body=json.dumps(feed).encode(), content_type="application/feed+json")
    )
    with _library(tmp_path, url) as lib:
        lib.fetch()
        (hit,) = lib.search("episode").hits
        assert lib.entry(hit.id).markdown == (
            "Notes \\*about\\* the episode\n\n**Attachments**\n\n"
            "- [e.mp3](https://cdn.example/e.mp3) · audio/mpeg\n"
        )


def test_a_library_from_before_enclosures_reads_its_feeds_whole_once_to_find_them(server, tmp_path):
    url = server.route("/pod", Route(body=PODCAST, etag='"1"'))
    with _library(tmp_path, url) as lib:
        lib.fetch()
    path = tmp_path / "home" / "library.sqlite3"
    conn = sqlite3.connect(path)  # as version 4 left it: no files, the feed's validator kept
    conn.executescript(
        "ALTER TABLE entry DROP COLUMN enclosures;" + BEFORE_11 + "PRAGMA user_version = 4;"
        # the episode's fingerprint as stored before files were read (the post's is the same)
        "UPDATE entry SET content_hash = 'without files' WHERE guid = 'ep1';"
    )
    conn.close()
    store = Store.open(path)
    assert store.source_states()[url].etag is None  # forgotten: the next fetch reads it whole
    store.close()
    with _library(tmp_path, url) as lib:
        result = lib.fetch().results[0]
        assert (result.status, result.new, result.updated) == ("ok", 0, 1)  # the post kept
        assert server.hits("/pod")[-1].headers.get("If-None-Match") is None
        (episode,) = [h for h in lib.search("episode").hits]
        assert len(lib.entry(episode.id).enclosures) == 1
        assert lib.fetch().results[0].status == "not_modified"  # its validator kept again
