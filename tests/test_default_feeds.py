"""The default source list the program ships with."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lxml import etree

from aggregator.library import default_opml
from aggregator.sources import read_opml

ROOT = Path(__file__).resolve().parents[1]


def test_packaged_list_is_the_repository_file():
    assert default_opml() == (ROOT / "feeds.opml").read_bytes()


def test_three_topics_of_at_least_eight_real_feeds():
    root = etree.fromstring((ROOT / "feeds.opml").read_bytes())  # strict XML, no recovery
    folders = root.findall("body/outline")
    assert [f.get("text") for f in folders] == ["Medicine", "Travel", "Politics"]
    for folder in folders:
        feeds = folder.findall("outline")
        assert len(feeds) >= 8
        for feed in feeds:
            for attr in ("text", "title", "type", "xmlUrl", "htmlUrl"):
                assert feed.get(attr), (feed.get("text"), attr)
            assert feed.get("xmlUrl").startswith(("https://", "http://"))
    document = read_opml(default_opml())
    assert not document.skipped and document.merged == 0
    assert Counter(s.category for s in document.sources).keys() == {
        "Medicine",
        "Travel",
        "Politics",
    }
