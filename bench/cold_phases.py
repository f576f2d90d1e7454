"""Where a cold fetch's time goes: wall and CPU of its two phases, by process.

    python bench/cold_phases.py [--feeds 500] [--items 50] [--latency-ms 100] [--runs 3]

A cold fetch of the farm is CPU-bound on two cores (fetch_bench's figure against newsboat):
this says which part of the CPU is the fetch (the parse workers, and this process: HTTP and
storing) and which is indexing, and how full the cores were in each. The fetch runs through
`Library.fetch` in this process, as the command runs it; CPU is read from /proc for this
process and its children (the parse and index pools), live or ended.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, save, start_farm

from aggregator.config import load_settings
from aggregator.library import open_library

TICK = os.sysconf("SC_CLK_TCK")


def _cpu() -> tuple[float, float]:
    """(this process's CPU, its children's: those running and those ended) in seconds."""
    me = os.getpid()
    own = sum(os.times()[:2])
    children = sum(os.times()[2:4])  # ended and waited for
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            children += (int(fields[11]) + int(fields[12])) / TICK
    return own, children


def one_run(opml: Path, home: Path) -> dict[str, float]:
    shutil.rmtree(home, ignore_errors=True)
    lib = open_library(load_settings(data_dir=home, opml=opml))
    marks: dict[str, tuple[float, tuple[float, float]]] = {}

    def indexing(done: int, total: int) -> None:
        marks.setdefault("index", (time.perf_counter(), _cpu()))

    started, at_start = time.perf_counter(), _cpu()
    try:
        report = lib.fetch(concurrency=16, per_host=16, index_progress=indexing)
    finally:
        lib.close()
    ended, at_end = time.perf_counter(), _cpu()
    if report.failed:
        sys.exit(f"{report.failed} sources failed: the farm is not answering as it should")
    split, at_split = marks.get("index", (ended, at_end))
    fetch_main = at_split[0] - at_start[0]
    fetch_workers = at_split[1] - at_start[1]
    index_cpu = sum(at_end) - sum(at_split)
    return {
        "wall_s": ended - started,
        "fetch_wall_s": split - started,
        "fetch_cpu_main_s": fetch_main,
        "fetch_cpu_workers_s": fetch_workers,
        "index_wall_s": ended - split,
        "index_cpu_s": index_cpu,
        "cpu_s": sum(at_end) - sum(at_start),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=500)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aggphases-"))
    opml = work / "farm.opml"
    farm, _ = start_farm(
        "--feeds", args.feeds, "--items", args.items, "--latency-ms", args.latency_ms,
        "--opml", opml,
    )  # fmt: skip
    runs = []
    try:
        for n in range(args.runs):
            runs.append(one_run(opml, work / "library"))
            r = runs[-1]
            print(
                f"run {n + 1}: {r['wall_s']:.2f} s ({r['cpu_s']:.1f} s CPU): fetch "
                f"{r['fetch_wall_s']:.2f} s, index {r['index_wall_s']:.2f} s",
                flush=True,
            )
    finally:
        farm.terminate()
        farm.wait()
        shutil.rmtree(work, ignore_errors=True)
    m = {key: median([r[key] for r in runs]) for key in runs[0]}
    fetch_cpu = m["fetch_cpu_main_s"] + m["fetch_cpu_workers_s"]
    print(
        f"\n{args.feeds} feeds x {args.items} items, {args.latency_ms} ms latency, "
        f"median of {args.runs}\n\n"
        "| phase | wall s | CPU s | cores busy |\n|---|---|---|---|\n"
        f"| fetch (stored and readable) | {m['fetch_wall_s']:.2f} | {fetch_cpu:.1f} "
        f"(parse workers {m['fetch_cpu_workers_s']:.1f}, this process "
        f"{m['fetch_cpu_main_s']:.1f}) | {fetch_cpu / m['fetch_wall_s']:.2f} |\n"
        f"| indexing | {m['index_wall_s']:.2f} | {m['index_cpu_s']:.1f} | "
        f"{m['index_cpu_s'] / m['index_wall_s']:.2f} |\n"
        f"| whole | {m['wall_s']:.2f} | {m['cpu_s']:.1f} | {m['cpu_s'] / m['wall_s']:.2f} |"
    )
    print(f"\nsaved {save('phases', {'args': vars(args), 'runs': runs, 'median': m})}")


if __name__ == "__main__":
    main()
