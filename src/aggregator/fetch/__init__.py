"""HTTP for feeds and pages: polite, bounded, and honest about what went wrong.

One shared `httpx.AsyncClient`; a global and a per-host limit on requests in flight;
conditional GET; redirects followed by hand (at most five, loops caught, only to http and
https); bodies decompressed here, incrementally, so the size cap holds on the decompressed
bytes and a gzip bomb costs no memory; retries with backoff and jitter on timeouts, broken
connections and 5xx; 429 and 503 honour Retry-After.
"""

import sys

# On import, httpx loads its own command-line tool (click, rich and pygments: ~30 ms of a
# short run), and falls back to a stub when that import fails. This program never runs
# that tool; `None` in sys.modules makes its import fail at once.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from aggregator.fetch.client import (  # noqa: E402
    TIMEOUTS_TO_GIVE_UP,
    HttpClient,
    Response,
    host_of,
    run,
)
from aggregator.fetch.trust import Trust  # noqa: E402

__all__ = ["TIMEOUTS_TO_GIVE_UP", "HttpClient", "Response", "Trust", "host_of", "run"]
