"""The whole-postings ranker finds what Whoosh's matchers find, scores it as they do, and
counts facets as Whoosh's grouping does, over several segments with deletions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from whoosh import query as Q
from whoosh import sorting

from aggregator.index import Index, pairs, phrases, ranking, reading
from aggregator.index.codec import IMPACTS_FROM, MAX_IMPACTS, unpacked_impacts
from aggregator.index.ranking import Ranker, Unsupported, evaluate
from aggregator.index.words import WordMatches
from aggregator.search import parse_query
from tests.test_index_segments import make_docs

NOW = datetime(2025, 1, 1, tzinfo=UTC)
SCORED = [
    "vaccine",
    "café",
    "Santé",
    "vaccine trial",
    "vaccine OR border",
    "vaccine -fever",
    "vaccine NOT fever",
    "title:hospital",
    "category:medicine clinic",
    "category:travel/asia",
    '"vaccine trial"',
    '"the hospital of"',
    '"running runner"',
    "author:pérez vote",
    "source:lancet",
    "election published:2024-01",
    "published:[2024-01-05 to 2024-02-01]",
    "senate published:>2024-02-01",
    "(vaccine OR visa) budget -naïve",
    "the",
    "nosuchword",
    "nosuchword OR vaccine",
]
EXPANDED = ["vacc*", "hosp*", "clinc~", "budgte~2"]
"""Prefixes and fuzzy terms: the same documents; their scores are the ranker's own."""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    return ranked_index(tmp_path_factory.mktemp("ranking") / "ix", paired=False)


def ranked_index(directory: Path, *, paired: bool) -> Index:
    """Three segments with deletions. Unpaired, a phrase is checked by its positions (which
    these tests compare with Whoosh's); `test_pairs` uses the same entries paired."""
    index = Index(directory)
    with pytest.MonkeyPatch.context() as patch:
        if not paired:
            patch.setattr(pairs, "LEAST_SAMPLE", 10**9)  # too few entries to choose from
        else:  # every common word of this small vocabulary, whatever its pairs cost
            patch.setattr(pairs, "PAIR_BUDGET", 10**9)
        index.apply(make_docs(300, seed=3), fresh=True)
    index.apply(make_docs(250, seed=4, prefix="e"), fresh=True)  # a second segment
    gone = [f"d{i}" for i in range(0, 300, 9)]
    changed = [replace(d, title="vaccine rewritten") for d in make_docs(40, seed=3)[::4]]
    index.apply(changed, deletes=gone)  # deletions in the first segment, a third segment
    assert index.segment_count() == 3
    return index


def both(index: Index, text: str) -> tuple[dict[int, float], dict[int, float]]:
    """Whoosh's matches with their scores, and the ranker's."""
    query = parse_query(text, now=NOW).query
    with index.whoosh.searcher() as searcher:
        expected = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
        return expected, Ranker(searcher).matches(query).scores()


@pytest.mark.parametrize("text", SCORED)
def test_same_documents_and_scores_as_whoosh(index: Index, text: str):
    expected, found = both(index, text)
    assert found.keys() == expected.keys()
    for docnum, score in expected.items():
        assert found[docnum] == pytest.approx(score, rel=1e-9, abs=1e-9), docnum


@pytest.mark.parametrize("text", EXPANDED)
def test_same_documents_as_whoosh_for_expanded_terms(index: Index, text: str):
    expected, found = both(index, text)
    assert expected, text
    assert found.keys() == expected.keys()


def test_the_top_is_whoosh_order_and_newest_is_by_date(index: Index):
    query = parse_query("vaccine OR hospital", now=NOW).query
    with index.whoosh.searcher() as searcher:
        matches = Ranker(searcher).matches(query)
        expected = [h.docnum for h in searcher.search(query, limit=15)]
        assert [d for d, _ in matches.top(15)] == expected
        newest = matches.top(15, newest=True)
        dates = [searcher.stored_fields(d).get("published") or datetime.min for d, _ in newest]
        assert dates == sorted(dates, reverse=True)
        by_whoosh = searcher.search(
            query, limit=15, sortedby=sorting.FieldFacet("published", reverse=True)
        )
        assert dates == [h.get("published") or datetime.min for h in by_whoosh]


