"""The fast segment writer writes what Whoosh's own writer would, in workers and in merges."""

from __future__ import annotations

import itertools
import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index
from whoosh.writing import SegmentWriter

from aggregator.index import INDEX_NAME, Index, make_schema, pairs, segments
from aggregator.index import directory as index_directory
from aggregator.index.analysis import FastPositions
from aggregator.models import IndexDoc

WORDS = [
    "vaccine",
    "trial",
    "fever",
    "clinic",
    "border",
    "visa",
    "election",
    "senate",
    "budget",
    "santé",
    "café",
    "naïve",
    "straße",
    "東京",
    "rivers",
    "running",
    "runner",
    "ran",
    "the",
    "of",
    "a",
    "and",
    "to",
    "in",
    "hospital",
    "vote",
]


def make_docs(n: int, seed: int = 1, prefix: str = "d") -> list[IndexDoc]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randrange(0, 300))]
        docs.append(
            IndexDoc(
                id=f"{prefix}{i}",
                title=" ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 9))),
                text=" ".join(words),
                author=rng.choice(["", "Ana Pérez", "J. Smith"]),
                source=rng.choice(["The Lancet", "Nomadic Matt", "Reason"]),
                source_url=f"https://s{i % 3}.example/feed",
                category=rng.choice(["Medicine", "Travel/Asia", "Politics", ""]),
                url=f"https://s{i % 3}.example/{prefix}/{i}",
                published=None
                if i % 7 == 0
                else datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i * 5),
                canonical_url=f"https://s{i % 3}.example/{prefix}/{i}",
            )
        )
    return docs


def postings(directory: Path) -> dict[tuple[str, bytes], list[tuple[str, float, bytes]]]:
    """Every posting of an index, keyed by field and term, with the document's id."""
    ix = whoosh_index.open_dir(str(directory), indexname=INDEX_NAME)
    out: dict[tuple[str, bytes], list[tuple[str, float, bytes]]] = {}
    with ix.searcher() as searcher:
        reader = searcher.reader()
        ids = {docnum: fields["id"] for docnum, fields in reader.iter_docs()}
        for field, term, docnum, weight, value in reader.iter_postings():
            # A term kept in its row answers "" for no value where a block answers None.
            out.setdefault((field, term), []).append((ids[docnum], round(weight, 4), value or None))
    return {key: sorted(value) for key, value in out.items()}


def lengths(directory: Path) -> dict[tuple[str, str], int]:
    ix = whoosh_index.open_dir(str(directory), indexname=INDEX_NAME)
    with ix.searcher() as searcher:
        reader = searcher.reader()
        return {
            (fields["id"], name): reader.doc_field_length(docnum, name)
            for docnum, fields in reader.iter_docs()
            for name in ("title", "content", "author", "source", "url")
        }


def whoosh_written(directory: Path, docs: list[IndexDoc]) -> None:
    """The same documents through Whoosh's own writer: the reference."""
    directory.mkdir()
    ix = whoosh_index.create_in(str(directory), make_schema(), indexname=INDEX_NAME)
    writer = SegmentWriter(ix)
    for doc in docs:
        writer.add_document(**index_directory._fields(doc))
    writer.commit()


def expected_pairs(docs: list[IndexDoc], schema: Any) -> dict[tuple[str, bytes], list[Any]]:
    """Each pair of neighbouring common words, by document, counted the slow way."""
    out: dict[tuple[str, bytes], list[Any]] = {}
    for name in ("title", "content"):
        common = schema[name].common
        for doc in docs:
            terms = schema[name].analyzer.terms(doc.title if name == "title" else doc.text)
            counts: dict[str, int] = {}
            for first, second in itertools.pairwise(terms):
                if first in common and second in common:
                    counts[f"{first} {second}"] = counts.get(f"{first} {second}", 0) + 1
            for pair, count in counts.items():
                out.setdefault((name, pair.encode()), []).append((doc.id, float(count), None))
    return {key: sorted(value) for key, value in out.items()}


def assert_written_as_whoosh(tmp_path: Path, docs: list[IndexDoc]) -> None:
    """The index in `fast` holds what Whoosh's writer wrote in `whoosh`, and the pairs."""
    written = postings(tmp_path / "fast")
    pairs = {
        key: found
        for key, found in written.items()
        if key[0] in ("title", "content") and b" " in key[1]
    }
    assert {key: found for key, found in written.items() if key not in pairs} == postings(
        tmp_path / "whoosh"
    )
    schema = whoosh_index.open_dir(str(tmp_path / "fast"), indexname=INDEX_NAME).schema
    assert pairs == expected_pairs(docs, schema)


