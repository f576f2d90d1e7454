"""Fetching a list where each site has many feeds, with the default limits.

    python bench/hosts_bench.py [--hosts 4] [--feeds 50] [--items 10] [--latency-ms 100] [--runs 3]

Real lists often hold many feeds of one site (a blog platform, a news site's sections, a
video site's channels), listed site by site. One feedfarm per port stands for one site; the
list names every feed of the first site, then of the second, and so on. `aggregator fetch`
runs with its defaults (16 requests at once, 2 per site), cold (new library) then warm
(every feed answers 304). The floor is the slowest site's share: feeds ÷ per-site limit ×
latency, since the sites are asked side by side.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Measure, measure, median, save, start_farm

PER_HOST = 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--feeds", type=int, default=50, help="feeds per site")
    ap.add_argument("--items", type=int, default=10)
    ap.add_argument("--latency-ms", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agghosts-"))
    farms: list[subprocess.Popen[str]] = []
    try:
        outlines: list[str] = []
        for site in range(args.hosts):
            opml = work / f"site{site}.opml"
            farm, _ = start_farm(
                "--feeds", args.feeds, "--items", args.items, "--latency-ms", args.latency_ms,
                "--seed", site + 1, "--port", 0, "--opml", opml,
            )  # fmt: skip
            farms.append(farm)
            outlines += re.findall(r"<outline [^>]*xmlUrl=\"[^\"]+\"[^>]*/>", opml.read_text())
        listing = work / "sites.opml"
        listing.write_text(
            '<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>sites'
            "</title></head><body>\n" + "\n".join(outlines) + "\n</body></opml>\n"
        )
        print(f"{args.hosts} sites x {args.feeds} feeds x {args.items} items, listed site by site")
        cold: list[Measure] = []
        warm: list[Measure] = []
        for run in range(args.runs):
            home = work / f"home{run}"
            cmd = [
                sys.executable, "-m", "aggregator", "--data-dir", str(home),
                "--opml", str(listing), "fetch", "--json",
            ]  # fmt: skip
            cold.append(measure(cmd))
            warm.append(measure(cmd))
            print(f"run {run + 1}: cold {cold[-1].wall_s:6.2f} s  warm {warm[-1].wall_s:6.2f} s")
    finally:
        for farm in farms:
            farm.terminate()
        shutil.rmtree(work, ignore_errors=True)
    floor = args.feeds / PER_HOST * args.latency_ms / 1000
    cold_s = median([m.wall_s for m in cold])
    warm_s = median([m.wall_s for m in warm])
    print(f"\nmedian cold {cold_s:.2f} s, warm {warm_s:.2f} s; floor {floor:.2f} s")
    print(f"warm / floor {warm_s / floor:.2f}")
    path = save(
        "hosts",
        {"args": vars(args), "cold": cold, "warm": warm, "floor_s": floor},
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
