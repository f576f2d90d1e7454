"""Postings blocks that can be read without their positions.

Whoosh's own codec stores each block of a term's postings (document numbers, weights and
each document's positions) as one compressed pickle, so ranking a common word decompresses
and unpickles every position of it too. This codec keeps Whoosh's files, block headers and
skipping, and packs each block as three parts: document-number gaps and weights as packed
arrays, and the positions apart, read only when a phrase asks for them. A block of many
postings also keeps its impacts (below), so that ranking can tell which blocks cannot reach
a page without scoring them.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from collections.abc import Callable, Sequence
from itertools import accumulate, repeat
from operator import add, mul, sub
from typing import Any

from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3LeafMatcher,
    W3PostingsWriter,
)
from whoosh.matching import ListMatcher
from whoosh.system import _INT_SIZE, pack_int
from whoosh.util.numeric import byte_to_length, length_to_byte

LEVEL = 3
"""Deflate level, Whoosh's: at 1 the index is 1.5% larger and no faster to write or read."""
_HEAD = struct.Struct("<IIfBBcBII")
"""A block's header: postings, last document number, largest weight, shortest and longest
field length (as Whoosh's length bytes), the gaps' type code (lower case: deflated), how
the weights are kept, and the sizes of the gaps' and the weights' parts."""
_SAME = struct.Struct("<f")
ALL_ONE, ALL_SAME, EACH, EACH_BYTE = 0, 1, 2, 3
"""How a block keeps its weights: none (all 1), one for all, a float each, or a byte each
(every weight a whole count under 256, as almost all are: a quarter of the size)."""
IMPACTS = 0x80
"""Set in a block's weights byte when its impacts follow the header."""
IMPACTS_FROM = 32
"""Postings a block needs for its impacts to be kept: a smaller one is cheaper to score than
to skip."""
MAX_IMPACTS = 12
"""Pairs a block keeps at most (a byte each for the count and length, four for a weight)."""
SMALL = 64
"""Packed document-number gaps shorter than this (bytes) are stored as they are."""
_AS_THEY_ARE, _DEFLATED = b"r", b"z"
"""The first byte of a block's values: a text field's positions are kept as they are
(deflating them was an eighth of indexing and saved little: see `encode_positions`)."""
_LITTLE = sys.byteorder == "little"


def _packed(values: array) -> bytes:
    if not _LITTLE:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _unpacked(typecode: str, data: bytes) -> array:
    values = array(typecode)
    values.frombytes(data)
    if not _LITTLE:
        values.byteswap()
    return values


def _deflate(data: bytes) -> bytes:
    """Raw deflate: no zlib header or checksum, which on a small block is most of it."""
    return zlib.compress(data, LEVEL, -15)


def _inflate(data: bytes) -> bytes:
    return zlib.decompress(data, -15)


def impacts(
    weights: Sequence[float] | bytes, length_bytes: Sequence[int]
) -> list[tuple[float, int]]:
    """A block's impacts: the (weight, length byte) pairs no other posting of it beats on
    both (heavier and no longer), as Lucene keeps them. Each posting's BM25 score is at
    most that of one of them, so the best of their scores is the block's best score
    (exactly, unless pairs were merged), whatever the idf and average length are when it
    is read.

    A length byte of 0 (no length kept) has a norm of its own: its heaviest is a pair apart.
    At most MAX_IMPACTS pairs: beyond, neighbours are merged (the heavier weight at the
    shorter length), which still bounds every posting.
    """
    # Sorted by length byte, then weight: each byte's last is its heaviest, and the bytes
    # stay in order. Whole counts under 256 (a `bytes` of them) sort as one int each, in
    # C, with each (length, count) once: most of a block's are repeats.
    if isinstance(weights, bytes):
        keys = sorted(set(map(add, map(mul, length_bytes, repeat(256)), weights)))
        heaviest = {key >> 8: key & 255 for key in keys}
    else:
        heaviest = dict(sorted(zip(length_bytes, weights, strict=True)))
    unknown = heaviest.pop(0, None)
    pairs: list[tuple[float, int]] = []
    for byte, weight in heaviest.items():
        if not pairs or weight > pairs[-1][0]:
            pairs.append((weight, byte))
    while len(pairs) > MAX_IMPACTS - (unknown is not None):
        # The two neighbours nearest in length become one: it overstates the least.
        k = min(range(len(pairs) - 1), key=lambda i: pairs[i + 1][1] - pairs[i][1])
        pairs[k : k + 2] = [(pairs[k + 1][0], pairs[k][1])]
    if unknown is not None:
        pairs.append((unknown, 0))
    return pairs