def test_the_fast_writer_writes_what_whoosh_writes(tmp_path: Path):
    docs = make_docs(400)
    whoosh_written(tmp_path / "whoosh", docs)
    index = Index(tmp_path / "fast")
    index.apply(docs, fresh=True)
    expected = postings(tmp_path / "whoosh")
    assert_written_as_whoosh(tmp_path, docs)
    assert index.whoosh.schema["content"].common  # 400 entries are enough to choose from
    assert lengths(tmp_path / "fast") == lengths(tmp_path / "whoosh")
    assert ("content", b"vaccin") in expected  # stemmed
    assert ("content", b"cafe") in expected  # folded


def test_counts_over_255_are_written_as_whoosh_writes_them(tmp_path: Path):
    """A word's count is kept a byte each only while every count of its block fits one."""
    docs = make_docs(400)
    docs = [
        _with_text(doc, doc.text + " hospital" * 300) if i % 3 == 0 else doc
        for i, doc in enumerate(docs)
    ]
    whoosh_written(tmp_path / "whoosh", docs)
    Index(tmp_path / "fast").apply(docs, fresh=True)
    assert_written_as_whoosh(tmp_path, docs)
    weights = [weight for _, weight, _ in postings(tmp_path / "fast")[("content", b"hospit")]]
    assert max(weights) > 300 and len(weights) > 128  # more than one block, some over 255


def test_positions_past_65535_survive(tmp_path: Path):
    long = " ".join(["filler"] * 70_000 + ["needle", "filler", "needle"])
    index = Index(tmp_path / "ix")
    index.apply([_with_text(make_docs(1)[0], long)], fresh=True)
    with index.whoosh.searcher() as searcher:
        matcher = searcher.reader().postings("content", "needl")
        fmt = FastPositions()
        assert fmt.decode_positions(matcher.value()) == [70_000, 70_002]
        filler = searcher.reader().postings("content", "filler")
        assert len(fmt.decode_positions(filler.value())) == 70_001


def _with_text(doc: IndexDoc, text: str) -> IndexDoc:
    fields: dict[str, Any] = {name: getattr(doc, name) for name in doc.__slots__}  # type: ignore[attr-defined]
    fields["text"] = text
    return IndexDoc(**fields)


def test_worker_processes_write_segments_committed_with_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(index_directory, "WORKER_SHARE", 50)
    docs = make_docs(300)
    whoosh_written(tmp_path / "whoosh", docs)
    index = Index(tmp_path / "fast")
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert index.apply(docs, fresh=True, pool=pool, workers=2) == 300
    assert index.segment_count() == 3
    assert index.doc_count() == 300
    assert_written_as_whoosh(tmp_path, docs)


def test_a_pool_that_cannot_run_leaves_the_work_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(index_directory, "WORKER_SHARE", 50)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    pool.shutdown()  # submitting now raises, as a pool whose processes died would
    docs = make_docs(200)
    index = Index(tmp_path / "ix")
    with pytest.raises(RuntimeError):
        index.apply(docs, fresh=True, pool=pool, workers=1)
    assert index.doc_count() == 0  # nothing half-committed
    broken = _BrokenPool()
    assert index.apply(docs, fresh=True, pool=broken, workers=1) == 200  # type: ignore[arg-type]
    assert index.doc_count() == 200
    # Once broken, a pool refuses new work: the next batch is written here too.
    refusing = _BrokenPool(on_submit=True)
    more = make_docs(400)[200:]
    assert index.apply(more, fresh=True, pool=refusing, workers=1) == 200  # type: ignore[arg-type]
    assert index.doc_count() == 400


class _BrokenPool:
    """A pool whose worker died (or failed as given): every result raises; or, as a pool
    broken in an earlier batch does, it refuses work when it is submitted."""

    def __init__(self, error: BaseException | None = None, *, on_submit: bool = False) -> None:
        from concurrent.futures.process import BrokenProcessPool

        self.error = error or BrokenProcessPool("worker died")
        self.on_submit = on_submit

    def submit(self, *args: object) -> Any:
        from concurrent.futures import Future

        if self.on_submit:
            raise self.error
        future: Future = Future()
        future.set_exception(self.error)
        return future


