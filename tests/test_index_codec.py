"""Postings written in the three-part blocks read back exactly, skip as Whoosh's do, and
leave positions unread until asked for."""

from __future__ import annotations

import random
from array import array

import pytest
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import RamStorage
from whoosh.formats import Existence, Frequency
from whoosh.matching import ListMatcher
from whoosh.util.numeric import byte_to_length, length_to_byte

from aggregator.index.analysis import FastPositions, encode_positions
from aggregator.index.codec import (
    IMPACTS_FROM,
    MAX_IMPACTS,
    FastCodec,
    FastLeafMatcher,
    impacts,
    unpacked_impacts,
)
from aggregator.index.reading import TermBlocks, bm25, current_block, postings_blocks
from aggregator.index.segments import _write_blocks


def write_and_read(
    fmt, postings: list[tuple[int, float, bytes]]
) -> tuple[FastLeafMatcher, RamStorage]:
    storage = RamStorage()
    postfile = storage.create_file("test.pst")
    writer = FastCodec().postings_writer(postfile)
    terminfo = W3TermInfo()
    writer.start_postings(fmt, terminfo)
    for docnum, weight, value in postings:
        writer.add_posting(docnum, weight, value, length=10)
    writer.finish_postings()
    postfile.close()
    matcher = FastCodec().postings_reader(
        storage.open_file("test.pst"), terminfo, fmt, term=("f", b"t")
    )
    return matcher, storage


def read_all(matcher) -> list[tuple[int, float, bytes]]:
    out = []
    while matcher.is_active():
        out.append((matcher.id(), matcher.weight(), matcher.value()))
        matcher.next()
    return out


def make_postings(n: int, gap: int, weights: str, seed: int = 5) -> list[tuple[int, float, bytes]]:
    rng = random.Random(seed)
    docnum, out = 0, []
    for i in range(n):
        docnum += rng.randrange(1, gap + 1) if i else rng.randrange(0, gap)
        weight = {
            "ones": 1.0,
            "same": 2.0,
            "mixed": float(rng.randrange(1, 9)),  # whole counts under 256: a byte each
            "large": float(rng.choice([1, 2, 300])),  # a count over 255: floats
            "fractions": rng.choice([0.5, 1.0, 2.25]),  # a boost: floats
        }[weights]
        positions = sorted(rng.sample(range(0, 90_000), max(1, int(weight))))
        out.append((docnum, weight, encode_positions(positions)))
    return out


@pytest.mark.parametrize("n", [1, 3, 128, 129, 1000])
@pytest.mark.parametrize("gap", [2, 300, 70_000])
@pytest.mark.parametrize("weights", ["ones", "same", "mixed", "large", "fractions"])
def test_postings_read_back_exactly(n: int, gap: int, weights: str):
    postings = make_postings(n, gap, weights)
    matcher, _ = write_and_read(FastPositions(), postings)
    # One posting is kept in the term's row (read through Whoosh's list matcher).
    assert isinstance(matcher, ListMatcher if n == 1 else FastLeafMatcher)
    assert read_all(matcher) == postings
    fmt = FastPositions()
    matcher, _ = write_and_read(fmt, postings)
    assert fmt.decode_positions(matcher.value()) == fmt.decode_positions(postings[0][2])


def test_formats_without_values():
    postings = [(d, 1.0, b"") for d in range(0, 5000, 7)]
    matcher, _ = write_and_read(Existence(), postings)
    assert [(d, w) for d, w, _ in read_all(matcher)] == [(d, w) for d, w, _ in postings]
    assert {v for _, _, v in read_all(write_and_read(Existence(), postings)[0])} == {None}
    fixed = [(d, 3.0, (3).to_bytes(4, "big")) for d in range(200)]  # four bytes a value
    assert read_all(write_and_read(Frequency(), fixed)[0]) == fixed