def _packed_impacts(pairs: list[tuple[float, int]]) -> bytes:
    weights = _packed(array("f", [w for w, _ in pairs]))
    return bytes([len(pairs)]) + weights + bytes(b for _, b in pairs)


def unpacked_impacts(packed: bytes) -> tuple[array, bytes]:
    """A block's impacts as kept: their weights, and their length bytes in the same order."""
    count = packed[0]
    return _unpacked("f", packed[1 : 1 + 4 * count]), packed[1 + 4 * count :]


def _id_typecode(largest: int) -> str:
    return "B" if largest < 1 << 8 else "H" if largest < 1 << 16 else "I"


class FastCodec(W3Codec):
    """Whoosh's W3 codec with postings blocks in three parts (see the module's text)."""

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        if byteids:  # term vectors: Whoosh's own blocks
            return super().postings_writer(dbfile, byteids=True)
        return FastPostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            inlinelimit=self._inlinelimit,
        )

    def postings_reader(
        self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None
    ) -> Any:
        if terminfo.is_inlined():
            ids, weights, values = terminfo.inlined_postings()
            return ListMatcher(
                ids, weights, values, format_, scorer=scorer, term=term, terminfo=terminfo
            )
        offset, length = terminfo.extent()
        return FastLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


class Joined:
    """A term's encoded values one after another with their sizes, as a writer holds them.

    `FastPostingsWriter` packs a block of them as they are: no bytes object per posting.
    """

    __slots__ = ("data", "ends", "sizes")

    def __init__(self, sizes: array, data: bytes) -> None:
        self.sizes = sizes
        self.data = data
        # Where each value ends; none to find when there are no values (a pair's postings).
        self.ends = list(accumulate(sizes, initial=0)) if data else []

    def part(self, start: int, stop: int) -> Joined:
        """The values of postings `start` to `stop`: one block's, still joined."""
        stop = min(stop, len(self.sizes))
        if not self.data:
            return Joined(self.sizes[start:stop], b"")
        return Joined(self.sizes[start:stop], self.data[self.ends[start] : self.ends[stop]])

    def split(self) -> list[bytes]:
        """One bytes object per posting, for writers that take values one by one."""
        if not self.data:
            return [b""] * len(self.sizes)
        ends = self.ends
        return list(map(self.data.__getitem__, map(slice, ends, ends[1:])))

    def __len__(self) -> int:
        return len(self.sizes)


