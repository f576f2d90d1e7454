"""Postings blocks that can be read without their positions.

Whoosh's own codec stores each block of a term's postings (document numbers, weights and
each document's positions) as one compressed pickle, so ranking a common word decompresses
and unpickles every position of it too. This codec keeps Whoosh's files, block headers and
skipping, and packs each block as three parts: document-number gaps and weights as packed
arrays, and the positions compressed apart, read only when a phrase asks for them.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from itertools import accumulate
from operator import sub
from pickle import dumps, loads
from typing import Any

from whoosh.codec.whoosh3 import (
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3LeafMatcher,
    W3PostingsWriter,
)
from whoosh.matching import ListMatcher
from whoosh.util.numeric import length_to_byte

LEVEL = 3
"""Deflate level, Whoosh's: at 1 the index is 1.5% larger and no faster to write or read."""
SMALL = 64
"""Packed document-number gaps shorter than this (bytes) are stored as they are."""
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
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def _inflate(data: bytes) -> bytes:
    return zlib.decompress(data, -15)


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


class FastPostingsWriter(W3PostingsWriter):
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
        if isinstance(weights, tuple):
            weights = _packed(array("f", weights))
        data = dumps((typecode, packed_ids, weights, self._packed_values()), 2)
        # Whoosh's block header, so that its skipping and block quality work unchanged.
        info = dumps(
            (
                len(ids),
                ids[-1],
                self._maxweight,
                0,
                length_to_byte(self._minlength),
                length_to_byte(self._maxlength),
            ),
            2,
        )
        length = len(info) + len(data)
        self._postfile.write_int(-length if last else length)
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()

    def _packed_values(self) -> bytes | None:
        """Values (positions) in one raw deflate stream: their sizes, then the values."""
        values = self._values
        if not values:
            return None
        fixedsize = self._format.fixed_value_size()
        if fixedsize is not None and fixedsize >= 0:
            return _deflate(b"".join(values))
        sizes = _packed(array("I", map(len, values)))
        return _deflate(len(values).to_bytes(4, "little") + sizes + b"".join(values))


class FastLeafMatcher(W3LeafMatcher):
    """Reads `FastPostingsWriter` blocks: positions are decompressed only when asked for."""

    def _read_data(self) -> None:
        self._data = loads(
            self._postfile.get(self._dataoffset, self._nextoffset - self._dataoffset)
        )

    def _read_ids(self) -> None:
        if self._data is None:
            self._read_data()
        typecode, gaps = self._data[0], self._data[1]
        if typecode.islower():
            typecode, gaps = typecode.upper(), _inflate(gaps)
        self._ids = list(accumulate(_unpacked(typecode, gaps)))

    def _read_weights(self) -> None:
        if self._data is None:
            self._read_data()
        weights = self._data[2]
        if weights is None:
            self._weights = array("f", [1.0]) * self._blocklength
        elif isinstance(weights, float):
            self._weights = array("f", [weights]) * self._blocklength
        else:
            self._weights = _unpacked("f", weights)

    def _read_values(self) -> None:
        if self._data is None:
            self._read_data()
        packed = self._data[3]
        fixedsize = self._fixedsize
        if fixedsize == 0:
            self._values = (None,) * self._blocklength
            return
        raw = _inflate(packed) if packed is not None else b""
        if fixedsize is not None and fixedsize > 0:
            self._values = tuple(raw[i : i + fixedsize] for i in range(0, len(raw), fixedsize))
            return
        if not raw:  # a format whose values are all empty
            self._values = (b"",) * self._blocklength
            return
        count = int.from_bytes(raw[:4], "little")
        ends = list(accumulate(_unpacked("I", raw[4 : 4 + 4 * count]), initial=4 + 4 * count))
        self._values = tuple(map(raw.__getitem__, map(slice, ends, ends[1:])))
