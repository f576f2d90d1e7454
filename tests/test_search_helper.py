"""The search helper (a second process ranking half the segments) gives the same pages as
one process does, and whatever happens to it, searches still answer."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator import search
from aggregator.index import Index, helper
from aggregator.search import Searcher
from tests.test_index_segments import make_docs
from tests.test_ranking import EXPANDED, SCORED

NOW = datetime(2025, 1, 1, tzinfo=UTC)
QUERIES = [*SCORED, *EXPANDED, '"vaccine trial" OR "border"']

pytestmark = pytest.mark.skipif(not helper.supported(), reason="needs two cores and select()")


@pytest.fixture
def index(tmp_path: Path) -> Index:
    index = Index(tmp_path / "ix")
    index.apply(make_docs(300, seed=3), fresh=True)
    index.apply(make_docs(250, seed=4, prefix="e"), fresh=True)
    gone = [f"d{i}" for i in range(0, 300, 9)]
    changed = [replace(d, title="vaccine rewritten") for d in make_docs(40, seed=3)[::4]]
    index.apply(changed, deletes=gone)
    assert index.segment_count() == 3
    return index


def with_helper(index: Index, monkeypatch: pytest.MonkeyPatch) -> Searcher:
    """A searcher whose helper has started and said it is ready."""
    monkeypatch.setattr(search, "HELPER_MIN_DOCS", 0)
    searcher = Searcher(index, helper=True)
    searcher.search("warm", now=NOW)
    searcher.search("up", now=NOW)  # the second search starts it
    started = searcher._helper
    assert started is not None
    deadline = time.monotonic() + 30
    while not started._usable():
        assert started.running and time.monotonic() < deadline, "the helper never got ready"
        time.sleep(0.05)
    return searcher


def page(searcher: Searcher, text: str, **kwargs: object) -> tuple:
    found = searcher.search(text, now=NOW, **kwargs)  # type: ignore[arg-type]
    hits = [(h.id, h.score, h.topic, h.source_url) for h in found.hits]
    return hits, found.total, found.facets, found.exact


def test_the_same_pages_with_half_of_each_search_in_the_helper(index, monkeypatch):
    alone = Searcher(index)
    helped = with_helper(index, monkeypatch)
    try:
        before = helped._helper.answered
        for text in QUERIES:
            for sort in ("relevance", "newest"):
                for category in (None, "medicine"):
                    kwargs = {"sort": sort, "category": category, "limit": 7}
                    assert page(helped, text, **kwargs) == page(alone, text, **kwargs), text
        assert helped._helper.answered - before >= len(QUERIES) * 4  # it did take part
    finally:
        helped.close()
        alone.close()
    assert helped._helper is None


def test_a_helper_that_dies_or_falls_behind_changes_nothing(index, monkeypatch):
    helped = with_helper(index, monkeypatch)
    try:
        # The index changes: both sides must see the same segments, or the helper is not used.
        index.apply(make_docs(30, seed=9, prefix="n"))
        alone = Searcher(index)
        for text in QUERIES[:8]:
            assert page(helped, text) == page(alone, text), text
        helper_process = helped._helper._proc
        helper_process.kill()
        helper_process.wait()
        for text in QUERIES[:8]:
            assert page(helped, text) == page(alone, text), text
        assert not helped._helper.running  # noticed, and searches went on here
        alone.close()
    finally:
        helped.close()


def test_one_search_never_starts_a_helper(index, monkeypatch):
    monkeypatch.setattr(search, "HELPER_MIN_DOCS", 0)
    searcher = Searcher(index, helper=True)
    searcher.search("vaccine", now=NOW)
    assert searcher._helper is None  # a command that searches once
    searcher.close()
    monkeypatch.undo()
    small = Searcher(index, helper=True)  # the real threshold: this index is far below it
    for _ in range(3):
        small.search("vaccine", now=NOW)
    assert small._helper is None
    small.close()