class FastPostingsWriter(W3PostingsWriter):
    length_bytes: Sequence[int] | None = None
    """The buffered block's postings' length bytes, when the caller knows them (the bulk
    writer does; Whoosh's one-posting-at-a-time path does not): its impacts need them."""

    def _new_block(self) -> None:
        super()._new_block()
        self.length_bytes = None

    def _mini_weights(self) -> Any:
        """Whoosh's (None: all 1; a float: all the same; else each), counted in C."""
        weights = self._weights
        first = weights[0]
        if weights.count(first) == len(weights):
            return None if first == 1 else float(first)
        return weights

    def finish_postings(self) -> Any:
        # A term with one posting (every id, URL and most date terms: most terms of a
        # segment) is kept in its row of the terms table, not written as a block of its
        # own. Whoosh means to do this (its `inlinelimit`) but calls a method its term info
        # does not have, so its default keeps it off.
        if not self.written() and len(self._ids) == 1:
            terminfo, self._terminfo = self._terminfo, None
            terminfo.add_block(self)
            values = self._values
            terminfo.set_inlined(
                self._ids,
                array("f", self._weights),
                values.split() if isinstance(values, Joined) else values,
            )
            return terminfo
        return super().finish_postings()

    def _write_block(self, last: bool = False) -> None:
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        gaps = [ids[0], *map(sub, ids[1:], ids[:-1])]
        typecode = _id_typecode(max(gaps))
        packed_ids = _packed(array(typecode, gaps))
        if len(packed_ids) >= SMALL:
            packed_ids = _deflate(packed_ids)
            typecode = typecode.lower()  # the mark of compressed gaps
        weights = self._mini_weights()
        if weights is None:
            kind, packed_weights = ALL_ONE, b""
        elif isinstance(weights, float):
            kind, packed_weights = ALL_SAME, _SAME.pack(weights)
        else:
            kind, packed_weights = _packed_weights(weights)
        packed_impacts = b""
        if kind in (EACH, EACH_BYTE) and self.length_bytes is not None and len(ids) >= IMPACTS_FROM:
            # Kept a byte each, they are given as those bytes: `impacts` sorts them faster.
            given = packed_weights if kind == EACH_BYTE else weights
            packed_impacts = _packed_impacts(impacts(given, self.length_bytes))
            kind |= IMPACTS
        # Whoosh's block statistics (for its skipping and block quality), then the parts.
        head = _HEAD.pack(
            len(ids),
            ids[-1],
            self._maxweight,
            length_to_byte(self._minlength),
            length_to_byte(self._maxlength),
            typecode.encode("ascii"),
            kind,
            len(packed_ids),
            len(packed_weights),
        )
        values = self._packed_values()
        block = b"".join((head, packed_impacts, packed_ids, packed_weights, values))
        self._postfile.write(pack_int(-len(block) if last else len(block)) + block)  # one write
        self._blockcount += 1
        self._new_block()

    def _packed_values(self) -> bytes:
        """Values (positions) after a mark: a text field's as they are (their sizes, then
        the values), any other format's in one raw deflate stream."""
        values = self._values
        if not values:
            return b""
        if isinstance(values, Joined):
            if not values.data:  # none at all (a pair's postings): nothing to keep
                return b""
            code = _id_typecode(max(values.sizes))
            sizes = _packed(array(code, values.sizes))
            count = len(values).to_bytes(4, "little")
            return b"".join((_AS_THEY_ARE, count, code.encode("ascii"), sizes, values.data))
        fixedsize = self._format.fixed_value_size()
        if fixedsize is not None and fixedsize >= 0:
            return _DEFLATED + _deflate(b"".join(values))
        sizes = _packed(array("I", map(len, values)))
        return _DEFLATED + _deflate(len(values).to_bytes(4, "little") + sizes + b"".join(values))


def _packed_weights(weights: array) -> tuple[int, bytes]:
    """A block's weights a byte each when all are whole counts under 256, else as floats.

    A text field without a boost gives its counts as ints (`array("I")`): they fit a byte
    unless one is over 255. Floats (a boosted field's) are checked to be whole numbers.
    """
    if weights.typecode != "f":
        try:
            return EACH_BYTE, bytes(weights.tolist())  # ValueError: one is over 255
        except ValueError:
            return EACH, _packed(array("f", weights))
    try:
        counts = bytes(map(int, weights))  # ValueError: one is over 255 (or below 0)
    except ValueError:
        return EACH, _packed(weights)
    if array("f", memoryview(counts)) == weights:  # all whole numbers
        return EACH_BYTE, counts
    return EACH, _packed(weights)


