"""Search benchmark: indexing throughput, index size and search latency (with snippets for the
top 20) on libraries of 10k and 100k farm entries; lemon24/reader's FTS5 search beside it.

    python bench/search_bench.py [--sizes 10000 100000] [--repeat 3] [--skip-reader]

Entries come from ../shared/tools/feedfarm.py --docs (deterministic prose of 200-1,500 words)
and are stored through the product's own store, then indexed by `Library.update_index`, as a
fetch would. Queries are 50 mixed ones (words, phrases, fields, dates, wildcards, fuzzy) made
from the farm's own vocabulary. Latency is the in-process time of `Library.search`, snippets
included, after one warm-up pass, in a fresh process that opens the library as the terminal
UI does (the one that built it still holds what indexing 100k entries left behind: its
searches were ~15% slower). reader (pip install reader) gets the words-and-phrases
subset, which its FTS5 syntax shares.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FARM, save

from aggregator.config import load_settings
from aggregator.library import open_library
from aggregator.models import EntryDraft, Source
from aggregator.sources import save_opml


def farm_docs(count: int, work: Path) -> list[dict]:
    items = 100 if count >= 50_000 else 50
    feeds = max(1, count // items)
    path = work / f"docs-{count}.jsonl"
    if not path.exists():
        proc = subprocess.Popen(
            [
                sys.executable,
                str(FARM),
                "--feeds",
                str(feeds),
                "--items",
                str(items),
                "--docs",
                str(path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        proc.stdout.readline()  # ready: the docs file is written
        proc.terminate()
        proc.wait()
    return [json.loads(line) for line in path.open()][:count]


def build_library(docs: list[dict], home: Path) -> tuple[object, dict]:
    feeds: dict[str, dict] = {}
    for d in docs:
        feeds.setdefault(d["feed"], {"category": d["category"], "docs": []})["docs"].append(d)
    opml = home.parent / f"{home.name}.opml"
    sources = [
        Source(url=f"https://farm.example/{i}", title=name, category=f["category"])
        for i, (name, f) in enumerate(feeds.items())
    ]
    save_opml(opml, sources, title="bench")
    lib = open_library(load_settings(data_dir=home, opml=str(opml)))
    started = time.perf_counter()
    for source, feed in zip(sources, feeds.values(), strict=True):
        lib.store.upsert_entries(
            source.url,
            [
                EntryDraft(
                    guid=d["link"],
                    url=d["link"],
                    canonical_url=d["link"],
                    title=d["title"],
                    text=d["text"],
                    summary=d["text"][:300],
                    published=datetime.fromisoformat(d["date"]),
                )
                for d in feed["docs"]
            ],
        )
    stored = time.perf_counter() - started
    started = time.perf_counter()
    indexed = lib.update_index()
    took = time.perf_counter() - started
    store_size = sum(p.stat().st_size for p in home.glob("library.sqlite3*"))
    index_size = sum(p.stat().st_size for p in (home / "index").iterdir())
    return lib, {
        "entries": indexed,
        "store_s": stored,
        "index_s": took,
        "index_per_s": indexed / took,
        "store_mb": store_size / 2**20,
        "index_mb": index_size / 2**20,
    }


def make_queries(docs: list[dict], seed: int = 7) -> list[tuple[str, str]]:
    """50 (kind, query) pairs from the corpus' own words: common, rare, pairs, phrases, ..."""
    rng = random.Random(seed)
    words = Counter(
        w.lower() for d in docs[:3000] for w in d["text"].split() if w.isalpha() and len(w) > 4
    )
    common = [w for w, _ in words.most_common(60)]
    rare = [w for w, n in words.items() if 3 <= n <= 20]
    sentences = [s.strip() for d in docs[:500] for s in d["text"].split(".") if len(s.split()) > 6]
    titles = [d["title"] for d in docs[:2000]]
    queries: list[tuple[str, str]] = []
    for _ in range(10):
        queries.append(("word", rng.choice(common)))
    for _ in range(6):
        queries.append(("rare", rng.choice(rare)))
    for _ in range(8):
        queries.append(("words", f"{rng.choice(common)} {rng.choice(rare)}"))
    for _ in range(8):
        words_of = rng.choice(sentences).split()
        start = rng.randrange(0, len(words_of) - 2)
        queries.append(("phrase", '"' + " ".join(words_of[start : start + 2]) + '"'))
    for _ in range(4):
        queries.append(
            ("field", f"title:{rng.choice(rng.choice(titles).split()).strip(',.').lower()}")
        )
    for _ in range(2):
        queries.append(
            (
                "field",
                f"category:{rng.choice(['medicine', 'travel', 'politics'])} {rng.choice(common)}",
            )
        )
    for _ in range(4):
        month = rng.choice(["2024-03", "2024-04", "2024-05"])
        queries.append(("date", f"{rng.choice(common)} published:{month}"))
    for _ in range(4):
        queries.append(("wildcard", rng.choice(common)[:4] + "*"))
    for _ in range(4):
        word = rng.choice(rare)
        typo = word[:2] + word[3:] if len(word) > 5 else word + "x"
        queries.append(("fuzzy", typo + "~"))
    return queries


def time_aggregator(lib: object, queries: list[tuple[str, str]], repeat: int) -> dict:
    for _, q in queries:  # warm-up: first searcher, caches
        lib.search(q, limit=20)
    samples: dict[str, list[float]] = {}
    for _ in range(repeat):
        for kind, q in queries:
            samples.setdefault(kind, []).append(lib.search(q, limit=20).took_ms)
    flat = sorted(t for ts in samples.values() for t in ts)
    return {
        "median_ms": statistics.median(flat),
        "p95_ms": flat[int(len(flat) * 0.95) - 1],
        "by_kind_median_ms": {k: statistics.median(v) for k, v in samples.items()},
    }


