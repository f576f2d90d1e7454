"""Word pairs: two common words that follow each other, indexed as one term.

A phrase of common words ("not yet", "for comment") has nearly every entry as a candidate,
and checking their positions cost more than all the rest of a search. Each pair of
neighbouring words that are both common in the library is therefore indexed as a term of
its own: `"not yet"`, the two terms with a space between (no word's term holds a space).
Such a phrase is then one term: its entries are exactly that term's, ranked by block-max
like a single word, and scored as one (BM25 of how often the phrase itself is in the entry,
the pair's own rarity as its idf), as Lucene's common grams do. A pair keeps no positions:
its count is all a phrase of two words needs.

Which words are common is chosen for an index written whole, from a sample of the entries it
is written from, and kept in the schema with the segments it applies to: every segment then
holds every pair of those words, and a merge keeps them. `reindex` chooses again, and so does
a library that has `outgrown` a choice made from a few entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import compress, islice, pairwise, repeat
from operator import and_
from typing import Any

from whoosh import query as Q

COMMON_SHARE = 0.4
"""A word in at least this share of the sampled entries is common."""
MOST_COMMON = 300
"""At most this many common words: the pairs indexed grow with their square."""
PAIR_BUDGET = 0.5
"""Pairs' postings at most this share of the words' (in the sample). Indexing costs in
proportion to postings, and a pair's cost about a word's: on the corpus's articles the
common words give pairs 0.42 times as many as the words, and all are kept; text that repeats
a small vocabulary (the benchmarks' farm) gave 1.7 times as many, and indexing took twice as
long as without pairs. Phrases of the commonest words, the costliest to check, keep theirs."""
SAMPLE = 1_000
"""Entries sampled to choose the common words."""
LEAST_SAMPLE = 200
"""Fewer entries than this say too little: no pairs until the index is written whole again."""
GROWTH = 10
"""A choice made from fewer than SAMPLE entries is made again once the index holds this many
times as many (or LEAST_SAMPLE, when it was made from fewer)."""
REWRITE_MOST = 20_000
"""An index larger than this is not rewritten unasked (about 15 s here): `reindex` does it."""
PAIRED_FIELDS = ("title", "content")
"""The fields that hold pairs: a phrase searches both, and one term in each is ranked as a
single word is (`words.word_terms`)."""
SEPARATOR = " "
_SEPARATOR_BYTES = SEPARATOR.encode()


def choose_common(texts: Iterable[str], analyzer: Any) -> frozenset[str]:
    """The terms in at least COMMON_SHARE of `texts` (at most MOST_COMMON, the commonest),
    cut to the commonest whose pairs the sample holds no more than PAIR_BUDGET times as
    often as it holds words. Commonest: in most texts, then most often (a small vocabulary
    has many words in every text, and the most frequent make the costliest phrases)."""
    seen: Counter[str] = Counter()
    occurs: Counter[str] = Counter()
    docs: list[list[str]] = []
    for text in texts:
        terms = analyzer.terms(text)
        seen.update(set(terms))
        occurs.update(terms)
        docs.append(terms)
    if len(docs) < LEAST_SAMPLE:
        return frozenset()
    floor = COMMON_SHARE * len(docs)
    ranked = sorted(
        (t for t, n in seen.items() if n >= floor), key=lambda t: (-seen[t], -occurs[t], t)
    )
    ranked = ranked[:MOST_COMMON]
    return frozenset(ranked[: _within_budget(ranked, docs)])


def _within_budget(ranked: list[str], docs: list[list[str]]) -> int:
    """How many of the `ranked` words (commonest first) to pair so that the pairs' postings
    stay within PAIR_BUDGET of the words' in these `docs`.

    A pair is indexed when both its words are chosen, so the pairs the first k words give
    are those whose rarer word ranks below k: counted once by that rank, they sum up.
    """
    rank = {term: i for i, term in enumerate(ranked)}
    beyond = len(ranked)
    by_rank = [0] * (beyond + 1)
    words = 0
    for terms in docs:
        words += len(set(terms))
        ranks = list(map(rank.get, terms, repeat(beyond)))
        for pair in set(pairwise(ranks)):
            by_rank[max(pair)] += 1
    budget = PAIR_BUDGET * words
    postings = 0
    for k in range(beyond):
        postings += by_rank[k]
        if postings > budget:
            return k
    return beyond


def common_of(field: Any) -> frozenset[str]:
    """The common words a field's pairs are made of (none for an index made before pairs)."""
    return getattr(field, "common", frozenset())


def sampled_of(field: Any) -> int | None:
    """How many entries the index was written from when its common words were chosen (None
    for an index made before this was kept)."""
    return getattr(field, "sampled", None)


def outgrown(
    common: frozenset[str], sampled: int | None, entries: int, indexed: int | None = None
) -> bool:
    """Whether an index should choose its common words again once it holds the library's
    `entries`; `indexed`: the entries it holds now (all of them, by default).

    A library that starts with one feed has too few entries to choose from, or a choice that
    says more about that feed than about the library it becomes; rewriting it whole is cheap
    while it is small, and each rewrite is from at least GROWTH times as many entries, so the
    rewrites cost at most a ninth of what indexing them cost. Done in place of indexing the
    entries that take the library there (a list of a hundred feeds added to one), it costs
    only the entries indexed before: more than REWRITE_MOST of those is left to `reindex`.
    """
    if settled(common, sampled):
        return False
    sampled = _sampled(common, sampled)
    due = LEAST_SAMPLE if sampled < LEAST_SAMPLE else GROWTH * sampled
    return due <= entries and (entries if indexed is None else indexed) <= REWRITE_MOST


def settled(common: frozenset[str], sampled: int | None) -> bool:
    """Whether the choice was made from a whole sample: no growth asks for it again."""
    return _sampled(common, sampled) >= SAMPLE


def _sampled(common: frozenset[str], sampled: int | None) -> int:
    if sampled is None:  # kept since: an index with words had enough, one without did not
        return SAMPLE if common else 0
    return sampled


def pair_counts(terms: Sequence[str], common: frozenset[str]) -> Counter[str]:
    """Each pair of neighbouring common terms, with how often it is in `terms`.

    Counted, not placed: a phrase of two words needs no positions once it is a term, and
    leaving them out keeps indexing (every step here runs in C) and the index small.
    """
    if not common or len(terms) < 2:
        return Counter()
    flags = list(map(common.__contains__, terms))
    both = list(map(and_, flags, flags[1:]))
    firsts = compress(terms, both)
    seconds = compress(islice(terms, 1, None), both)
    return Counter(map(SEPARATOR.join, zip(firsts, seconds, strict=False)))


def is_pair(term: str | bytes) -> bool:
    """A pair's term (as text or as the index's bytes), which wildcards, fuzzy terms and
    suggestions must not offer as a word."""
    return (SEPARATOR if isinstance(term, str) else _SEPARATOR_BYTES) in term


def paired(query: Any, schema: Any) -> Any:
    """`query` with each phrase of two common words (next to each other) made its pair's term."""
    if isinstance(query, Q.Phrase):
        words = query.words
        if len(words) != 2 or query.slop != 1 or query.fieldname not in schema:
            return query
        common = common_of(schema[query.fieldname])
        if words[0] in common and words[1] in common:
            return Q.Term(query.fieldname, SEPARATOR.join(words), boost=query.boost)
        return query
    if query.is_leaf():
        return query
    children = list(query.children())
    changed = [paired(q, schema) for q in children]
    if all(a is b for a, b in zip(changed, children, strict=True)):
        return query
    if isinstance(query, Q.CompoundQuery):  # Whoosh's `apply` would drop an Or's scale
        copied = query.copy()
        copied.subqueries = changed
        return copied
    given = iter(changed)  # `apply` asks for the children in the order `children` gave them
    return query.apply(lambda _: next(given))
