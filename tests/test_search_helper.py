"""The search helper (a second process ranking half the segments) gives the same pages as
one process does, and whatever happens to it, searches still answer."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aggregator.index import Index, helper
from aggregator.search import Searcher
from aggregator.search import searcher as search
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


FILL = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "omicron",
]


def phrase_docs(n: int, prefix: str, with_phrase: bool, seed: int) -> list:
    """Entries of filler words; with `with_phrase`, all hold "vaccine" and "trial", and
    about 40% hold them side by side."""
    import random
    from datetime import timedelta

    from aggregator.models import IndexDoc

    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [rng.choice(FILL) for _ in range(20)]
        if with_phrase and rng.random() < 0.4:
            words[5:5] = ["vaccine", "trial"]
        elif with_phrase:
            words[2:2] = ["trial"]
            words[12:12] = ["vaccine"]
        url = f"https://s.example/{prefix}/{i}"
        out.append(
            IndexDoc(
                id=f"{prefix}{i}",
                title=" ".join(words[:4]),
                text=" ".join(words),
                author="",
                source="S",
                source_url=f"https://s{i % 3}.example/feed",
                category="Medicine",
                url=url,
                published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i),
                canonical_url=url,
            )
        )
    return out


def test_a_phrase_counted_exactly_alone_is_counted_exactly_with_the_helper(tmp_path, monkeypatch):
    """All 3,000 candidates in one half: that half alone is over its share of the limit
    for checking every candidate, but the whole index is not, so one process counts them
    exactly, and so must the two (found by review: the half estimated from a sample)."""
    index = Index(tmp_path / "ix")
    index.apply(phrase_docs(3000, "a", False, 1), fresh=True)  # older entries: no phrase
    index.apply(phrase_docs(3000, "b", True, 2), fresh=True)  # newer: 3,000 candidates
    alone = Searcher(index)
    helped = with_helper(index, monkeypatch)
    try:
        before = helped._helper.answered
        for sort in ("relevance", "newest"):
            want = page(alone, '"vaccine trial"', sort=sort)
            assert want[3] is True  # exact
            assert page(helped, '"vaccine trial"', sort=sort) == want
        assert helped._helper.answered > before
    finally:
        helped.close()
        alone.close()


def test_requests_arrive_whole_through_signals(index, monkeypatch):
    """A request bigger than the pipe's buffer, written while signals arrive (the terminal
    UI has a handler for SIGWINCH): a write may then take only part of it, and the rest must
    follow, or the helper waits for bytes that never come (found by review)."""
    import os
    import signal
    import threading

    helped = with_helper(index, monkeypatch)
    deny = [f"read-entry-{i:06d}" for i in range(4_500)]  # ~225 KB pickled: over 64 KB
    previous = signal.signal(signal.SIGWINCH, lambda *_: None)
    stop = threading.Event()

    def storm() -> None:
        while not stop.is_set():
            os.kill(os.getpid(), signal.SIGWINCH)
            time.sleep(0.0005)

    thread = threading.Thread(target=storm)
    thread.start()
    try:
        before = helped._helper.answered
        for _ in range(20):
            helped.search("vaccine trial", now=NOW, deny=deny)
        assert helped._helper.running and helped._helper.answered - before == 20
    finally:
        stop.set()
        thread.join()
        signal.signal(signal.SIGWINCH, previous)
        helped.close()


def test_ctrl_c_is_left_to_the_searching_process(index, monkeypatch):
    """A Ctrl-C in the terminal reaches every process of the foreground group: the helper
    ignores it (the searching process decides), and still answers."""
    import os
    import signal

    helped = with_helper(index, monkeypatch)
    try:
        os.kill(helped._helper._proc.pid, signal.SIGINT)
        time.sleep(0.3)
        before = helped._helper.answered
        helped.search("vaccine", now=NOW)
        assert helped._helper.running and helped._helper.answered == before + 1
    finally:
        helped.close()
