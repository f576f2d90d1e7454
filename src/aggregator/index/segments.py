"""Writing index segments fast: postings kept per term as they come, written a block at a time.

Whoosh's own writer sends every posting through a pool of tuples, sorts the pool, then reads
each document's field length back from disk per posting while it writes: several Python
steps per posting, most of the cost of indexing. Here each field's postings are collected
per term as documents are added (document numbers only rise, so nothing needs sorting), the
text fields (analysed by `FoldStemTokenizer` into `FastPositions`) without Whoosh's
per-token objects, and each term's postings go to the codec a whole block at a time. The
segment written is an ordinary Whoosh segment: readers, searching and merging are Whoosh's.
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import chain
from typing import Any

from whoosh import index as whoosh_index
from whoosh.analysis import IDTokenizer
from whoosh.codec.whoosh3 import W3FieldWriter, W3LeafMatcher, W3PostingsWriter
from whoosh.fields import DATETIME
from whoosh.formats import Existence, Frequency
from whoosh.system import pack_uint
from whoosh.util.numeric import length_to_byte, to_sortable
from whoosh.writing import SegmentWriter

from aggregator.index.analysis import (
    SINGLE,
    SINGLE_LIMIT,
    FastPositions,
    FoldStemTokenizer,
    encode_positions,
    term_positions,
)
from aggregator.index.codec import (
    IMPACTS_FROM,
    FastCodec,
    FastLeafMatcher,
    FastPostingsWriter,
    Joined,
)
from aggregator.index.pairs import PAIRED_FIELDS, common_of, pair_counts

Table = dict[Any, list[Any]]
"""One field's postings, by term.

Text fields key by `str`, each term holding two byte strings: `[meta, values]`, where meta
is (docnum, count in the document, size of its encoded positions) as three unsigned 32-bit
ints per posting and values the encoded positions one after another (the field's boost is
applied when written). About 14 bytes a posting; as Python objects (a list slot each for
docnum, count and positions, and a bytes object for most positions) it was about 45, and a
writer holds its share's postings until the segment is written.

Other fields key by the bytes Whoosh gives and keep a flat list of [docnum, weight, value,
...]: they hold a few postings per document.
"""
_U32 = [i.to_bytes(4, "little") for i in range(4096)]
"""Small unsigned ints packed once: most counts and sizes of encoded positions."""
_ONCE = _U32[1] + _U32[len(SINGLE[0])]
"""The count and size of a single position's encoding."""


def _is_text(field: Any) -> bool:
    return isinstance(field.format, FastPositions) and isinstance(field.analyzer, FoldStemTokenizer)


