"""Time rules of delivery, reckoned in the recipient's own time zone: quiet hours and
do-not-disturb, digest windows, and the backoff of retries."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coder.notification.v1 import resources_pb2

UTC_ZONE = ZoneInfo("UTC")


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, UTC when empty. ValueError when unknown."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as unknown:
        raise ValueError(f"unknown time zone {name!r}") from unknown


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(
    now: datetime, tz: ZoneInfo, quiet: resources_pb2.QuietHours | None, dnd_until: datetime | None
) -> datetime | None:
    """When the recipient's quiet time ends, if `now` falls in it (their daily quiet window
    or a do-not-disturb period); None when they may be disturbed now."""
    ends: list[datetime] = []
    if dnd_until is not None and dnd_until > now:
        ends.append(dnd_until)
    if quiet is not None and quiet.start and quiet.end and quiet.start != quiet.end:
        local = now.astimezone(tz)
        start, end = _clock_time(quiet.start), _clock_time(quiet.end)
        today = local.date()
        # The window that may hold `now` started today or, spanning midnight, yesterday.
        for day in (today - timedelta(days=1), today):
            opened = datetime.combine(day, start, tz)
            closes_day = day if end > start else day + timedelta(days=1)
            closed = datetime.combine(closes_day, end, tz)
            if opened <= local < closed:
                ends.append(closed.astimezone(now.tzinfo))
    return max(ends) if ends else None


def digest_window_end(
    now: datetime, tz: ZoneInfo, digest: resources_pb2.Digest.ValueType, hour: int
) -> datetime:
    """The end of the digest window `now` falls in: the next local full hour (hourly) or the
    next `hour`:00 local time (daily)."""
    local = now.astimezone(tz)
    if digest == resources_pb2.DIGEST_DAILY:
        sent = datetime.combine(local.date(), time(hour), tz)
        if sent <= local:
            sent = datetime.combine(local.date() + timedelta(days=1), time(hour), tz)
        return sent.astimezone(now.tzinfo)
    top = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return top.astimezone(now.tzinfo)


def hour_bucket(now: datetime) -> str:
    """The UTC hour `now` falls in, as the key of hourly caps."""
    return now.strftime("%Y%m%d%H")


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the retry that follows failed attempt `attempt` (1 = the first):
    exponential, `base` doubled each time up to `cap`, with "equal jitter" (half fixed, half
    random), so delays spread out yet grow from one attempt to the next until the cap."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    draw = (rng or random).random()
    return float(ceiling / 2 + draw * ceiling / 2)
