"""Search relevance: aggregator's own indexing and query code against plain Whoosh at its
defaults, on the classic Cranfield and CISI test collections.

    python bench/relevance.py [--collection cran|cisi]

Needs ../shared beside the project (../shared/corpus/ir-test-collections); no network.

Each collection is indexed three ways in a temp dir:

* aggregator: a library (store + index) fed the documents as entries of one source
  (`upsert_entries`, `update_index`) and queried with `Library.search(question, limit=1000)`;
  the question is passed as written, whitespace collapsed, so the product's forgiving parser
  (and its any-word fallback for long questions) is what is measured.
* whoosh defaults (AND): `Schema(id=ID(stored=True), title=TEXT(), body=TEXT())`, default
  analyzer, `QueryParser("body", schema)` (every word required), `searcher.search(q, limit=1000)`.
* whoosh defaults (OR): the same index, `MultifieldParser(["title", "body"], schema,
  group=OrGroup)`.

Metrics, over the queries with at least one relevant judgment: MAP (binary: Cranfield codes
1..4 and every CISI pair count as relevant, Cranfield's -1 lines do not), nDCG@10 with linear
gains (Cranfield code 1→4, 2→3, 3→2, 4→1; CISI 1) and P@10. Timings: the indexing wall time
(aggregator: storing the entries and applying the index queue; Whoosh: writing and committing)
and the median wall time of one query, including the product's snippets and story grouping.

Documents are the records' .T (title), .A (author, only the product indexes it) and .W (text);
.B and .X are ignored. Cranfield's queries are numbered 1..n in file order, as cranqrel does
(the .I numbers of cran.qry are not). CISI queries are their .W text. A few Cranfield records
are damaged (stray .A/.B/.W lines in the middle of the text of 240, 576 and 578): a field
marker already seen in the record is read as part of the current field. Results are printed
as markdown tables and saved as JSON under bench/results.
"""

from __future__ import annotations

import argparse
import math
import platform
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import whoosh
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import MultifieldParser, OrGroup, QueryParser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, save

from aggregator.config import load_settings
from aggregator.library import open_library
from aggregator.models import EntryDraft, Source
from aggregator.search import parse_query
from aggregator.sources import save_opml
from aggregator.store.entries import entry_id

CORPUS = SHARED / "corpus" / "ir-test-collections"
LIMIT = 1000
K = 10
SMART_TAG = re.compile(r"\.([A-Z])(?:\s+(.*))?")
FIELD_TAGS = {"T", "A", "B", "W", "X", "K", "C"}


@dataclass
class Doc:
    id: str
    title: str
    author: str
    body: str


@dataclass
class Collection:
    name: str
    title: str
    docs: list[Doc]
    queries: dict[str, str]
    """Query id (as the judgments number it) → question text."""
    gains: dict[str, dict[str, int]]
    """Query id → doc id → gain; relevant when the gain is above 0."""
    notes: list[str] = field(default_factory=list)


@dataclass
class Run:
    system: str
    index_s: float
    rankings: dict[str, list[str]]
    latencies_ms: list[float]
    extra: dict[str, Any] = field(default_factory=dict)


# -- reading the collections ---------------------------------------------------------------


def read_smart(path: Path, notes: list[str]) -> list[dict[str, str]]:
    """SMART tagged text → one dict per record, tag → text (lines joined with newlines)."""
    records: list[dict[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    tag = ""
    stray = Counter[str]()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = SMART_TAG.fullmatch(line.rstrip())
        if match and match.group(1) == "I":
            current = {"I": [(match.group(2) or "").strip()]}
            records.append(current)
            tag = ""
            continue
        if match and match.group(1) in FIELD_TAGS:
            if match.group(1) in current and not match.group(1) == tag == "A":
                # A marker already seen in this record (other than CISI's .A after .A, one
                # per author): damaged text, read on as the current field.
                stray[current["I"][0]] += 1
                continue
            tag = match.group(1)
            current.setdefault(tag, [])
            if match.group(2):
                current[tag].append(match.group(2))
            continue
        if tag:
            current[tag].append(line)
    if stray:
        notes.append(
            f"{path.name}: stray field markers read as text in records {', '.join(sorted(stray, key=int))}"
        )
    return [{k: "\n".join(v).strip() for k, v in r.items()} for r in records]


def one_line(text: str) -> str:
    return " ".join(text.split())


def read_docs(path: Path, notes: list[str]) -> list[Doc]:
    docs = []
    for r in read_smart(path, notes):
        authors = [one_line(a) for a in r.get("A", "").split("\n") if a.strip()]
        docs.append(Doc(r["I"], one_line(r.get("T", "")), "; ".join(authors), r.get("W", "")))
    empty = [d.id for d in docs if not d.title and not d.body]
    if empty:
        notes.append(f"{path.name}: empty records {', '.join(empty)} (indexed anyway)")
    return docs


def load_cranfield() -> Collection:
    base = CORPUS / "cran"
    notes: list[str] = []
    docs = read_docs(base / "cran.all.1400", notes)
    # cranqrel numbers the queries 1..225 in file order, not by their .I.
    queries = {
        str(n): one_line(r.get("W", ""))
        for n, r in enumerate(read_smart(base / "cran.qry", notes), 1)
    }
    gains: dict[str, dict[str, int]] = {}
    for line in (base / "cranqrel").read_text().splitlines():
        if not line.strip():
            continue
        qid, docid, code = line.split()[:3]
        gain = 5 - int(code) if 1 <= int(code) <= 4 else 0
        gains.setdefault(qid, {})[docid] = gain
    return Collection("cranfield", "Cranfield", docs, queries, gains, notes)


def load_cisi() -> Collection:
    base = CORPUS / "cisi"
    notes: list[str] = []
    docs = read_docs(base / "CISI.ALL", notes)
    queries = {r["I"]: one_line(r.get("W", "")) for r in read_smart(base / "CISI.QRY", notes)}
    gains: dict[str, dict[str, int]] = {}
    for line in (base / "CISI.REL").read_text().splitlines():
        if line.strip():
            qid, docid = line.split()[:2]
            gains.setdefault(qid, {})[docid] = 1
    return Collection("cisi", "CISI", docs, queries, gains, notes)


# -- metrics -------------------------------------------------------------------------------


def average_precision(ranking: list[str], gains: dict[str, int]) -> float:
    relevant = {d for d, g in gains.items() if g > 0}
    found, total = 0, 0.0
    for rank, doc in enumerate(ranking, 1):
        if doc in relevant:
            found += 1
            total += found / rank
    return total / len(relevant)


def ndcg(ranking: list[str], gains: dict[str, int], k: int = K) -> float:
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], 1))
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    best = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, 1))
    return dcg / best