class BulkWriter(SegmentWriter):
    """A Whoosh segment writer that keeps postings per term instead of in a sorted pool."""

    def __init__(self, ix: Any, **kwargs: Any) -> None:
        kwargs.setdefault("codec", FastCodec())
        super().__init__(ix, **kwargs)
        indexed = [(name, field) for name, field in self.schema.items() if field.indexed]
        self._text = {name for name, field in indexed if _is_text(field)}
        self._tables: dict[str, Table] = {name: {} for name, _ in indexed}
        self._pairs: dict[str, defaultdict[str, bytearray]] = {
            name: defaultdict(bytearray) for name in self._text
        }
        self._lengths: dict[str, array] = {name: array("I") for name, _ in indexed}
        self._postings_of = {
            name: _postings_maker(field) for name, field in indexed if name not in self._text
        }
        self._merged_from: int | None = None
        fieldwriter = self.fieldwriter
        if type(fieldwriter) is W3FieldWriter:
            for dbfile in (fieldwriter._postfile, fieldwriter._tindex.dbfile):
                dbfile.file = _Counted(dbfile.file)

    def add_document(self, **fields: Any) -> None:
        self._check_state()
        schema = self.schema
        perdoc = self.perdocwriter
        docnum = self.docnum
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if name in self._text:
                    length = self._add_text(
                        self._tables[name], self._pairs[name], field, value, docnum
                    )
                elif field.indexed:
                    postings = self._postings_of[name](value)
                    length = self._add_other(self._tables[name], field, postings, docnum)
                if field.indexed:
                    lengths = self._lengths[name]
                    if len(lengths) < docnum:
                        lengths.extend([0] * (docnum - len(lengths)))
                    lengths.append(length)
                perdoc.add_field(name, field, value if field.stored else None, length)
                if field.column_type:
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def use_common(self, common: frozenset[str], sampled: int | None = None) -> None:
        """Pair these common words from now on, and keep them in the schema this writer
        commits (only for an index written whole from here: `pairs` says why), with the
        entries they were `sampled` from (`pairs.outgrown`)."""
        for name in PAIRED_FIELDS:
            if name in self._text:
                self.schema[name].common = common
                self.schema[name].sampled = sampled

    @staticmethod
    def _add_text(
        table: Table, pairs: defaultdict[str, bytearray], field: Any, value: str, docnum: int
    ) -> int:
        """A text field's postings, straight from its terms, with its pairs of common words
        (kept apart until the segment is written); returns its length in words (the pairs
        are not words: lengths and scores ignore them)."""
        words = field.analyzer.terms(value)
        doc = docnum.to_bytes(4, "little")
        once = doc + _ONCE
        small = len(_U32)
        common = common_of(field)
        if common:
            _add_pairs(pairs, pair_counts(words, common), doc)
        for term, poslist in term_positions(words).items():
            postings = table.get(term)
            if postings is None:
                postings = table[term] = [bytearray(), bytearray()]
            if len(poslist) == 1 and poslist[0] < SINGLE_LIMIT:  # most postings
                postings[0] += once
                postings[1] += SINGLE[poslist[0]]
                continue
            encoded = encode_positions(poslist)
            count, size = len(poslist), len(encoded)
            meta = postings[0]
            meta += doc
            meta += _U32[count] if count < small else count.to_bytes(4, "little")
            meta += _U32[size] if size < small else size.to_bytes(4, "little")
            postings[1] += encoded
        return len(words)

    @staticmethod
    def _add_other(table: Table, field: Any, given: Postings, docnum: int) -> int:
        length = 0
        for tbytes, freq, weight, vbytes in given:
            if field.scorable:
                length += freq
            postings = table.get(tbytes)
            if postings is None:
                table[tbytes] = [docnum, weight, vbytes]
            else:
                postings += (docnum, weight, vbytes)
        return length

    def add_postings_to_pool(self, reader: Any, startdoc: int, docmap: Any) -> None:
        """Postings of a segment merged into this one join the tables, a block at a time."""
        tables = self._tables
        for name, tbytes in reader.all_terms():
            table = tables.get(name)
            if table is None:
                continue  # a field this schema no longer has
            matcher = reader.postings(name, tbytes)
            boost = self.schema[name].format.field_boost if name in self._text else 1.0
            flat = _merged_postings(matcher, startdoc, docmap, boost)
            if not flat:
                continue  # every entry that held it was deleted: the term goes
            if name in self._text:
                _add_packed(
                    table.setdefault(tbytes.decode("utf-8"), [bytearray(), bytearray()]), flat
                )
            else:
                table.setdefault(tbytes, []).extend(flat)

    def add_reader(self, reader: Any) -> None:
        if self._merged_from is None:
            self._merged_from = self.docnum
        self._settle_pairs()
        super().add_reader(reader)

    def _settle_pairs(self) -> None:
        """The pairs' postings added so far, after those already in their fields' tables:
        called before a merge adds its documents' postings and when the segment is
        written, so each term's postings stay in the order of their documents."""
        for name, pairs in self._pairs.items():
            table = self._tables[name]
            for pair, meta in pairs.items():
                postings = table.get(pair)
                if postings is None:
                    table[pair] = [meta, bytearray()]
                else:
                    postings[0] += meta
            pairs.clear()

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        self._settle_pairs()
        fieldwriter = self.fieldwriter
        added = self.docnum if self._merged_from is None else self._merged_from
        merged = self.per_document_reader() if added < self.docnum else None
        try:
            for name, table in self._tables.items():
                if not table:
                    continue
                lengths = self._lengths[name]
                lengths.extend([0] * (added - len(lengths)))
                if merged is not None:  # merged documents' lengths are on disk
                    lengths.extend(
                        merged.doc_field_length(d, name) or 0 for d in range(added, self.docnum)
                    )
                self._write_field(name, table, lengths)
            fieldwriter.close()
        finally:
            if merged is not None:
                merged.close()

    def _write_field(self, name: str, table: Table, lengths: array) -> None:
        fieldwriter = self.fieldwriter
        field = self.schema[name]
        boost = field.format.field_boost if name in self._text else 1.0
        fieldwriter.start_field(name, field)
        direct = type(fieldwriter) is W3FieldWriter and type(fieldwriter._postwriter) in (
            W3PostingsWriter,
            FastPostingsWriter,
        )
        text = name in self._text
        fast = direct and type(fieldwriter._postwriter) is FastPostingsWriter
        # Each entry's length byte, looked up by every term's blocks for their impacts.
        length_bytes = bytes(map(length_to_byte, lengths)) if fast and field.scorable else None
        # Terms in the order of their bytes (for str, UTF-8 order is code point order).
        for term in sorted(table):
            postings = table.pop(term)
            values: Any
            if text:
                # Counts as ints: the codec keeps whole counts a byte each (boosted: floats).
                docs, weights, sizes = _unpacked_meta(postings[0])
                values = Joined(sizes, bytes(postings[1]))
            else:
                docs = array("I", postings[0::3])
                weights = array("f", postings[1::3])
                values = postings[2::3]
            if boost != 1.0:
                weights = array("f", [w * boost for w in weights])
            fieldwriter.start_term(term.encode("utf-8") if isinstance(term, str) else term)
            if isinstance(values, Joined) and not fast:
                values = values.split()
            if direct:
                _write_blocks(fieldwriter._postwriter, docs, weights, values, lengths, length_bytes)
            else:
                for docnum, weight, value in zip(docs, weights, values, strict=True):
                    fieldwriter.add(docnum, weight, value or b"", lengths[docnum])
            fieldwriter.finish_term()
        fieldwriter.finish_field()