def time_reader(
    docs: list[dict], queries: list[tuple[str, str]], repeat: int, work: Path
) -> dict | None:
    os.environ.setdefault("READER_NO_VENDORED_FEEDPARSER", "1")
    try:
        from reader import make_reader
    except ImportError:
        return None
    db = work / f"reader-{len(docs)}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    reader = make_reader(str(db))
    for name in {d["feed"] for d in docs}:
        reader.add_feed(f"https://farm.example/{abs(hash(name))}", allow_invalid_url=True)
    urls = {name: f"https://farm.example/{abs(hash(name))}" for name in {d["feed"] for d in docs}}
    for d in docs:
        reader.add_entry(
            {
                "feed_url": urls[d["feed"]],
                "id": d["link"],
                "title": d["title"],
                "link": d["link"],
                "published": datetime.fromisoformat(d["date"]),
                "content": [{"value": d["text"]}],
            }
        )
    reader.enable_search()
    started = time.perf_counter()
    reader.update_search()
    index_s = time.perf_counter() - started
    shared = [(k, q) for k, q in queries if k in ("word", "rare", "words", "phrase")]
    for _, q in shared:
        list(reader.search_entries(q, limit=20))
    flat = []
    for _ in range(repeat):
        for _, q in shared:
            started = time.perf_counter()
            list(reader.search_entries(q, limit=20))
            flat.append((time.perf_counter() - started) * 1000)
    flat.sort()
    reader.close()
    return {
        "index_s": index_s,
        "index_per_s": len(docs) / index_s,
        "median_ms": statistics.median(flat),
        "p95_ms": flat[int(len(flat) * 0.95) - 1],
        "queries": len(shared),
    }


def time_in_fresh_process(home: Path, queries: list[tuple[str, str]], repeat: int) -> list[dict]:
    """`time_aggregator` on all the queries, then on the words and phrases (the mix reader's
    FTS5 shares), in a new process."""
    asked = home.parent / f"{home.name}-queries.json"
    asked.write_text(json.dumps(queries))
    found = subprocess.run(
        [sys.executable, __file__, "--time", str(home), str(asked), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(found.stdout.splitlines()[-1])


def _time_here(home: Path, asked: Path, repeat: int) -> None:
    queries = [(kind, text) for kind, text in json.loads(asked.read_text())]
    lib = open_library(load_settings(data_dir=home, opml=str(home.parent / f"{home.name}.opml")))
    try:
        ours = time_aggregator(lib, queries, repeat)
        shared = [(k, q) for k, q in queries if k in ("word", "rare", "words", "phrase")]
        print(json.dumps([ours, time_aggregator(lib, shared, repeat)]))
    finally:
        lib.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-reader", action="store_true")
    ap.add_argument("--time", nargs=2, type=Path, help=argparse.SUPPRESS)  # LIBRARY QUERIES
    ap.add_argument(
        "--keep", action="store_true", help="keep the libraries built (GBs at 100k) to look at"
    )
    args = ap.parse_args()
    if args.time:
        return _time_here(*args.time, args.repeat)
    if not FARM.exists():
        sys.exit(f"feedfarm not found at {FARM}: the benchmarks need ../shared beside the project")
    work = Path(tempfile.mkdtemp(prefix="aggsearch-"))
    try:
        rows = []
        for size in args.sizes:
            docs = farm_docs(size, work)
            lib, built = build_library(docs, work / f"lib-{size}")
            lib.close()
            queries = make_queries(docs)
            ours, ours_shared = time_in_fresh_process(work / f"lib-{size}", queries, args.repeat)
            theirs = None if args.skip_reader else time_reader(docs, queries, args.repeat, work)
            rows.append(
                {
                    "size": size,
                    "built": built,
                    "aggregator": ours,
                    "aggregator_shared": ours_shared,
                    "reader": theirs,
                    "queries": queries,
                }
            )
            print(
                f"{size:>7} entries: indexed {built['index_per_s']:.0f}/s; search median {ours['median_ms']:.1f} ms, p95 {ours['p95_ms']:.1f} ms"
            )
    finally:
        if args.keep:
            print(f"libraries kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    lines = [
        "| entries | index entries/s | index MB / store MB | search median ms | p95 ms | words+phrases median / p95 ms | reader FTS5 index/s | reader median / p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b, a, s, t = r["built"], r["aggregator"], r["aggregator_shared"], r["reader"]
        reader_cells = (
            f"{t['index_per_s']:.0f} | {t['median_ms']:.1f} / {t['p95_ms']:.1f}" if t else "— | —"
        )
        lines.append(
            f"| {r['size']:,} | {b['index_per_s']:.0f} | {b['index_mb']:.0f} / {b['store_mb']:.0f} | {a['median_ms']:.1f} | {a['p95_ms']:.1f} | {s['median_ms']:.1f} / {s['p95_ms']:.1f} | {reader_cells} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    for r in rows:
        print(
            f"\n{r['size']:,}: median ms by kind: "
            + ", ".join(f"{k} {v:.1f}" for k, v in r["aggregator"]["by_kind_median_ms"].items())
        )
    print(f"\nsaved {save('search', {'rows': rows, 'table': table})}")


if __name__ == "__main__":
    main()
