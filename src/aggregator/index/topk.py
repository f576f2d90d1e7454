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


Part = tuple[Sequence[Any], tuple[Iterable[Any], ...]]
"""One part's rows as columns: their keys (a sequence), and the other columns, iterables
that `zip` would make the rest of each row from."""


def largest(limit: int, parts: Sequence[Part]) -> list[tuple[Any, ...]]:
    """`heapq.nlargest(limit, rows)` over every part's rows: the same rows in the same order."""
    floor = _floor(limit, [keys for keys, _ in parts])
    if floor is None:
        rows = (zip(keys, *others, strict=False) for keys, others in parts)
        return heapq.nlargest(limit, chain.from_iterable(rows))
    kept: list[Iterable[tuple[Any, ...]]] = []
    for keys, others in parts:
        mask = list(map(le, repeat(floor), keys))
        # Each column filtered apart: no row tuple is made for a row that is dropped.
        columns = [compress(keys, mask), *(compress(column, mask) for column in others)]
        kept.append(zip(*columns, strict=False))
    return heapq.nlargest(limit, chain.from_iterable(kept))


def _floor(limit: int, keys: Sequence[Sequence[Any]]) -> Any | None:
    """A key at least `limit` rows reach, from a strided sample; None when every row should
    simply be compared (few rows, or a sample no bigger than the page)."""
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
