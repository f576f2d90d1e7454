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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

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


PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PSS_EVERY = 10
"""Memory is sampled every 20 ms; PSS only every tenth time: the kernel walks a process's
page tables to count it (about 1 ms per 300 MB), which on two cores would take CPU from the
command being measured. RSS comes from counters (statm), at no cost."""


def _tree(pid: int) -> list[int]:
    """A process and its descendants."""
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        if p in found:
            continue
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found.append(p)
    return found


def _sum_kb(pids: list[int], name: str, read: Callable[[TextIO], int]) -> int:
    """`read` applied to /proc/PID/`name` of each process that is still there, summed."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/{name}") as fh:
                total += read(fh)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def _statm_rss(fh: TextIO) -> int:
    return int(fh.read().split()[1]) * PAGE_KB


def _rollup_pss(fh: TextIO) -> int:
    return sum(int(line.split()[1]) for line in fh if line.startswith("Pss:"))


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
        count = 0
        while not done.is_set():
            pids = _tree(proc.pid)
            peak = max(peak, _sum_kb(pids, "statm", _statm_rss))
            if count % PSS_EVERY == 0:
                peak_pss = max(peak_pss, _sum_kb(pids, "smaps_rollup", _rollup_pss))
            count += 1
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
