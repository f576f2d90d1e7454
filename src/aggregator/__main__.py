"""The program's entry point: the `aggregator` script and `python -m aggregator`.

Start-up and exit are much of a short command's time (a warm `fetch` is mostly waiting,
`stats` and `search` are short). The objects that imports build live until exit, so the
cyclic collector only spends time on them: it is off while they load, and they are then
moved where it never looks (`gc.freeze`). At exit the same is done with what the command
built, so the interpreter's last collection does not walk it all once more before it is
freed. (Files and the store are closed by the command itself, never by that collection.)
"""

from __future__ import annotations

import gc
import signal
import sys
from typing import NoReturn


def main() -> NoReturn:
    gc.disable()
    from aggregator.cli import run

    gc.freeze()
    gc.enable()
    code = run()
    # The command is over (an interrupted one has stopped and closed what it had open):
    # another Ctrl-C now would only break into the interpreter's own exit steps (joining
    # threads and worker processes) with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