def test_a_term_with_one_posting_is_kept_in_its_row():
    """Ids, URLs and most date terms have one posting: no block of their own for each."""
    for fmt, value in ((Existence(), b""), (FastPositions(), encode_positions([7]))):
        matcher, storage = write_and_read(fmt, [(42, 1.0, value)])
        assert storage.file_length("test.pst") == 0
        assert isinstance(matcher, ListMatcher)
        assert [(d, w) for d, w, _ in read_all(matcher)] == [(42, 1.0)]
    matcher, storage = write_and_read(Existence(), [(1, 1.0, b""), (2, 1.0, b"")])
    assert storage.file_length("test.pst") > 0  # two postings: a block


def test_skipping_and_block_quality_are_whoosh_s():
    postings = make_postings(2000, 50, "mixed")
    matcher, _ = write_and_read(FastPositions(), postings)
    targets = [postings[i][0] for i in (0, 5, 127, 128, 900, 1999)]
    for target in targets:
        matcher.skip_to(target)
        assert matcher.id() == target
    matcher, _ = write_and_read(FastPositions(), postings)
    assert matcher.block_max_weight() == max(w for _, w, _ in postings[:128])
    assert matcher.block_max_id() == postings[127][0]


def test_ids_and_weights_are_read_without_positions():
    postings = make_postings(300, 10, "mixed")
    matcher, _ = write_and_read(FastPositions(), postings)
    matcher._read_ids()
    matcher._read_weights()
    assert list(matcher._ids) == [d for d, _, _ in postings[:128]]
    assert matcher._values is None  # positions still packed


@pytest.mark.parametrize("kind", ["positions", "existence", "fixed"])
def test_a_block_s_values_are_read_after_the_matcher_has_moved_on(kind: str):
    """A phrase scores every block first and reads positions afterwards, from where each
    block was: they must be the values the matcher gives in place, in every format."""
    postings = make_postings(700, 9, "mixed")
    fmt = {"positions": FastPositions(), "existence": Existence(), "fixed": Frequency()}[kind]
    if kind == "existence":
        postings = [(d, 1.0, b"") for d, _, _ in postings]
    elif kind == "fixed":
        postings = [(d, w, int(w).to_bytes(4, "big")) for d, w, _ in postings]
    in_place = read_all(write_and_read(fmt, postings)[0])
    matcher, _ = write_and_read(fmt, postings)
    blocks = TermBlocks()
    assert sum(len(ids) for ids, _ in postings_blocks(matcher, blocks=blocks)) == 700
    assert not matcher.is_active()
    docs = [d for d, _, _ in postings]
    assert blocks.values_for(docs) == {d: v for d, _, v in in_place}
    absent = sorted(set(range(docs[-1] + 2)) - set(docs))[:50]
    assert blocks.values_for(absent) == {}


def _best(weights, length_bytes, norms) -> float:
    return max(bm25(2.5, list(weights), map(norms.__getitem__, length_bytes)))


def _undominated(weights, length_bytes) -> set[tuple[float, int]]:
    """By brute force: the pairs no other posting matches or beats on both weight and
    length (byte 0 apart: its heaviest)."""
    pairs = set(zip(weights, length_bytes, strict=True))
    known = {(w, b) for w, b in pairs if b}
    kept = {
        (w, b)
        for w, b in known
        if not any(v >= w and 0 < c <= b and (v, c) != (w, b) for v, c in known)
    }
    unknown = [w for w, b in pairs if not b]
    return kept | ({(max(unknown), 0)} if unknown else set())


@pytest.mark.parametrize("seed", range(40))
def test_impacts_give_a_block_s_best_score_for_any_idf_and_average(seed: int):
    """The impacts are the block's undominated pairs, so the best of their scores is the
    best posting's whatever the average length the norms are built from (a length byte of
    0 has a norm of its own); a block with more of them than are kept still gets a bound
    no posting exceeds."""
    rng = random.Random(seed)
    size = rng.choice([32, 77, 128])
    spread = rng.choice([3, 12, 60])
    weights = [float(rng.choice([1, 1, 2, rng.randrange(1, spread)])) for _ in range(size)]
    length_bytes = [0 if rng.random() < 0.05 else rng.randrange(1, 256) for _ in range(size)]
    pairs = impacts(weights, length_bytes)
    assert 1 <= len(pairs) <= MAX_IMPACTS
    whole = _undominated(weights, length_bytes)
    assert len(pairs) == min(len(whole), MAX_IMPACTS)  # merged only as far as needed
    if len(whole) <= MAX_IMPACTS:
        assert set(pairs) == whole
    for average in (3.0, 120.0, 5000.0):
        norms = [1.2] + [1.2 * (0.25 + 0.75 * byte_to_length(b) / average) for b in range(1, 256)]
        best = _best(weights, length_bytes, norms)
        bound = _best([w for w, _ in pairs], [b for _, b in pairs], norms)
        assert bound >= best
        if len(whole) <= MAX_IMPACTS:
            assert bound == best