def test_a_worker_that_cannot_read_its_share_leaves_it_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A worker reads a `Stored` share from the store itself; when it cannot (a locked or
    damaged file), this process reads and writes the share instead: nothing is lost."""
    import sqlite3

    from aggregator.index import Stored

    monkeypatch.setattr(index_directory, "WORKER_SHARE", 50)
    docs = {d.id: d for d in make_docs(200)}
    read: list[str] = []

    def load(ids: list[str]) -> list[Any]:
        read.extend(ids)
        return [docs[i] for i in ids]

    batch = Stored(list(docs), load)
    broken = _BrokenPool(sqlite3.OperationalError("database is locked"))
    index = Index(tmp_path / "ix")
    assert index.apply(batch, fresh=True, pool=broken, workers=1) == 200  # type: ignore[arg-type]
    assert index.doc_count() == 200
    assert index.segment_count() == 2
    sampled = read[:200]  # first, all 200 as the sample the common words are chosen from
    assert sorted(sampled) == sorted(docs)
    assert sorted(read[200:]) == sorted(docs)  # both shares read here, the worker's included


def test_merged_segments_keep_every_posting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Many small commits make Whoosh merge segments into the writer's: nothing is lost,
    pairs included."""
    monkeypatch.setattr(pairs, "LEAST_SAMPLE", 1)  # the first 20 entries choose the pairs
    docs = make_docs(240)
    whoosh_written(tmp_path / "whoosh", docs)
    index = Index(tmp_path / "fast")
    for start in range(0, 240, 20):
        index.apply(docs[start : start + 20], fresh=True)
    assert index.segment_count() < 12  # merged along the way
    assert_written_as_whoosh(tmp_path, docs)
    assert lengths(tmp_path / "fast") == lengths(tmp_path / "whoosh")


