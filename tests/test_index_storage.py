"""Segments are read through views of their memory map, not copies, and read the same."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

from aggregator.index import Index
from aggregator.index.storage import ViewBufferFile, _View
from tests.test_index_segments import make_docs


def test_the_view_reads_like_a_file():
    data = b"first line\nsecond\n" + pickle.dumps({"a": [1, 2, 3]}, 2) + b"tail"
    view = _View(data)
    assert view.readline() == b"first line\n"
    assert view.readline(3) == b"sec"
    assert view.read(4) == b"ond\n"
    assert pickle.load(view) == {"a": [1, 2, 3]}
    assert view.read() == b"tail" and view.read(5) == b""
    view.seek(-4, io.SEEK_END)
    target = bytearray(10)
    assert view.readinto(target) == 4 and bytes(target[:4]) == b"tail"
    view.seek(6)
    assert view.tell() == 6 and view.read(4) == b"line"
    view.seek(1, io.SEEK_CUR)
    assert view.read(6) == b"second"
    view.close()
    assert view.closed


def test_compound_segments_open_views_and_search_as_before(tmp_path: Path):
    index = Index(tmp_path / "ix")
    index.apply(make_docs(200), fresh=True)
    with index.whoosh.searcher() as searcher:
        reader = searcher.reader()
        files = [reader._terms._postfile, reader._terms._dbfile]
        assert all(isinstance(f, ViewBufferFile) for f in files)
        assert all(isinstance(f.file, _View) for f in files)
        assert searcher.doc_count() == 200
        assert len(searcher.search(index_query("vaccine"), limit=None)) > 0


def index_query(word: str):
    from aggregator.search import parse_query

    return parse_query(word).query