@pytest.mark.parametrize("text", ["vaccine", "the OR of", "naïve", "visa -the"])
def test_facets_match_whoosh_grouping(index: Index, text: str):
    """Common (counted by their complement) and rare words alike."""
    query = parse_query(text, now=NOW).query
    with index.whoosh.searcher() as searcher:
        matches = Ranker(searcher).matches(query)
        results = searcher.search(
            query,
            limit=None,
            groupedby={
                "topic": sorting.FieldFacet("topic", maptype=sorting.Count),
                "source_url": sorting.FieldFacet("source_url", maptype=sorting.Count),
            },
        )
        for column in ("topic", "source_url"):
            assert dict(matches.facets(column)) == results.groups(column)


def test_filters_restrict_and_exclude(index: Index):
    query = parse_query("vaccine", now=NOW).query
    only = Q.Term("category", "medicine")
    deny = Q.Or([Q.Term("id", "d1"), Q.Term("id", "e2"), Q.Term("id", "e5")])
    with index.whoosh.searcher() as searcher:
        expected = {h.docnum for h in searcher.search(query, limit=None, filter=only, mask=deny)}
        found = Ranker(searcher).matches(query, only, deny).scores()
    assert found.keys() == expected
    assert expected


def test_deleted_documents_never_come_back(index: Index):
    with index.whoosh.searcher() as searcher:
        ranker = Ranker(searcher)
        ids = {searcher.stored_fields(d)["id"] for d in ranker.matches(Q.Every()).scores()}
    gone = {f"d{i}" for i in range(0, 300, 9)} - {f"d{i}" for i in range(0, 40, 4)}
    assert "d9" in gone and not ids & gone
    assert {"d0", "d1", "e0"} <= ids  # d0 deleted, then written again
    assert len(ids) == 300 - len(gone) + 250


def test_require_and_andmaybe_are_whoosh_s_compositions(index: Index):
    """`a REQUIRE b`: a's documents that b also matches, scored by a; `a ANDMAYBE b`: a's
    documents, with b's score added where b matches. (Whoosh's own REQUIRE fails an
    assertion while skipping blocks, so each side is Whoosh's and the composition checked.)"""
    a, _ = both(index, "vaccine")
    b, _ = both(index, "trial")
    _, required = both(index, "vaccine REQUIRE trial")
    _, maybe = both(index, "vaccine ANDMAYBE trial")
    assert required == pytest.approx({d: s for d, s in a.items() if d in b})
    assert maybe == pytest.approx({d: s + b.get(d, 0.0) for d, s in a.items()})
    assert 0 < len(required) < len(maybe) == len(a)


@pytest.mark.parametrize("text", ["-vaccine -trial", "NOT vaccine NOT trial"])
def test_only_exclusions_are_every_live_entry_but_theirs(index: Index, text: str):
    """Whoosh's inverse matcher lets a deleted document through when the excluded word's
    postings run out before it: the ranker starts from the live documents."""
    excluded = both(index, "vaccine OR trial")[0].keys()
    with index.whoosh.searcher() as searcher:
        live = Ranker(searcher).matches(Q.Every()).scores().keys()
    _, found = both(index, text)
    assert found == dict.fromkeys(live - excluded, 2.0)  # 1.0 per exclusion, as Whoosh
    assert found


def test_an_unknown_query_node_is_left_to_whoosh(index: Index):
    span = Q.SpanNear(Q.Term("content", "vaccin"), Q.Term("content", "trial"))
    with index.whoosh.searcher() as searcher, pytest.raises(Unsupported):
        evaluate(span, Ranker(searcher).segments[0])