Postings = list[tuple[bytes, int, float, bytes]]
"""One value's postings as Whoosh's `FieldType.index` gives them: (term, frequency, weight,
encoded value)."""
REMEMBERED = 4096
"""Distinct values of a field whose postings a writer remembers (categories, topics)."""


def _postings_maker(field: Any) -> Callable[[Any], Postings]:
    """What `field.index` gives for a value, without the steps Whoosh repeats per value.

    Whoosh makes a token object for an id, converts a date eight times (once per tier of
    its range terms) and runs a URL's words through token objects: a sixth of indexing.
    Each shortcut gives the same postings, in the same order; other fields remember the
    postings of values they have seen, up to REMEMBERED of them.
    """
    fmt, analyzer = field.format, field.analyzer
    whoosh_s = _remembered(field)
    if type(field) is DATETIME:
        shifts = range(0, field.bits, field.shift_step) if field.shift_step else range(1)

        def date_terms(value: Any) -> Postings:
            if type(value) is not datetime:
                return whoosh_s(value)
            number = field.prepare_number(field.prepare_datetime(value))
            number = to_sortable(field.numtype, field.bits, field.signed, number)
            return [(field.sortable_to_bytes(number, shift), 1, 1.0, b"") for shift in shifts]

        return date_terms
    if type(fmt) is Existence and type(analyzer) is IDTokenizer:
        boost = fmt.field_boost
        return lambda value: (
            [(value.encode("utf-8"), 1, boost, b"")] if type(value) is str else whoosh_s(value)
        )
    if type(fmt) is Frequency and isinstance(analyzer, FoldStemTokenizer):
        boost = fmt.field_boost

        def counted_terms(value: Any) -> Postings:
            if type(value) is not str:
                return whoosh_s(value)
            counts = Counter(analyzer.terms(value))
            return [(t.encode("utf-8"), n, n * boost, pack_uint(n)) for t, n in counts.items()]

        return counted_terms
    return whoosh_s


def _remembered(field: Any) -> Callable[[Any], Postings]:
    """`field.index`, remembering the postings of up to REMEMBERED values it has seen."""
    seen: dict[Any, Postings] = {}

    def remembered(value: Any) -> Postings:
        try:
            postings = seen.get(value)
        except TypeError:  # a list of values: not a key
            return list(field.index(value))
        if postings is None:
            postings = list(field.index(value))
            if len(seen) < REMEMBERED:
                seen[value] = postings
        return postings

    return remembered


class _Counted:
    """A file being written that knows its position without asking the kernel.

    A buffered file's `tell` is a system call every time, and Whoosh asks four times a term
    (where its postings start and end, where its row of the terms table goes): ~2% of
    indexing. Only writes move a segment file's position, so they are counted here.
    """

    def __init__(self, file: Any) -> None:
        self._file = file
        self._position = file.tell()

    def write(self, data: Any) -> int:
        written = self._file.write(data)
        self._position += written
        return written

    def tell(self) -> int:
        return self._position

    def seek(self, *args: Any) -> int:
        self._position = self._file.seek(*args)
        return self._position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def _add_pairs(pairs: defaultdict[str, bytearray], counts: Counter[str], doc: bytes) -> None:
    """Pairs' postings: a count and no positions (an empty value), appended in C.

    A document holds hundreds of pairs (more than its distinct words, where a library's
    text repeats a small vocabulary): a Python step for each was a fifth of indexing.
    """
    if not counts:
        return
    small = len(_U32)
    metas = {
        count: doc + (_U32[count] if count < small else count.to_bytes(4, "little")) + _U32[0]
        for count in set(counts.values())
    }
    deque(
        map(
            bytearray.__iadd__,
            map(pairs.__getitem__, counts),
            map(metas.__getitem__, counts.values()),
        ),
        maxlen=0,
    )


