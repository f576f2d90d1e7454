"""The best few of many keyed rows, without a Python step for each of the many.

`heapq.nlargest` compares every row in a Python loop: for a common word, ~100,000 rows over
a score of segments, about as long as scoring them took. A strided sample's `limit`-th best
key is a floor that at least `limit` rows reach (those sampled ones), so every row of the
true top reaches it too; C-level maps drop the rows under it, and only the few left are
compared one by one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from itertools import chain, compress, repeat
from operator import le
from typing import Any

SMALL = 256
"""Below this many rows, the sample would cost more than it saves."""


def largest(limit: int, parts: Sequence[Sequence[Iterable[Any]]]) -> list[tuple[Any, ...]]:
    """`heapq.nlargest(limit, rows)` over every part's rows: the same rows in the same order.

    A part is its rows' columns, the first the keys (a sequence), the others iterables
    that `zip` would make the rest of each row from.
    """
    floor = _floor(limit, [part[0] for part in parts])  # type: ignore[misc]
    if floor is None:
        rows = (zip(*part, strict=False) for part in parts)
        return heapq.nlargest(limit, chain.from_iterable(rows))
    kept = []
    for part in parts:
        mask = list(map(le, repeat(floor), part[0]))
        # Each column filtered apart: no row tuple is made for a row that is dropped.
        kept.append(zip(*(compress(column, mask) for column in part), strict=False))
    return heapq.nlargest(limit, chain.from_iterable(kept))


def _floor(limit: int, keys: Sequence[Sequence[Any]]) -> Any | None:
    count = sum(map(len, keys))
    if limit <= 0 or count <= max(SMALL, 4 * limit):
        return None
    # About sqrt(count / limit) apart: the sample and the rows left are then alike in
    # number, each about sqrt(count * limit).
    step = max(2, int((count / limit) ** 0.5))
    sample = list(chain.from_iterable(part[::step] for part in keys))
    if len(sample) <= limit:
        return None
    return heapq.nlargest(limit, sample)[-1]
