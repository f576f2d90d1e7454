"""Worker process pools that leave Ctrl-C to the parent.

A terminal's Ctrl-C goes to every process of the foreground group. A worker that starts
with SIGINT open can be hit while it is still importing, before any initializer of its
own could ignore it, and print a traceback over the parent's one-line "interrupted". Here
each worker is started with SIGINT blocked (a thread's signal mask is inherited across
fork and exec), so it never sees one; the parent handles Ctrl-C and shuts the pool down.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import SpawnContext, SpawnProcess


class _SpawnProcess(SpawnProcess):
    def start(self) -> None:
        if not hasattr(signal, "pthread_sigmask"):  # not on Windows: start as it is
            super().start()
            return
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            # A Ctrl-C that came meanwhile is delivered here, once unblocked, as usual.
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _SpawnContext(SpawnContext):
    Process = _SpawnProcess


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` fresh interpreters (spawned, not forked: this process runs
    threads) that never see SIGINT, and that end when this process does, however it ends."""
    return ProcessPoolExecutor(
        workers,
        mp_context=_SpawnContext(),
        initializer=_end_with_parent,
        initargs=(os.getpid(),),
    )


PARENT_CHECK_S = 1.0


def _end_with_parent(parent: int) -> None:
    """A worker whose parent was killed (`kill -9`, a SIGTERM from `timeout` or systemd) is
    left to init, idle, holding its memory for good: it looks for its parent every second
    and exits once it is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
