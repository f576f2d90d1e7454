"""Postings written in the three-part blocks read back exactly, skip as Whoosh's do, and
leave positions unread until asked for."""

from __future__ import annotations

import random

import pytest
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.filedb.filestore import RamStorage
from whoosh.formats import Existence, Frequency
from whoosh.matching import ListMatcher

from aggregator.index.analysis import FastPositions, encode_positions
from aggregator.index.codec import FastCodec, FastLeafMatcher
from aggregator.index.reading import TermBlocks, postings_blocks


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
        weight = {"ones": 1.0, "same": 2.0, "mixed": float(rng.randrange(1, 9))}[weights]
        positions = sorted(rng.sample(range(0, 90_000), int(weight)))
        out.append((docnum, weight, encode_positions(positions)))
    return out


@pytest.mark.parametrize("n", [1, 3, 128, 129, 1000])
@pytest.mark.parametrize("gap", [2, 300, 70_000])
@pytest.mark.parametrize("weights", ["ones", "same", "mixed"])
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