def precision(ranking: list[str], gains: dict[str, int], k: int = K) -> float:
    return sum(1 for doc in ranking[:k] if gains.get(doc, 0) > 0) / k


def judged(coll: Collection) -> list[str]:
    """Query ids with at least one relevant judgment and a question, in query order."""
    return [q for q in coll.queries if any(g > 0 for g in coll.gains.get(q, {}).values())]


def score(coll: Collection, run: Run) -> dict[str, Any]:
    queries = judged(coll)
    ap = {q: average_precision(run.rankings[q], coll.gains[q]) for q in queries}
    return {
        "system": run.system,
        "MAP": statistics.fmean(ap.values()),
        f"nDCG@{K}": statistics.fmean(ndcg(run.rankings[q], coll.gains[q]) for q in queries),
        f"P@{K}": statistics.fmean(precision(run.rankings[q], coll.gains[q]) for q in queries),
        "queries": len(queries),
        "index_s": run.index_s,
        "median_query_ms": statistics.median(run.latencies_ms),
        "no_hits": [q for q in queries if not run.rankings[q]],
        "ap": ap,
        **run.extra,
    }


def excludes(query: Any) -> bool:
    """Whether a parsed query excludes something (`NOT x`, `-x`)."""
    return isinstance(query, Q.Not | Q.AndNot) or any(excludes(c) for c in query.children())


# -- the systems ---------------------------------------------------------------------------


def run_aggregator(coll: Collection, work: Path) -> Run:
    source_url = f"https://ir.example/{coll.name}"
    opml = work / "feeds.opml"
    save_opml(opml, [Source(url=source_url, title=coll.title, category="Test")], title="t")
    settings = load_settings(data_dir=work / "home", opml=str(opml), env={})
    doc_of: dict[str, str] = {}
    drafts = []
    for d in coll.docs:
        doc_of[entry_id(source_url, d.id)] = d.id
        drafts.append(EntryDraft(guid=d.id, title=d.title, text=d.body, author=d.author))
    with open_library(settings) as lib:
        t0 = time.perf_counter()
        lib.store.upsert_entries(source_url, drafts)
        t1 = time.perf_counter()
        indexed = lib.update_index()
        t2 = time.perf_counter()
        if indexed != len(coll.docs):
            sys.exit(f"aggregator indexed {indexed} of {len(coll.docs)} {coll.title} documents")
        rankings, latencies, readings = {}, [], {}
        for qid, text in coll.queries.items():
            started = time.perf_counter()
            res = lib.search(text, limit=LIMIT)
            latencies.append((time.perf_counter() - started) * 1000)
            rankings[qid] = [doc_of[h.id] for h in res.hits]
            readings[qid] = {
                "hits": len(res.hits),
                "total": res.total,
                "interpretation": res.interpretation,
                "suggestion": res.suggestion,
                "excludes": excludes(parse_query(text, any_word=True).query),
            }
        # What a reader sees (20 results or so) costs far less than 1000 snippets: time that too.
        short = []
        for text in coll.queries.values():
            started = time.perf_counter()
            lib.search(text, limit=K)
            short.append((time.perf_counter() - started) * 1000)
    extra = {
        "store_s": t1 - t0,
        "update_index_s": t2 - t1,
        f"median_query_ms_limit_{K}": statistics.median(short),
        "readings": readings,
    }
    return Run("aggregator", t2 - t0, rankings, latencies, extra)


