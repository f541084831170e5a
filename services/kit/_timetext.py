"""Times as stored in documents: RFC 3339 UTC strings of fixed width with nine fractional
digits (`2026-11-28T21:04:05.123456789Z`), so string order is time order — ORDER BY and range
filters work on them in every store — and no nanosecond of a proto Timestamp is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1)
_SECONDS_PER_DAY = 86_400

MIN_TIMESTAMP_SECONDS = -62_135_596_800
"""0001-01-01T00:00:00Z, the earliest time a Timestamp may hold."""
MAX_TIMESTAMP_SECONDS = 253_402_300_799
"""9999-12-31T23:59:59Z, the latest time a Timestamp may hold."""


def timestamp_in_range(value: Timestamp) -> bool:
    """Whether a Timestamp holds a time proto3 JSON (and so a document) can represent."""
    return (
        MIN_TIMESTAMP_SECONDS <= value.seconds <= MAX_TIMESTAMP_SECONDS
        and 0 <= value.nanos < 1_000_000_000
    )


def _text(moment: datetime, nanos: int) -> str:
    # Spelled out rather than strftime: `%Y` does not pad years before 1000 to four digits.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{nanos:09d}Z"
    )


def time_text(moment: datetime) -> str:
    """The stored form of a clock reading (timezone-aware)."""
    return _text(moment.astimezone(UTC), moment.microsecond * 1000)


def timestamp_text(value: Timestamp) -> str:
    """The stored form of a Timestamp (which must be in range)."""
    return _text(_EPOCH + timedelta(seconds=value.seconds), value.nanos)


def optional_timestamp_text(message: Message, field: str) -> str | None:
    """The stored form of a message's Timestamp field, or None when it is unset (stored as
    null rather than left out, so ORDER BY on it keeps undated documents in Cosmos DB)."""
    return timestamp_text(getattr(message, field)) if message.HasField(field) else None


def fill_timestamp(target: Timestamp, text: str) -> None:
    """Set a Timestamp from its stored form."""
    elapsed = datetime.fromisoformat(text[:19]) - _EPOCH
    target.seconds = elapsed.days * _SECONDS_PER_DAY + elapsed.seconds
    target.nanos = int(text[20:29])


def parse_time_text(text: str) -> datetime:
    """A stored time as a timezone-aware datetime (microsecond precision)."""
    moment = datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
    return moment.replace(microsecond=int(text[20:26]))
