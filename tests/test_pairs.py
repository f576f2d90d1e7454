"""Pairs of common words: a phrase of two of them is one term, found as its positions would
find it, ranked by how often the phrase itself is there; nothing else changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from whoosh import query as Q

from aggregator.config import load_settings
from aggregator.extract import html_to_text
from aggregator.index import FoldStemTokenizer, Index, Stored, pairs
from aggregator.index.ranking import Ranker
from aggregator.library import Library, open_library
from aggregator.models import EntryDraft, IndexDoc
from aggregator.search import parse_query
from tests.test_index import FEED, make_home
from tests.test_index_segments import make_docs
from tests.test_ranking import SCORED, ranked_index

NOW = datetime(2025, 1, 1, tzinfo=UTC)
BUDGET = pairs.PAIR_BUDGET
PHRASES = ['"of the"', '"the hospital"', '"vaccine trial"', '"and to"', 'title:"the vote"']


@pytest.fixture(autouse=True)
def every_common_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """These entries draw their words evenly from a small vocabulary: with the budget, which
    of them are paired would be chance (the budget's own tests set it back)."""
    monkeypatch.setattr(pairs, "PAIR_BUDGET", 10**9)


@pytest.fixture(scope="module")
def unpaired(tmp_path_factory: pytest.TempPathFactory) -> Index:
    return ranked_index(tmp_path_factory.mktemp("pairs") / "unpaired", paired=False)


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> Index:
    index = ranked_index(tmp_path_factory.mktemp("pairs") / "paired", paired=True)
    assert {"the", "of", "hospit", "vaccin", "trial"} <= index.whoosh.schema["content"].common
    return index


def found(index: Index, text: str) -> tuple[set[str], int, dict[str, float]]:
    """The ids a query matches, its count, and the scores of the ids."""
    query = parse_query(text, now=NOW).query
    with index.whoosh.searcher() as searcher:
        matches = Ranker(searcher).matches(query)
        scores = {searcher.stored_fields(d)["id"]: s for d, s in matches.scores().items()}
        return set(scores), len(matches), scores


@pytest.mark.parametrize("text", PHRASES)
def test_a_phrase_of_common_words_finds_what_its_positions_find(
    unpaired: Index, paired: Index, text: str
):
    query = parse_query(text, now=NOW).query
    assert pairs.paired(query, paired.whoosh.schema) != query  # asked of the pairs
    assert pairs.paired(query, unpaired.whoosh.schema) is query
    ids, count, _ = found(paired, text)
    expected, _, _ = found(unpaired, text)
    assert ids == expected and count == len(expected)
    assert ids


UNPAIRED = [t for t in SCORED if not (t.startswith('"') and len(t.split()) == 2)]


@pytest.mark.parametrize("text", [*UNPAIRED, "th*", "hospitl~", '"the hospital of"', "of"])
def test_everything_but_a_phrase_of_two_common_words_scores_as_before(
    unpaired: Index, paired: Index, text: str
):
    """Pairs add terms, not words: lengths, wildcards, fuzzy terms and longer phrases are
    untouched."""
    assert found(paired, text)[2] == pytest.approx(found(unpaired, text)[2], rel=1e-6)


def doc(eid: str, text: str) -> IndexDoc:
    return IndexDoc(
        id=eid,
        title="",
        text=text,
        author="",
        source="s",
        source_url="https://s.example/feed",
        category="",
        url=f"https://s.example/{eid}",
        published=None,
        canonical_url=f"https://s.example/{eid}",
    )


def test_a_pair_ranks_by_how_often_the_phrase_itself_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`once` holds "of" and "the" more often, `often` holds the phrase more often (at the
    same length): ranked by the words' scores summed, `once` came first."""
    monkeypatch.setattr(pairs, "LEAST_SAMPLE", 1)
    once = doc("once", "of the" + " the" * 8 + " of" * 8)
    often = doc("often", "of the " * 5 + "visa " * 8)
    filler = [doc(f"f{i}", "of the border " * (i + 1)) for i in range(4)]
    index = Index(tmp_path / "ix")
    index.apply([once, often, *filler], fresh=True)
    query = parse_query('"of the"', now=NOW).query
    with index.whoosh.searcher() as searcher:
        top = Ranker(searcher).matches(query).top(6)
        ranked = [searcher.stored_fields(d)["id"] for d, _ in top]
    assert ranked.index("often") < ranked.index("once")


def test_searching_never_offers_a_pair_as_a_word(paired: Index):
    with paired.whoosh.searcher() as searcher:
        segment = Ranker(searcher).segments[0]
        expanded = segment.expand(Q.Prefix("content", "th"))
        fuzzy = segment.expand(Q.FuzzyTerm("content", "ofthe", maxdist=2))
    assert b"the" in expanded and not [t for t in expanded + fuzzy if b" " in t]
    assert pairs.is_pair(b"of the") and not pairs.is_pair(b"of")


def test_a_small_first_batch_pairs_nothing_until_a_reindex_chooses(tmp_path: Path):
    docs = {d.id: d for d in make_docs(300, seed=9)}
    ids = list(docs)
    index = Index(tmp_path / "ix")
    index.apply([docs[i] for i in ids[:50]], fresh=True)  # too few to choose from
    index.apply([docs[i] for i in ids[50:]], fresh=True)
    assert not index.whoosh.schema["content"].common
    before = found(index, '"of the"')[:2]

    def load(some: list[str]) -> list[IndexDoc]:
        return [docs[i] for i in some]

    index.replace_all([Stored(ids[:150], load), Stored(ids[150:], load)])
    assert "the" in index.whoosh.schema["content"].common
    assert pairs.paired(parse_query('"of the"', now=NOW).query, index.whoosh.schema) != (
        parse_query('"of the"', now=NOW).query
    )
    assert found(index, '"of the"')[:2] == before


@pytest.mark.parametrize(
    ("common", "sampled", "entries", "due"),
    [
        (frozenset(), 50, 199, False),  # still too few to choose from
        (frozenset(), 50, 200, True),
        (frozenset(), None, 200, True),  # an index from before the count was kept
        (frozenset({"the"}), None, 10**6 // 100, False),  # it had enough to choose
        (frozenset({"the"}), 300, 2_999, False),
        (frozenset({"the"}), 300, 3_000, True),  # ten times what it was chosen from
        (frozenset(), 300, 3_000, True),  # none was common in 300: ask again at 3,000
        (frozenset({"the"}), 1_000, 10**6 // 100, False),  # a whole sample: settled
        (frozenset(), 150, pairs.REWRITE_MOST + 1, False),  # too large to rewrite unasked
    ],
)
def test_an_index_chooses_again_once_it_outgrows_a_choice_from_few_entries(
    common: frozenset[str], sampled: int | None, entries: int, due: bool
):
    assert pairs.outgrown(common, sampled, entries) is due


@pytest.mark.parametrize(
    ("indexed", "due"),
    [
        (150, True),  # a big list added to a small library: its 150 are indexed again
        (pairs.REWRITE_MOST, True),
        (pairs.REWRITE_MOST + 1, False),  # what would be indexed again is too much
    ],
)
def test_a_library_growing_past_the_bound_at_once_is_rewritten_for_what_it_held(
    indexed: int, due: bool
):
    assert pairs.outgrown(frozenset(), 150, 10 * pairs.REWRITE_MOST, indexed) is due


def _growing(tmp_path: Path) -> tuple[Library, Callable[[int], int], Callable[[], object]]:
    """A library of one feed, a way to store its stories up to a number and index them,
    and the content field as the index last committed it."""
    home, opml = make_home(tmp_path)
    library = open_library(load_settings(data_dir=str(home), opml=str(opml)))
    texts = [d.text for d in make_docs(300, seed=9)]

    def grow(upto: int) -> int:
        start = len(library.store.entry_ids())
        library.store.upsert_entries(
            FEED,
            [
                EntryDraft(guid=f"g{i}", title=f"story {i}", text=texts[i])
                for i in range(start, upto)
            ],
        )
        return library.update_index()

    def content() -> object:  # the schema as committed, read afresh
        return Index(library.settings.index_dir).whoosh.schema["content"]

    return library, grow, content


def test_a_list_added_to_a_small_library_is_indexed_in_a_rewrite_that_chooses_pairs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A library of one feed that takes in a list of many in one fetch went past
    REWRITE_MOST in that fetch: its index was never rewritten, and phrases of common words
    stayed slow until a `reindex`. Now the rewrite takes the place of indexing the batch."""
    monkeypatch.setattr(pairs, "REWRITE_MOST", 100)  # 300 entries stand for a big list
    library, grow, content = _growing(tmp_path)
    assert grow(50) == 50
    assert not pairs.common_of(content())
    assert grow(300) == 250
    assert "the" in pairs.common_of(content()) and pairs.sampled_of(content()) == 300
    assert library.stats().pending_index == 0
    assert library.search('"of the"', limit=1).total > 0


def test_a_library_that_started_small_chooses_its_pairs_as_it_grows(tmp_path: Path):
    library, grow, content = _growing(tmp_path)

    def phrase() -> tuple[int, set[str]]:
        found = library.search('"of the"', limit=500)
        return found.total, {hit.id for hit in found.hits}

    assert grow(50) == 50
    assert not pairs.common_of(content()) and pairs.sampled_of(content()) == 50
    assert grow(150) == 100  # 150 entries: still too few to choose from
    assert not pairs.common_of(content())
    assert grow(300) == 150
    assert "the" in pairs.common_of(content()) and pairs.sampled_of(content()) == 300
    assert not Index(library.settings.index_dir).pairs_outgrown()
    written = phrase()
    assert written[0] > 0
    library.reindex()  # what a rebuild from the start would give
    assert phrase() == written


def _postings(texts: list[str], common: frozenset[str]) -> tuple[int, int]:
    """The words' and the pairs' postings these texts give with these common words."""
    terms = [FoldStemTokenizer().terms(t) for t in texts]
    return sum(len(set(t)) for t in terms), sum(len(pairs.pair_counts(t, common)) for t in terms)


def test_a_small_vocabulary_pairs_only_its_commonest_words(monkeypatch: pytest.MonkeyPatch):
    """Text that repeats a few hundred words makes more pairs than words: indexing them all
    took twice as long. Its commonest words are paired, up to the budget."""
    texts = [d.text for d in make_docs(400, seed=5)]
    analyzer = FoldStemTokenizer()
    monkeypatch.setattr(pairs, "PAIR_BUDGET", BUDGET)
    chosen = pairs.choose_common(texts, analyzer)
    monkeypatch.setattr(pairs, "PAIR_BUDGET", 10**9)
    every = pairs.choose_common(texts, analyzer)
    assert chosen and chosen < every
    words, paired = _postings(texts, chosen)
    assert paired <= BUDGET * words < _postings(texts, every)[1]
    seen = Counter(t for text in texts for t in set(analyzer.terms(text)))
    assert min(seen[t] for t in chosen) >= max(seen[t] for t in every - chosen)


def test_real_prose_keeps_every_common_word(corpus: Path, monkeypatch: pytest.MonkeyPatch):
    """On the corpus's articles the common words give pairs under half as many as the
    words: the budget leaves them all."""
    pages = sorted((corpus / "readability-test-pages/test/test-pages").glob("*/expected.html"))
    texts = [html_to_text(p.read_text(encoding="utf-8", errors="replace")) for p in pages]
    monkeypatch.setattr(pairs, "LEAST_SAMPLE", 50)  # 130 articles, not a thousand entries
    monkeypatch.setattr(pairs, "PAIR_BUDGET", BUDGET)
    chosen = pairs.choose_common(texts, FoldStemTokenizer())
    monkeypatch.setattr(pairs, "PAIR_BUDGET", 10**9)
    assert len(chosen) > 50 and chosen == pairs.choose_common(texts, FoldStemTokenizer())


def test_a_near_word_scores_as_before_beside_a_common_pair_as_near(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`tothe~` is as near the pair "to the" (in every entry) as the word `tithe` (in a
    few): the pair's idf, the lowest, set the score of every near word (QA)."""
    monkeypatch.setattr(pairs, "LEAST_SAMPLE", 1)
    docs = [doc(f"d{i}", f"went to the {'market' if i % 2 else 'city'} {i}") for i in range(40)]
    docs += [doc(f"t{i}", "tithe " * (i + 1) + "went to the city") for i in range(3)]
    paired, unpaired = Index(tmp_path / "paired"), Index(tmp_path / "unpaired")
    paired.apply(docs, fresh=True)
    monkeypatch.setattr(pairs, "LEAST_SAMPLE", 10**9)
    unpaired.apply(docs, fresh=True)
    assert "to the" in {p.decode() for p in paired.whoosh.reader().lexicon("content")}
    scores = found(paired, "tothe~")[2]
    assert set(scores) == {"t0", "t1", "t2"}
    assert scores == pytest.approx(found(unpaired, "tothe~")[2], rel=1e-6)
