"""The best few of many keyed rows, without a Python step for each of the many.

`heapq.nlargest` compares every row in a Python loop: for a common word, ~100,000 rows, more
time than scoring them took. A strided sample's `limit`-th best key is a floor that at
least `limit` rows reach (those sampled ones), so every row of the true top reaches it too;
C-level maps drop the rows under it, and only the few left are compared one by one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from operator import le
from typing import Any

SMALL = 256
"""Below this many rows, the sample would cost more than it saves."""


def largest(limit: int, keys: Sequence[Any], *others: Iterable[Any]) -> list[tuple[Any, ...]]:
    """`heapq.nlargest(limit, zip(keys, *others))`, the same rows in the same order."""
    rows: Iterable[tuple[Any, ...]] = zip(keys, *others, strict=False)  # others may be repeat()
    count = len(keys)
    if limit > 0 and count > max(SMALL, 4 * limit):
        # About sqrt(count / limit) apart: the sample and the rows left are then alike in
        # number, each about sqrt(count * limit).
        step = max(2, int((count / limit) ** 0.5))
        sample = keys[::step]
        if len(sample) > limit:
            floor = heapq.nlargest(limit, sample)[-1]
            rows = compress(rows, map(le, repeat(floor), keys))
    return heapq.nlargest(limit, rows)