def _merged_postings(matcher: Any, startdoc: int, docmap: Any, boost: float) -> list[Any]:
    """A merged segment's postings of one term as [docnum, weight, value, ...], renumbered.

    Whoosh's own leaf matcher (a segment without deletions) is read a block at a time;
    anything else one posting at a time.
    """
    out: list[Any] = []
    if type(matcher) in (W3LeafMatcher, FastLeafMatcher) and docmap is None:
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            matcher._read_values()
            ids = [startdoc + docnum for docnum in matcher._ids]
            weights = matcher._weights
            if boost != 1.0:
                weights = [w / boost for w in weights]
            out.extend(chain.from_iterable(zip(ids, weights, matcher._values, strict=True)))
            matcher._next_block()
        return out
    while matcher.is_active():
        docnum = matcher.id()
        out += (
            startdoc + docnum if docmap is None else docmap[docnum],
            matcher.weight() / boost,
            matcher.value(),
        )
        matcher.next()
    return out


def _unpacked_meta(meta: bytearray) -> tuple[array, array, array]:
    """A text term's (docnums, counts, sizes of the encoded positions) from its meta bytes."""
    packed = array("I")
    packed.frombytes(meta)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed[0::3], packed[1::3], packed[2::3]


def _add_packed(postings: list[bytearray], flat: list[Any]) -> None:
    """A merged segment's postings of one text term ([docnum, weight, value, ...], renumbered)
    added to its packed table."""
    values = flat[2::3]
    meta = array(
        "I",
        chain.from_iterable(zip(flat[0::3], map(round, flat[1::3]), map(len, values), strict=True)),
    )
    if sys.byteorder != "little":
        meta.byteswap()
    postings[0] += meta.tobytes()
    postings[1] += b"".join(values)


def _write_blocks(
    writer: W3PostingsWriter,
    docs: array,
    weights: array,
    values: list[Any] | Joined,
    lengths: array,
    length_bytes: bytes | None,
) -> None:
    """Hand a term's postings to Whoosh's postings writer a whole block at a time.

    Fills the block buffer that `add_posting` fills one posting at a time, with the same
    statistics; the last block stays buffered for `finish_term` to write, as in Whoosh.
    Joined values (a text term's) go only to `FastPostingsWriter`, which packs them as they
    are; for a scored field's, it is also given the postings' length bytes, for the block's
    impacts.
    """
    limit = writer._blocklimit
    count = len(docs)
    for start in range(0, count, limit):
        ids = docs[start : start + limit]
        block_weights = weights[start : start + limit]
        block_lengths = list(map(lengths.__getitem__, ids))
        writer._ids = ids
        writer._weights = block_weights
        if isinstance(values, Joined):
            writer._values = values.part(start, start + limit)
        else:
            writer._values = [v for v in values[start : start + limit] if v]
        writer._minlength = min(block_lengths) or None
        writer._maxlength = max(block_lengths)
        writer._maxweight = max(block_weights)
        if length_bytes is not None and len(ids) >= IMPACTS_FROM:
            writer.length_bytes = bytes(map(length_bytes.__getitem__, ids))
        if start + limit < count:
            writer._write_block()


def write_segment(
    directory: str,
    indexname: str,
    docs: Iterable[dict[str, Any]],
    common: frozenset[str] | None = None,
) -> Any:
    """Write `docs` as one new segment of the index in `directory`; returns the segment.

    Runs in a worker process while the parent holds the index's write lock and later commits
    the segment with its own: the segment is invisible until then. `common`: the words to
    pair when the parent has chosen them anew (not yet in the index's schema).
    """
    ix = whoosh_index.open_dir(directory, indexname=indexname)
    writer = BulkWriter(ix, _lk=False)
    if common is not None:
        writer.use_common(common)
    try:
        for fields in docs:
            writer.add_document(**fields)
        return writer._finalize_segment()
    except BaseException:
        writer._close_segment()  # not `cancel`: that would delete the parent's temporary files
        raise
