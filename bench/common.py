"""Shared pieces of the benchmarks: the feed farm, and measuring a command's wall time, CPU
time and peak memory (the whole process tree, sampled from /proc)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FARM = SHARED / "tools" / "feedfarm.py"
RESULTS = ROOT / "bench" / "results"


@dataclass
class Measure:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    """Largest sum of RSS over the process and its children, sampled every 20 ms (pages a
    forked child shares with its parent count twice)."""
    peak_pss_mb: float = 0.0
    """Largest sum of PSS (shared pages split between their sharers): the tree's real footprint."""
    fetch_s: float | None = None
    """For aggregator: the fetch alone (`took_s` of its JSON), before the index catches up."""


def start_farm(*args: object) -> tuple[subprocess.Popen[str], int]:
    if not FARM.exists():
        sys.exit(f"feedfarm not found at {FARM}: the benchmarks need ../shared beside the project")
    proc = subprocess.Popen(
        [sys.executable, str(FARM), *map(str, args)], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        sys.exit(f"feedfarm exited with {proc.wait()}")
    return proc, int(line.split()[0])


def _tree_memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) summed over a process and its descendants."""
    rss, pss, stack, seen = 0, 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss, pss


def measure(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    keep_json: bool = False,
) -> Measure:
    """Run a command to completion; fail loudly if it fails."""
    started = time.perf_counter()
    out_file = tempfile.TemporaryFile() if keep_json else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out_file, stderr=subprocess.PIPE)
    peak, peak_pss = 0, 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss
        while not done.is_set():
            rss, pss = _tree_memory_kb(proc.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    fetch_s = None
    if keep_json and not isinstance(out_file, int):
        out_file.seek(0)
        fetch_s = json.loads(out_file.read()).get("took_s")
        out_file.close()
    return Measure(wall, usage.ru_utime + usage.ru_stime, peak / 1024, peak_pss / 1024, fetch_s)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def save(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2, default=lambda o: asdict(o)))
    return path