def test_merges_stay_small_and_leave_large_segments_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Small segments are merged a few at a time; a large one is never rewritten by a fetch."""
    monkeypatch.setattr(index_directory, "SMALL_SEGMENT", 50)
    monkeypatch.setattr(index_directory, "MERGE_AT", 3)
    docs = make_docs(400)
    index = Index(tmp_path / "ix")
    index.apply(docs[:200], fresh=True)  # large: 200 entries
    large = {s.segid for s in index.whoosh._segments() if s.doc_count_all() == 200}
    counts = []
    for start in range(200, 400, 10):
        index.apply(docs[start : start + 10], fresh=True)
        sizes = [s.doc_count_all() for s in index.whoosh._segments()]
        counts.append(len(sizes))
        assert max(sizes) == 200 and sum(sizes) == start + 10
        assert all(size <= 100 for size in sizes if size != 200)  # a merge stays under 2 x 50
    assert large <= {s.segid for s in index.whoosh._segments()}
    assert max(counts) <= 2 + 3 + 100 // 50
    assert index.doc_count() == 400


def test_updates_replace_and_deletes_remove(tmp_path: Path):
    index = Index(tmp_path / "ix")
    docs = make_docs(30)
    index.apply(docs, fresh=True)
    changed = [_with_text(doc, "zeppelin") for doc in docs[:5]]
    index.apply(changed, deletes=[docs[10].id])
    assert index.doc_count() == 29
    with index.whoosh.searcher() as searcher:
        reader = searcher.reader()
        found = {
            reader.stored_fields(d)["id"] for d in reader.postings("content", "zeppelin").all_ids()
        }
    assert found == {doc.id for doc in docs[:5]}


def test_merging_drops_words_only_deleted_entries_held(tmp_path: Path):
    """A word that only an edited or deleted entry held has no postings left once its
    segment is merged: the merge drops it. It was written as an empty term, which failed
    every later write of the index."""
    docs = make_docs(77)
    index = Index(tmp_path / "fast")
    index.apply(docs[:7], fresh=True)
    index.apply([replace(docs[1], title="Typo fixd")])
    index.apply([replace(docs[1], title="Typo fixed")])  # "fixd" is now held by no entry
    index.apply([], deletes=[docs[2].id])
    final = [replace(docs[1], title="Typo fixed"), *docs[3:]]
    for start in range(7, 77, 7):
        index.apply(docs[start : start + 7], fresh=True)
    assert index.segment_count() < 14  # merged along the way
    whoosh_written(tmp_path / "whoosh", [docs[0], *final])
    assert_written_as_whoosh(tmp_path, [docs[0], *final])
    assert ("title", b"fixd") not in postings(tmp_path / "fast")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_adds_edits_deletes_and_merges_leave_whoosh_s_postings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
):
    """Any history of batches (new entries, edited ones, deleted ones) with merges along the
    way leaves the postings Whoosh's own writer gives for the entries that remain, and the
    pairs of the common words the first batch chose."""
    monkeypatch.setattr(pairs, "LEAST_SAMPLE", 1)
    monkeypatch.setattr(index_directory, "SMALL_SEGMENT", 12)
    monkeypatch.setattr(index_directory, "MERGE_AT", 3)
    rng = random.Random(seed)
    pool = make_docs(200, seed=seed)
    edits = make_docs(200, seed=seed + 100)
    live: dict[str, IndexDoc] = {}
    index = Index(tmp_path / "fast")
    for _ in range(30):
        new = [pool.pop() for _ in range(min(len(pool), rng.randrange(0, 8)))]
        edited = [
            replace(rng.choice(edits), id=eid)
            for eid in rng.sample(sorted(live), min(len(live), rng.randrange(0, 4)))
        ]
        gone = rng.sample(sorted(set(live) - {d.id for d in edited}), min(len(live) // 4, 2))
        index.apply([*new, *edited], deletes=gone)
        live.update({d.id: d for d in [*new, *edited]})
        for eid in gone:
            del live[eid]
    whoosh_written(tmp_path / "whoosh", list(live.values()))
    assert index.doc_count() == len(live)
    assert_written_as_whoosh(tmp_path, list(live.values()))
    assert lengths(tmp_path / "fast") == lengths(tmp_path / "whoosh")


def test_fast_word_split_matches_the_tokenizer():
    """Indexing splits ASCII text in C; it must find the words, and so the terms, that the
    tokenizer the query parser and highlighter use finds."""
    from aggregator.index.analysis import FoldStemTokenizer

    rng = random.Random(7)
    alphabet = "abcXYZ019_ -.,'\n\t!é€Щ"
    texts = ["", " ", "one", "it's end-of-line", "Café Müller naïve", "Привет, мир", "a_b 2024"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(500)]
    fast = FoldStemTokenizer()
    for text in texts * 2:  # the second pass is answered from the caches
        assert fast.terms(text) == [t.text for t in FoldStemTokenizer()(text)], text


def test_words_and_their_offsets_are_the_regex_s():
    """Snippets split ASCII text in C and work out two offsets from the pieces; words and
    offsets must be those `\\w+` gives, whatever the runs of other characters."""
    import re

    from aggregator.index.analysis import words_at

    rng = random.Random(11)
    alphabet = "abcXYZ019_ -.,'\n\t!é€Щ"
    texts = ["", " ", "  ", "one", ",,lead", "trail,,", "a  b", "Café Müller", "a_b 2024"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(500)]
    texts += [
        "".join(rng.choice(alphabet[:15]) for _ in range(rng.randint(0, 60))) for _ in range(500)
    ]
    for text in texts:
        words, start_of = words_at(text)
        found = list(re.finditer(r"\w+", text))
        assert words == [m.group() for m in found], text
        assert [start_of(k) for k in range(len(words))] == [m.start() for m in found], text


def test_a_full_word_cache_stops_growing_and_still_answers(monkeypatch: pytest.MonkeyPatch):
    from aggregator.index import analysis

    monkeypatch.setattr(analysis, "CACHE_WORDS", 50)
    tokenizer = analysis.FoldStemTokenizer()
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = [f"walk{a}{b}ing" for a in letters[:10] for b in letters[:20]]  # 200, > 50
    text = " ".join(words)
    want = [t.text for t in analysis.FoldStemTokenizer()(text)]
    assert sum(term != word for term, word in zip(want, words, strict=True)) > 100  # stemmed
    assert tokenizer.terms(text) == want
    assert tokenizer.terms(text) == want  # the second time partly from the cache
    assert len(tokenizer._ascii) == 50 and len(tokenizer._cache) == 0


def test_postings_of_other_fields_are_whoosh_s():
    """The shortcuts for ids, dates and URLs (and the remembered categories) give exactly
    what Whoosh's own `field.index` gives, value by value."""
    schema = make_schema()
    values: dict[str, list[Any]] = {
        "id": ["e1", "Ünïcode id with spaces", "https://x.example/a?b=c#d"],
        "canonical": ["https://x.example/a", "e2"],
        "source_url": ["https://s.example/feed", "https://s.example/feed"],
        "topic": ["Medicine/Oncology", "-", "Travel"],
        "category": ["medicine,medicine/oncology,oncology", "-", "travel", "travel"],
        "url": [
            index_directory.fold("https://Example.com/News/2024/café-café_x?id=1&id=1"),
            "https://example.com/a/a/a/b",
            "",
        ],
        "published": [
            datetime(2024, 6, 1, 12, 30, 5, 123456),
            datetime(1950, 1, 1),
            datetime(1970, 1, 1),
            datetime(9999, 12, 31, 23, 59, 59),
        ],
    }
    # Whoosh also takes a list of values, and a date as its bytes.
    values["id"].append(["a", "b"])
    values["category"].append(["travel", "travel"])
    values["url"].append(("https://a.example", "https://b.example"))
    values["published"].append(schema["published"].to_bytes(datetime(2024, 1, 1)))
    for name, field_values in values.items():
        field = schema[name]
        make = segments._postings_maker(field)
        for value in field_values:
            assert make(value) == list(field.index(value)), (name, value)