def whoosh_runs(coll: Collection, work: Path) -> list[Run]:
    schema = Schema(id=ID(stored=True), title=TEXT(), body=TEXT())
    directory = work / "whoosh"
    directory.mkdir()
    started = time.perf_counter()
    ix = whoosh_index.create_in(str(directory), schema)
    writer = ix.writer()
    for d in coll.docs:
        writer.add_document(id=d.id, title=d.title, body=d.body)
    writer.commit()
    index_s = time.perf_counter() - started
    parsers = {
        "whoosh defaults (AND)": QueryParser("body", ix.schema),
        "whoosh defaults (OR)": MultifieldParser(["title", "body"], ix.schema, group=OrGroup),
    }
    runs = []
    with ix.searcher() as searcher:
        for system, parser in parsers.items():
            rankings, latencies, errors = {}, [], {}
            for qid, text in coll.queries.items():
                started = time.perf_counter()
                try:
                    hits = searcher.search(parser.parse(text), limit=LIMIT)
                    rankings[qid] = [hit["id"] for hit in hits]
                except Exception as exc:  # count it as finding nothing, and say so
                    rankings[qid] = []
                    errors[qid] = repr(exc)
                latencies.append((time.perf_counter() - started) * 1000)
            runs.append(Run(system, index_s, rankings, latencies, {"errors": errors}))
    ix.close()
    return runs


# -- report --------------------------------------------------------------------------------


def table(coll: Collection, rows: list[dict[str, Any]]) -> str:
    head = (
        f"| {coll.title} | MAP | nDCG@{K} | P@{K} | queries evaluated | index s | median query ms |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['MAP']:.4f} | {r[f'nDCG@{K}']:.4f} | {r[f'P@{K}']:.4f} | "
            f"{r['queries']} | {r['index_s']:.2f} | {r['median_query_ms']:.1f} |"
        )
    return "\n".join(lines)


def anomalies(coll: Collection, rows: list[dict[str, Any]]) -> list[str]:
    out = list(coll.notes)
    missing = sorted(set(coll.gains) - set(coll.queries), key=int)
    if missing:
        out.append(f"judged query ids without a question: {', '.join(missing)}")
    unjudged = len(coll.queries) - len(judged(coll))
    if unjudged:
        out.append(
            f"{unjudged} of {len(coll.queries)} questions have no relevant judgment: skipped"
        )
    for r in rows:
        if r["no_hits"]:
            listed = ", ".join(r["no_hits"][:12]) + (" …" if len(r["no_hits"]) > 12 else "")
            out.append(f"{r['system']}: no hits for {len(r['no_hits'])} queries: {listed}")
        if r.get("errors"):
            out.append(f"{r['system']}: {len(r['errors'])} queries failed to parse or run")
    readings = rows[0]["readings"]
    agg = rows[0]
    out.append(
        f"aggregator median query ms at limit={K}: {agg[f'median_query_ms_limit_{K}']:.1f} "
        f"(the table's figure is at limit={LIMIT}, snippets for every hit included)"
    )
    excluding = [q for q in judged(coll) if readings[q]["excludes"]]
    if excluding:
        out.append(
            f"aggregator: {len(excluding)} queries are read with an exclusion (NOT/-word), "
            f"e.g. {', '.join(excluding[:12])}{' …' if len(excluding) > 12 else ''}"
        )
    notes = Counter(
        part for q in judged(coll) for part in readings[q]["interpretation"].split("; ") if part
    )
    for note, count in notes.most_common():
        out.append(f"aggregator interpretation, {count} queries: {note}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collection", choices=["cran", "cisi"], action="append")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(
            f"test collections not found at {CORPUS}: this benchmark needs ../shared beside the project"
        )
    loaders = {"cran": load_cranfield, "cisi": load_cisi}
    began = time.perf_counter()
    data: dict[str, Any] = {
        "python": platform.python_version(),
        "whoosh": whoosh.versionstring(),
        "limit": LIMIT,
        "collections": {},
    }
    for key in args.collection or list(loaders):
        coll = loaders[key]()
        with tempfile.TemporaryDirectory(prefix=f"relevance-{key}-") as tmp:
            work = Path(tmp)
            runs = [run_aggregator(coll, work), *whoosh_runs(coll, work)]
        rows = [score(coll, run) for run in runs]
        print(f"\n## {coll.title}: {len(coll.docs)} documents, {len(coll.queries)} questions\n")
        print(table(coll, rows))
        notes = anomalies(coll, rows)
        if notes:
            print()
            for note in notes:
                print(f"- {note}")
        data["collections"][coll.name] = {
            "documents": len(coll.docs),
            "questions": len(coll.queries),
            "queries": coll.queries,
            "rows": rows,
            "notes": notes,
        }
    data["total_s"] = time.perf_counter() - began
    print(f"\ntotal {data['total_s']:.0f} s; saved {save('relevance', data)}")


if __name__ == "__main__":
    main()
