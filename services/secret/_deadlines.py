"""The sweep's schedule of one secret: which reminders are due, and when it next has work.

A secret has up to three deadlines: its expiry, its next rotation (the newest version's time
plus the rotation period) and, once deleted, its purge. Reminders of the expiry and of the
rotation fall `REMINDER_DAYS` before each (and at it). Each is sent once per deadline: a sent
reminder is remembered by a key naming the deadline and the threshold, so moving the deadline
starts its reminders afresh, and a sweep that finds several thresholds passed at once (a secret
created three days before it expires, a sweep that was down) sends the most urgent one only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC as _UTC
from datetime import datetime, timedelta

from coder.secret.v1 import events_pb2, secret_pb2
from services.kit import parse_time_text, time_text
from services.secret._mapping import SecretRecord

REMINDER_DAYS = (30, 14, 7, 1, 0)
"""Days before a deadline its reminders fall, the last at the deadline itself."""

EXPIRY = events_pb2.REMINDER_KIND_EXPIRY
ROTATION = events_pb2.REMINDER_KIND_ROTATION
_KIND_NAMES: dict[int, str] = {EXPIRY: "expiry", ROTATION: "rotation"}


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder due now."""

    kind: int
    due: datetime
    days_before: int
    covers: tuple[str, ...]
    """Keys of the thresholds it stands for (itself and any earlier ones passed unsent)."""


def reminder_key(kind: int, due: datetime, days: int) -> str:
    return f"{_KIND_NAMES[kind]}:{time_text(due)}:{days}"


def deadlines(secret: secret_pb2.Secret) -> list[tuple[int, datetime]]:
    """The reminder deadlines of an active secret."""
    if secret.state != secret_pb2.SECRET_STATE_ACTIVE:
        return []
    found: list[tuple[int, datetime]] = []
    if secret.HasField("expire_time"):
        found.append((EXPIRY, secret.expire_time.ToDatetime().replace(tzinfo=_UTC)))
    if secret.HasField("next_rotation_time"):
        found.append((ROTATION, secret.next_rotation_time.ToDatetime().replace(tzinfo=_UTC)))
    return found


def due_reminders(secret: secret_pb2.Secret, sent: set[str], now: datetime) -> list[Reminder]:
    """The reminders to send now: per deadline, the most urgent passed threshold not sent."""
    due: list[Reminder] = []
    for kind, deadline in deadlines(secret):
        passed = [days for days in REMINDER_DAYS if deadline - timedelta(days=days) <= now]
        unsent = [d for d in passed if reminder_key(kind, deadline, d) not in sent]
        if unsent:
            due.append(
                Reminder(
                    kind,
                    deadline,
                    min(unsent),
                    tuple(reminder_key(kind, deadline, d) for d in unsent),
                )
            )
    return due


def next_deadline(
    secret: secret_pb2.Secret, sent: set[str], now: datetime, *, rewrap: bool = False
) -> str:
    """When the sweep next has work on the secret (time text), or "" for never. Reminders
    already due count as now; so does a rewrap still owed."""
    times: list[datetime] = [now] if rewrap else []
    for kind, deadline in deadlines(secret):
        for days in REMINDER_DAYS:
            if reminder_key(kind, deadline, days) not in sent:
                times.append(max(deadline - timedelta(days=days), now))
                break
    if secret.state == secret_pb2.SECRET_STATE_DELETED and secret.HasField("purge_time"):
        times.append(secret.purge_time.ToDatetime().replace(tzinfo=_UTC))
    return time_text(min(times)) if times else ""


def relevant(sent: set[str], secret: secret_pb2.Secret) -> tuple[str, ...]:
    """The sent keys still naming one of the secret's current deadlines (the rest are
    dropped, so the list stays short)."""
    prefixes = tuple(f"{_KIND_NAMES[k]}:{time_text(d)}:" for k, d in deadlines(secret))
    return tuple(sorted(key for key in sent if key.startswith(prefixes))) if prefixes else ()


def scheduled(record: SecretRecord, now: datetime) -> SecretRecord:
    """The record with its next rotation, its remembered reminders and its next deadline
    worked out again after a change."""
    secret = record.public()
    if secret.HasField("rotation_period") and record.last_version_time:
        period = secret.rotation_period.ToTimedelta()
        secret.next_rotation_time.FromDatetime(parse_time_text(record.last_version_time) + period)
    else:
        secret.ClearField("next_rotation_time")
    reminders = relevant(set(record.reminders), secret)
    return record.changed(
        secret=secret,
        reminders=reminders,
        next_deadline=next_deadline(secret, set(reminders), now),
    )
