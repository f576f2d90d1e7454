"""Terminal UI benchmark on a big library: first paint, search-as-you-type latency, moving
through the list, and memory.

    python bench/tui_bench.py [--entries 100000] [--library DIR]

The library is built from ../shared/tools/feedfarm.py --docs the way bench/search_bench.py
builds it (or reused with --library, a data dir that has library.sqlite3 and feeds.opml).
First paint is measured as a person sees it: the real program started in tmux at 120x40, the
screen read every 20 ms until the first entries show. The rest runs the app under Textual's
Pilot in this process: each keystroke in the search bar timed until the results for it are on
screen; PageDown and `j` timed through the list; RSS read from /proc once 100k rows are loaded
(and the search helper's, a second process, after the searches).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save
from search_bench import build_library, farm_docs

from aggregator.config import load_settings
from aggregator.library import open_library
from aggregator.tui.app import AggregatorApp
from aggregator.tui.messages import SearchFinished
from aggregator.tui.widgets.entry_list import EntryList

QUERIES = ["hospital", "night train", "budget vote", "clinical trial", "tour guide"]


def first_paint(home: Path, opml: Path, runs: int = 3) -> dict[str, float]:
    if shutil.which("tmux") is None:
        return {}
    times, rows = [], []
    for _ in range(runs):
        subprocess.run(["tmux", "kill-session", "-t", "aggbench"], capture_output=True)
        started = time.perf_counter()
        subprocess.run(
            [
                "tmux",
                "new",
                "-d",
                "-s",
                "aggbench",
                "-x",
                "120",
                "-y",
                "40",
                f"{sys.executable} -m aggregator --data-dir {home} --opml {opml}",
            ],
            check=True,
        )
        painted = listed = None
        while time.perf_counter() - started < 30 and listed is None:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-t", "aggbench", "-p"], capture_output=True, text=True
            ).stdout
            now = time.perf_counter() - started
            if painted is None and "Search" in screen:
                painted = now
            if "●" in screen:
                listed = now
            time.sleep(0.02)
        subprocess.run(["tmux", "kill-session", "-t", "aggbench"], capture_output=True)
        times.append(painted or float("nan"))
        rows.append(listed or float("nan"))
    return {"ui_s": statistics.median(times), "entries_s": statistics.median(rows)}


async def in_app(home: Path, opml: Path) -> dict[str, object]:
    settings = load_settings(data_dir=home, opml=str(opml))
    library = open_library(settings)
    app = AggregatorApp(settings, library=library)
    finished: dict[int, float] = {}

    def hook(message: object) -> None:
        if isinstance(message, SearchFinished):
            finished[message.generation] = time.perf_counter()

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        main = app.main
        entries = main.query_one(EntryList)
        loaded = len(entries.rows)
        rss_mb = _rss_mb()
        keystrokes: list[float] = []
        for query in QUERIES * 2:
            await pilot.press("slash")
            for char in query:
                await pilot.press(char if char != " " else "space")
                pressed = time.perf_counter()
            # The last key's results: debounce, search and snippets included.
            deadline = pressed + 10
            while time.perf_counter() < deadline:
                await pilot.pause(0.005)
                done = [t for t in finished.values() if t >= pressed]
                if done:
                    break
            done = [t for t in finished.values() if t >= pressed]
            if done:
                keystrokes.append((max(done) - pressed) * 1000)
            await pilot.press("escape")
            await app.workers.wait_for_complete()
            await pilot.pause()
        entries.focus()
        moves = []
        for step in [1] * 100 + [40] * 30:
            started = time.perf_counter()
            entries.move_to(entries.cursor + step)
            for y in range(entries.size.height):  # draw a screenful, as a refresh does
                entries.render_line(y)
            moves.append((time.perf_counter() - started) * 1000)
    helper = getattr(library._searcher, "_helper", None)  # the search helper, when it started
    helper_mb = _rss_mb(helper._proc.pid) if helper is not None and helper.running else 0.0
    library.close()
    keystrokes.sort()
    return {
        "rows_loaded": loaded,
        "rss_mb": rss_mb,
        "helper_rss_mb": helper_mb,
        "keystroke_median_ms": statistics.median(keystrokes) if keystrokes else None,
        "keystroke_p95_ms": keystrokes[int(len(keystrokes) * 0.95) - 1] if keystrokes else None,
        "keystrokes": len(keystrokes),
        "move_median_ms": statistics.median(moves),
        "move_max_ms": max(moves),
    }


def _rss_mb(pid: int | None = None) -> float:
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument(
        "--library",
        type=Path,
        help="reuse a data dir (library.sqlite3, index/) with its OPML beside it",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the library built (1.6 GB at 100k) to reuse"
    )
    ap.add_argument("--built", action="store_true", help=argparse.SUPPRESS)  # remove it after
    args = ap.parse_args()
    if args.library:
        home, opml = args.library, Path(f"{args.library}.opml")
    else:
        work = Path(tempfile.mkdtemp(prefix="aggtui-"))
        docs = farm_docs(args.entries, work)
        library, built = build_library(docs, work / "lib")
        library.close()
        print(f"built {built['entries']:,} entries in {work / 'lib'}", flush=True)
        # Measured in a fresh process: this one still holds what building the index took.
        again = [sys.executable, __file__, "--library", str(work / "lib")]
        os.execv(sys.executable, again if args.keep else [*again, "--built"])
    try:
        paint = first_paint(home, opml)
        measured = asyncio.run(in_app(home, opml))
    finally:
        if args.built and home.parent.name.startswith("aggtui-"):
            shutil.rmtree(home.parent, ignore_errors=True)  # the run's own work directory
    result = {"first_paint": paint, **measured}
    lines = [
        f"first paint (tmux, 120x40): UI {paint.get('ui_s', float('nan')):.2f} s, entries listed {paint.get('entries_s', float('nan')):.2f} s",
        f"rows loaded: {measured['rows_loaded']:,}; RSS {measured['rss_mb']:.0f} MB"
        f" (+ search helper {measured['helper_rss_mb']:.0f} MB after the searches)",
        f"search keystroke → results: median {measured['keystroke_median_ms']:.0f} ms, p95 {measured['keystroke_p95_ms']:.0f} ms over {measured['keystrokes']} keystrokes",
        f"list moves (PageDown, j): median {measured['move_median_ms']:.1f} ms, max {measured['move_max_ms']:.1f} ms",
    ]
    print("\n".join(lines))
    print(f"saved {save('tui', {'result': result, 'table': lines})}")


if __name__ == "__main__":
    main()