@pytest.mark.parametrize(
    "text", ['vaccine "a b" vacc*', '"night train"', "vaccine", "vacc*", "title:x published:2024"]
)
def test_an_empty_index_ranks_nothing(tmp_path: Path, text: str):
    index = Index(tmp_path / "empty")
    with index.whoosh.searcher() as searcher:
        matches = Ranker(searcher).matches(parse_query(text, now=NOW).query)
        assert len(matches) == 0 and matches.scores() == {}
        assert matches.top(10, newest=True) == []
        assert matches.facets("topic") == {}
        page = Ranker(searcher).page(parse_query(text, now=NOW).query, None, None, 10, False)
        assert (page.total, page.rows) == (0, [])


@pytest.mark.parametrize("text", ['"the hospital"', '"vaccine trial"', '"of the"'])
def test_a_common_phrase_is_checked_lazily_with_the_same_page(
    index: Index, text: str, monkeypatch: pytest.MonkeyPatch
):
    query = parse_query(text, now=NOW).query
    with index.whoosh.searcher() as searcher:
        exact = Ranker(searcher).matches(query)
        monkeypatch.setattr(ranking, "LAZY_PHRASES", 5)
        monkeypatch.setattr(phrases, "SAMPLE", 60)
        lazy = Ranker(searcher).matches(query)
        assert exact.exact and not lazy.exact
        assert lazy.top(10) == exact.top(10)
        assert lazy.top(10, newest=True) == exact.top(10, newest=True)
        assert lazy.scores() == exact.scores()  # checked in full when asked
        assert len(lazy) == pytest.approx(len(exact), rel=0.35)
        assert set(lazy.facets("topic")) <= set(exact.facets("topic"))
        monkeypatch.setattr(reading, "BLOCK_CACHE_SIZE", 1)  # blocks read again, same answer
        capped = Ranker(searcher).matches(query)
        assert capped.top(10) == exact.top(10) and capped.scores() == exact.scores()
        caches = [c._decoded for _, found, _ in capped.parts for p in found for c in p._blocks]
        assert caches and all(len(cache) <= 1 for cache in caches)


@pytest.mark.parametrize("text", ["vaccine", "the", "café", "hospital", "title:hospital"])
def test_a_single_word_ranked_by_block_bounds_gives_the_full_answer(index: Index, text: str):
    """A word's page comes from the blocks whose bound can reach it; the page, the count and
    the facets are those of scoring every match (a filter that keeps everything takes the
    general way)."""
    query = parse_query(text, now=NOW).query
    with index.whoosh.searcher() as searcher:
        ranker = Ranker(searcher)
        word = ranker.matches(query)
        full = ranker.matches(query, restrict=Q.Every())
        assert isinstance(word, WordMatches) and not isinstance(full, WordMatches)
        assert len(word) == len(full) > 0
        assert word.scores() == full.scores()
        assert word.top(0) == full.top(0) == []
        for limit in (1, 5, 15, 1000):
            assert word.top(limit) == full.top(limit)
            assert word.top(limit, newest=True) == full.top(limit, newest=True)
        for column in ("topic", "source_url"):
            assert word.facets(column) == full.facets(column)


@pytest.mark.parametrize("text", ["the", "vaccine"])
def test_a_word_s_full_blocks_are_bounded_by_their_best_score(index: Index, text: str):
    """A block of many postings keeps its impacts: they give its best document's score
    (exactly unless merged; the writer's length bytes are the index's), so blocks are passed
    over that the header's bound (largest weight at the shortest length) would score."""
    query = parse_query(text, now=NOW).query
    with index.whoosh.searcher() as searcher:
        word = Ranker(searcher).matches(query)
        assert isinstance(word, WordMatches)
        full = [(p, b) for p in word.parts for b in p.blocks if len(b.ids) >= IMPACTS_FROM]
        assert full
        for part, block in full:  # the content's scores (a title's are ranked apart)
            norms = map(part.doc_norms.__getitem__, block.ids)
            best = max(reading.bm25(part.factor, block.weights, norms))
            assert block.impacts is not None
            bound = reading.impacts_bound(block.impacts, part.factor, part.norms)
            merged = len(unpacked_impacts(block.impacts)[1]) == MAX_IMPACTS
            assert bound >= best and (merged or bound == best)
            assert block.bound >= best
