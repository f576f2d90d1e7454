"""Date clauses: `published:2024`, `>2024-06-01`, `[2024-01 to 2024-03]`, `>-7d`, `today`.

Read before the rest of the query (a range holds spaces) and left in its text as marks
(`_DATE_MARK`) that the reader puts back under the operators around them; each period,
range or age becomes a `DateRange` over `published`.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from whoosh import query as Q

DATE_FIELDS = ("published", "date")
# A closed range; an unclosed one up to its end date (the words after it stay words); a date.
_DATE_TERM = re.compile(
    r"\b(published|date):(?:[ \t]+(?=[\[<>*\d]))?"
    r"(\[[^\]]*\]|\[[^\s\]]*(?:\s+to(?:\s+[^\s\]]+)?)?|[^\s\[\]()]+)",
    re.IGNORECASE,
)
_DATE_MARK = re.compile("\ue000(\\d+)\ue001")
"""A date clause, read before the rest (its ranges hold spaces) and left in the text as a
mark the reader puts it back at, under the operators around it."""
MATCH_NOTHING = Q.Term("id", "")
"""A clause that can match no entry (entries' ids are never empty): what an impossible date
stands for. Whoosh's NullQuery would be dropped from an AND instead."""


class _Impossible(ValueError):
    """A date written as one that the calendar does not have (2024-02-30)."""


def _take_dates(text: str, now: datetime, notes: list[str]) -> tuple[str, list[Any]]:
    """Each date clause read and left as a mark (see `_DATE_MARK`), so that `NOT`, `-` and
    `OR` apply to it as to any clause; a date that cannot be read is left out, with a note."""
    queries: list[Any] = []

    def take(match: re.Match[str]) -> str:
        written, value = match.group(0), match.group(2)
        if value.startswith("[") and not value.endswith("]"):
            notes.append(f"'{written}' has no closing ']': read to its end date")
        elif written != f"{match.group(1)}:{value}":
            notes.append(f"read '{written}' as '{match.group(1)}:{value}'")
        try:
            queries.append(_date_query(value, now, notes, written))
        except _Impossible as exc:
            notes.append(f"'{written}' is not in the calendar ({exc}): it matches nothing")
            queries.append(MATCH_NOTHING)
        except (ValueError, OverflowError):
            notes.append(f"'{written}' is not a date (try 2024, 2024-06-01, >-7d): ignored")
            queries.append(None)
        return f"\ue000{len(queries) - 1}\ue001"

    return _DATE_TERM.sub(take, text), queries


def _date_query(value: str, now: datetime, notes: list[str], written: str) -> Any:
    """`2024`, `2024-06`, `>2024-06-01`, `<=2024`, `>-7d`, `[2024-01 to 2024-03]`, `today`.

    `>` is after the whole period named (`>2024`: from 2025; `>today`: from tomorrow), `<`
    before it, `>=` and `<=` include it; an age (`>-7d`, newer than seven days ago) is the
    instant it starts at. A range
    may leave an end open (`[2024-01 to]`, `[* TO 2023-06]`), and one written the wrong way
    round is read the right way round.
    """
    value = value.strip()
    if value.startswith("["):
        low, high = (part.strip() for part in _split_range(value.strip("[]")))
        start, end = _bound(low, now, 0), _bound(high, now, 1)
        if start is not None and end is not None and start > end:
            notes.append(f"read '{written}' from {high} to {low}: its ends were swapped")
            start, end = _bound(high, now, 0), _bound(low, now, 1)
        return Q.DateRange("published", start, end)
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            rest = value[len(op) :]
            first, last = _period(rest, now)
            if _age(rest):  # newer (`>`) or older (`<`) than that instant
                if op[0] == ">":
                    return Q.DateRange("published", first, None)
                return Q.DateRange("published", None, first, endexcl=op == "<")
            if op == ">":
                return Q.DateRange("published", last, None, startexcl=True)
            if op == ">=":
                return Q.DateRange("published", first, None)
            if op == "<":
                return Q.DateRange("published", None, first, endexcl=True)
            return Q.DateRange("published", None, last)
    first, last = _period(value, now)
    return Q.DateRange("published", first, None if _age(value) else last)  # an age: since then


def _bound(value: str, now: datetime, end: int) -> datetime | None:
    """A range's start (`end` 0) or end (1): the first or last instant of the period named,
    or the instant an age names whichever end it is (`[* TO -1d]`: until a day ago, not
    until now); None for an open end."""
    if value in ("", "*"):
        return None
    return _period(value, now)[0 if _age(value) else end]


def _split_range(inner: str) -> list[str]:
    """`2024-01 to 2024-03`, `2024-01,2024-03`, `2025-09 to`, `to 2023-06` → [low, high]."""
    parts = re.split(r"\s*\bto\b\s*|\s*,\s*", inner.strip(), maxsplit=1, flags=re.IGNORECASE)
    return [*parts, ""][:2]


def _age(value: str) -> bool:
    """An age (`-7d`, `week`), an instant from now; `today` and `yesterday` are days, as
    calendar dates are."""
    return re.fullmatch(r"-?\d+[dwmy]|week|month|year", value.strip().lower()) is not None


def _period(value: str, now: datetime) -> tuple[datetime, datetime]:
    """A date as written → the (first, last) instant it covers, naive UTC as Whoosh stores.

    A calendar date is a day of this machine's time zone, as the dates shown are: at
    23:30 in New York on 31 December, an entry is of that year, not of the next (in UTC).
    """
    first, last = _local_period(value.strip().lower(), now.astimezone().replace(tzinfo=None))
    return _as_utc(first), _as_utc(last)


def _as_utc(local: datetime) -> datetime:
    try:
        return local.astimezone(UTC).replace(tzinfo=None)  # naive is taken as local time
    except (OverflowError, ValueError):  # the calendar's first or last hours: as they are
        return local


def _local_period(value: str, now: datetime) -> tuple[datetime, datetime]:
    rel = re.fullmatch(r"-?(\d+)([dwmy])", value)
    if rel:
        amount, unit = int(rel.group(1)), rel.group(2)
        if amount == 0:  # "newer than now" would find nothing: `>-0d` means today
            return now.replace(hour=0, minute=0, second=0, microsecond=0), now
        days = {"d": 1, "w": 7, "m": 30, "y": 365}[unit] * amount
        # Further back than the calendar goes (`>-3000y`) is everything there is.
        return now - timedelta(days=min(days, (now - datetime.min).days)), now
    if value in ("today", "yesterday"):
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if value == "yesterday":
            day -= timedelta(days=1)
        return day, day + timedelta(days=1) - timedelta(microseconds=1)
    if value in ("week", "month", "year"):
        return now - timedelta(days={"week": 7, "month": 30, "year": 365}[value]), now
    parts = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if not parts:
        raise ValueError(value)
    year = int(parts.group(1))
    month = int(parts.group(2)) if parts.group(2) else None
    day = int(parts.group(3)) if parts.group(3) else None
    if year < 1:
        raise _Impossible("there is no year 0")
    if month is None:
        return datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59, 999_999)
    if not 1 <= month <= 12:
        raise _Impossible(f"there is no month {month}")
    last = calendar.monthrange(year, month)[1]
    if day is None:
        return datetime(year, month, 1), datetime(year, month, last, 23, 59, 59, 999_999)
    if not 1 <= day <= last:
        raise _Impossible(f"{calendar.month_name[month]} {year} has {last} days")
    start = datetime(year, month, day)
    return start, start.replace(hour=23, minute=59, second=59, microsecond=999_999)
