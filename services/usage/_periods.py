"""Calendar windows in UTC: the hour, day and month a moment falls in, and how a time range
splits into the fewest whole stored buckets.

Usage is stored in hour and day buckets; a range query reads the largest buckets that fit
entirely inside it (days, hours at the edges), so a month costs about 30 buckets per group
rather than 720 hourly ones. Months are windows and periods, not stored buckets: a month
bucket would be a third more writes on every event to save reading 30 day buckets on a
monthly report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import Enum


class Granularity(Enum):
    """A bucket size; the value is how it is stored."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


STORED = (Granularity.HOUR, Granularity.DAY)
"""The bucket sizes the ledger stores."""

_COARSEST_FIRST = (Granularity.DAY, Granularity.HOUR)


def floor(moment: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket `moment` falls in."""
    moment = moment.astimezone(UTC)
    if granularity is Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def following(start: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket after the one starting at `start`."""
    if granularity is Granularity.HOUR:
        return start + timedelta(hours=1)
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def ceil(moment: datetime, granularity: Granularity) -> datetime:
    """`moment` when it starts a bucket, else the start of the next bucket."""
    start = floor(moment, granularity)
    return start if start == moment.astimezone(UTC) else following(start, granularity)


def span(start: datetime, granularity: Granularity) -> tuple[datetime, datetime]:
    """The bucket starting at `start`: (start, end)."""
    return start, following(start, granularity)


def starts(start: datetime, end: datetime, granularity: Granularity) -> Iterator[datetime]:
    """The bucket starts in [start, end) (`start` must start a bucket)."""
    moment = start
    while moment < end:
        yield moment
        moment = following(moment, granularity)


def cover(start: datetime, end: datetime) -> list[tuple[Granularity, datetime, datetime]]:
    """The fewest whole stored buckets covering the hour-aligned range [start, end), as
    (granularity, first start, end of the last) runs: whole days in the middle, hours at the
    edges."""
    if start >= end:
        return []
    runs: list[tuple[Granularity, datetime, datetime]] = []
    _cover(start, end, 0, runs)
    return runs


def _cover(
    start: datetime, end: datetime, level: int, runs: list[tuple[Granularity, datetime, datetime]]
) -> None:
    granularity = _COARSEST_FIRST[level]
    if granularity is Granularity.HOUR:
        if start < end:
            runs.append((granularity, start, end))
        return
    inner_start, inner_end = ceil(start, granularity), floor(end, granularity)
    if inner_start >= inner_end:
        _cover(start, end, level + 1, runs)
        return
    _cover(start, inner_start, level + 1, runs)
    runs.append((granularity, inner_start, inner_end))
    _cover(inner_end, end, level + 1, runs)


def elapsed_fraction(moment: datetime, start: datetime, end: datetime) -> float:
    """How far `moment` is into [start, end), between 0 and 1."""
    whole = (end - start).total_seconds()
    done = (moment - start).total_seconds()
    return min(1.0, max(0.0, done / whole))
