"""Fetch benchmark: aggregator against newsboat, lemon24/reader and the feedparser floor,
on the same feed farm in the same run.

    python bench/fetch_bench.py [--feeds 500] [--items 50] [--latency-ms 100] [--runs 3]

Cold: an empty library fetches every feed. Warm: the same again with nothing changed (every
feed answers 304). newsboat keeps no validators after its first reload, so its warm run is its
third (see ../shared/tools/PEERS.md). Peers that are not installed are skipped with a note:
`apt-get install newsboat`, `pip install reader`. The farm is one host, so aggregator's
per-host limit is set to its global one, as the peers have none.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Measure, measure, median, save, start_farm

READER_SCRIPT = textwrap.dedent(
    """
    import sys
    from reader import make_reader
    db, urls = sys.argv[1], open(sys.argv[2]).read().split()
    reader = make_reader(db)
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    reader.update_feeds(workers=16, scheduled=False)
    bad = [f.url for f in reader.get_feeds() if f.last_exception]
    if bad:
        sys.exit(f"{len(bad)} feeds failed, e.g. {bad[0]}")
    """
)

FLOOR_SCRIPT = textwrap.dedent(
    """
    import pickle, sys, time, feedparser
    bodies = pickle.load(open(sys.argv[1], "rb"))
    kw = {} if sys.argv[2] == "default" else dict(sanitize_html=False, resolve_relative_uris=False)
    started = time.process_time()
    for body in bodies:
        feedparser.parse(body, **kw)
    print(time.process_time() - started)
    """
)


def aggregator_runs(opml: Path, work: Path) -> tuple[Measure, Measure]:
    home = work / "aggregator"
    shutil.rmtree(home, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "aggregator",
        "--data-dir",
        str(home),
        "--opml",
        str(opml),
        "fetch",
        "--concurrency",
        "16",
        "--per-host",
        "16",
        "--json",
    ]
    # The wall time includes indexing (a fetch returns with everything searchable); the
    # fetch alone, entries stored and readable, is the JSON's took_s.
    return measure(cmd, keep_json=True), measure(cmd, keep_json=True)


def newsboat_runs(urls: Path, work: Path) -> tuple[Measure, Measure] | None:
    if shutil.which("newsboat") is None:
        return None
    home = work / "newsboat"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    (home / "config").write_text("reload-threads 16\n")
    cmd = [
        "newsboat",
        "-x",
        "reload",
        "-u",
        str(urls),
        "-c",
        str(home / "cache.db"),
        "-C",
        str(home / "config"),
    ]
    cold = measure(cmd)
    measure(cmd)  # newsboat saves no validators on a fresh cache: the second reload refetches
    return cold, measure(cmd)


def reader_runs(urls: Path, work: Path) -> tuple[Measure, Measure] | None:
    env = {**os.environ, "READER_NO_VENDORED_FEEDPARSER": "1"}
    probe = subprocess.run([sys.executable, "-c", "import reader"], env=env, capture_output=True)
    if probe.returncode != 0:
        return None
    db = work / "reader.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    script = work / "reader_update.py"
    script.write_text(READER_SCRIPT)
    cmd = [sys.executable, str(script), str(db), str(urls)]
    return measure(cmd, env=env), measure(cmd, env=env)


def floor(urls: Path, work: Path) -> dict[str, float]:
    import pickle

    bodies = [urllib.request.urlopen(u).read() for u in urls.read_text().split()]
    data = work / "bodies.pickle"
    data.write_bytes(pickle.dumps(bodies))
    script = work / "floor.py"
    script.write_text(FLOOR_SCRIPT)
    out = {}
    for mode in ("default", "nosanitize"):
        result = subprocess.run(
            [sys.executable, str(script), str(data), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        out[mode] = float(result.stdout)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip", nargs="*", default=[], choices=["newsboat", "reader", "floor"])
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aggbench-"))
    opml, urls = work / "farm.opml", work / "farm.urls"
    farm, port = start_farm(
        "--feeds",
        args.feeds,
        "--items",
        args.items,
        "--latency-ms",
        args.latency_ms,
        "--opml",
        opml,
        "--urls",
        urls,
    )
    print(
        f"farm: {args.feeds} feeds x {args.items} items, {args.latency_ms} ms latency, port {port}"
    )
    results: dict[str, dict[str, list[Measure]]] = {}
    try:
        for run in range(args.runs):
            for name, runner, arg in (
                ("aggregator", aggregator_runs, opml),
                ("newsboat", newsboat_runs, urls),
                ("reader", reader_runs, urls),
            ):
                if name in args.skip:
                    continue
                measured = runner(arg, work)
                if measured is None:
                    print(f"{name}: not installed, skipped")
                    args.skip.append(name)
                    continue
                cold, warm = measured
                results.setdefault(name, {"cold": [], "warm": []})
                results[name]["cold"].append(cold)
                results[name]["warm"].append(warm)
                print(
                    f"run {run + 1}: {name:<10} cold {cold.wall_s:6.2f} s  warm {warm.wall_s:6.2f} s"
                )
        floors = {} if "floor" in args.skip else floor(urls, work)
    finally:
        farm.terminate()
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, floors)


def report(args: argparse.Namespace, results: dict, floors: dict[str, float]) -> None:
    latency_floor = args.feeds * args.latency_ms / 1000 / 16
    lines = [
        f"\n{args.feeds} feeds x {args.items} items, {args.latency_ms} ms latency, "
        f"median of {args.runs} runs ({time.strftime('%Y-%m-%d')})\n",
        "| tool | cold wall s | cold CPU s | cold peak RSS / PSS MB | warm wall s | warm CPU s | warm peak RSS / PSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        c, w = runs["cold"], runs["warm"]
        lines.append(
            f"| {name} | {median([m.wall_s for m in c]):.2f} | {median([m.cpu_s for m in c]):.2f} "
            f"| {median([m.peak_rss_mb for m in c]):.0f} / {median([m.peak_pss_mb for m in c]):.0f} "
            f"| {median([m.wall_s for m in w]):.2f} | {median([m.cpu_s for m in w]):.2f} "
            f"| {median([m.peak_rss_mb for m in w]):.0f} / {median([m.peak_pss_mb for m in w]):.0f} |"
        )
    lines.append(f"\nlatency floor (feeds x latency / 16): {latency_floor:.2f} s")
    for mode, cpu in floors.items():
        lines.append(f"feedparser.parse floor ({mode}): {cpu:.2f} s CPU")
    if "aggregator" in results:
        fetch_only = median([m.fetch_s or 0 for m in results["aggregator"]["cold"]])
        lines.append(
            f"aggregator cold, fetch alone (stored and readable, before indexing): {fetch_only:.2f} s"
        )
        agg = median([m.wall_s for m in results["aggregator"]["cold"]])
        aggw = median([m.wall_s for m in results["aggregator"]["warm"]])
        for peer in ("newsboat", "reader"):
            if peer in results:
                pc = median([m.wall_s for m in results[peer]["cold"]])
                pw = median([m.wall_s for m in results[peer]["warm"]])
                lines.append(f"aggregator / {peer}: cold {agg / pc:.2f}x, warm {aggw / pw:.2f}x")
        lines.append(f"aggregator warm / latency floor: {aggw / latency_floor:.2f}x")
    text = "\n".join(lines)
    print(text)
    path = save("fetch", {"args": vars(args), "results": results, "floors": floors, "table": text})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