class FastLeafMatcher(W3LeafMatcher):
    """Reads `FastPostingsWriter` blocks: positions are read only when asked for."""

    def _goto(self, position: int) -> None:
        """Read a block's header (Whoosh's, but packed, not pickled); the rest on demand."""
        postfile = self._postfile
        self._data = self._ids = self._weights = self._values = None
        self._i = 0
        length = postfile.get_int(position)
        if length < 0:
            self._lastblock = True
            length = -length
        start = position + _INT_SIZE
        self._nextoffset = start + length
        (
            self._blocklength,
            self._maxid,
            self._maxweight,
            minlength,
            maxlength,
            typecode,
            self._kind,
            ids_size,
            weights_size,
        ) = _HEAD.unpack(postfile.get(start, _HEAD.size))
        self._minlength = byte_to_length(minlength)
        self._maxlength = byte_to_length(maxlength)
        self._compression = 0
        self._typecode = typecode.decode("ascii")
        self._impacts_at = start + _HEAD.size
        self._dataoffset = self._impacts_at
        if self._kind & IMPACTS:
            self._kind &= ~IMPACTS
            self._dataoffset += 1 + 5 * postfile.get_byte(self._impacts_at)
        self._sizes = (ids_size, weights_size)

    def block_impacts(self) -> bytes | None:
        """The current block's impacts as kept, or None when it has none; decoded by
        `unpacked_impacts` only for a block that might reach a page."""
        size = self._dataoffset - self._impacts_at
        return self._postfile.get(self._impacts_at, size) if size else None

    def _read_data(self) -> None:
        self._data = memoryview(
            self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        )

    def _read_ids(self) -> None:
        if self._data is None:
            self._read_data()
        typecode, gaps = self._typecode, self._data[: self._sizes[0]]
        if typecode.islower():
            typecode, gaps = typecode.upper(), _inflate(gaps)
        self._ids = list(accumulate(_unpacked(typecode, gaps)))

    def _read_weights(self) -> None:
        if self._data is None:
            self._read_data()
        kind = self._kind
        if kind == ALL_ONE:
            self._weights = array("f", [1.0]) * self._blocklength
            return
        start = self._sizes[0]
        packed = self._data[start : start + self._sizes[1]]
        if kind == ALL_SAME:
            self._weights = array("f", _SAME.unpack(packed)) * self._blocklength
        elif kind == EACH_BYTE:
            self._weights = _unpacked("B", packed)  # whole counts: as exact as floats in BM25
        else:
            self._weights = _unpacked("f", packed)

    def _read_values(self) -> None:
        value = self.block_values()
        self._values = tuple(map(value, range(self._blocklength)))

    def block_values(self) -> Callable[[int], Any]:
        """The current block's values by position, each cut out when asked for: a phrase
        checks a few documents of a block, and splitting every value was most of the cost."""
        if self._data is None:
            self._read_data()
        packed = self._data[self._sizes[0] + self._sizes[1] :]
        return _values_reader(packed, self._fixedsize)

    def block_values_later(self) -> Callable[[], Callable[[int], Any]]:
        """`block_values` of the current block, callable after the matcher has moved on.

        A phrase ranks its candidates from every block's ids and weights first and checks
        positions afterwards, in a few blocks: this keeps where the block's values are, not
        their bytes.
        """
        postfile, fixedsize = self._postfile, self._fixedsize
        start = self._dataoffset + self._sizes[0] + self._sizes[1]
        size = self._nextoffset - start
        return lambda: _values_reader(postfile.get(start, size), fixedsize)


def _values_reader(packed: bytes, fixedsize: int | None) -> Callable[[int], Any]:
    """One block's values (positions) by posting, from their part of the block."""
    if fixedsize == 0:
        return lambda i: None
    if not len(packed):
        return lambda i: b""
    packed = bytes(packed)
    if packed[:1] == _AS_THEY_ARE:
        count, code = int.from_bytes(packed[1:5], "little"), chr(packed[5])
        start = 6 + count * array(code).itemsize
        ends = list(accumulate(_unpacked(code, packed[6:start]), initial=start))
        return lambda i: packed[ends[i] : ends[i + 1]]
    raw = _inflate(packed[1:])
    if fixedsize is not None and fixedsize > 0:
        return lambda i: raw[i * fixedsize : (i + 1) * fixedsize]
    if not raw:  # a format whose values are all empty
        return lambda i: b""
    size = int.from_bytes(raw[:4], "little")
    ends = list(accumulate(_unpacked("I", raw[4 : 4 + 4 * size]), initial=4 + 4 * size))
    return lambda i: raw[ends[i] : ends[i + 1]]