@pytest.mark.parametrize("seed", range(20))
def test_impacts_of_whole_counts_given_as_bytes_are_those_of_the_same_floats(seed: int):
    """The writer gives a block of whole counts under 256 as bytes, sorted as one int each:
    the same impacts as the weights as floats."""
    rng = random.Random(seed)
    size = rng.choice([32, 77, 128])
    counts = [
        rng.choice([1, 1, 2, rng.randrange(1, rng.choice([3, 40, 256]))]) for _ in range(size)
    ]
    length_bytes = bytes(0 if rng.random() < 0.05 else rng.randrange(1, 256) for _ in range(size))
    assert impacts(bytes(counts), length_bytes) == impacts(list(map(float, counts)), length_bytes)


def test_a_full_block_keeps_its_impacts_and_a_small_one_none():
    """The bulk writer hands each block its postings' length bytes: a block of many postings
    reads back its impacts, and its ids and weights as they were."""
    storage = RamStorage()
    postfile = storage.create_file("test.pst")
    writer = FastCodec().postings_writer(postfile)
    terminfo = W3TermInfo()
    writer.start_postings(Frequency(), terminfo)
    rng = random.Random(2)
    count = IMPACTS_FROM * 4 + IMPACTS_FROM // 2  # full blocks of 128, then a small one
    docs = array("I", sorted(rng.sample(range(10_000), count)))
    weights = array("f", [float(rng.randrange(1, 6)) for _ in docs])
    lengths = array("I", [rng.randrange(1, 3000) for _ in range(10_000)])
    length_bytes = bytes(map(length_to_byte, lengths))
    values = [int(w).to_bytes(4, "big") for w in weights]
    _write_blocks(writer, docs, weights, values, lengths, length_bytes)
    writer.finish_postings()
    postfile.close()
    matcher = FastCodec().postings_reader(storage.open_file("test.pst"), terminfo, Frequency())
    start = blocks = 0
    while matcher.is_active():
        ids, read_weights = current_block(matcher)
        block = slice(start, start + len(ids))
        assert list(ids) == list(docs[block]) and list(read_weights) == list(weights[block])
        value = matcher.block_values()  # after the impacts, the ids and the weights
        assert [value(i) for i in range(len(ids))] == values[block]
        kept = matcher.block_impacts()
        if len(ids) < IMPACTS_FROM:
            assert kept is None
        else:
            pairs = impacts(weights[block], [length_bytes[d] for d in ids])
            assert kept is not None
            assert list(zip(*unpacked_impacts(kept), strict=True)) == pairs
        start, blocks = start + len(ids), blocks + 1
        matcher._next_block()
    assert start == count and blocks == 2


def test_impacts_beyond_the_limit_are_merged_into_pairs_that_still_bound_the_block():
    """Weights that grow with length leave every posting undominated: merged down to the
    limit, never below it, the pairs still bound every posting."""
    weights = [float(w) for w in range(1, 61)]
    length_bytes = [10 + 3 * w for w in range(1, 61)]
    assert len(_undominated(weights, length_bytes)) == 60
    pairs = impacts(weights, length_bytes)
    assert len(pairs) == MAX_IMPACTS
    for average in (3.0, 120.0, 5000.0):
        norms = [1.2] + [1.2 * (0.25 + 0.75 * byte_to_length(b) / average) for b in range(1, 256)]
        best = _best(weights, length_bytes, norms)
        assert _best([w for w, _ in pairs], [b for _, b in pairs], norms) >= best
