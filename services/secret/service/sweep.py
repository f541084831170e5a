"""The sweep: the background pass that acts on stored deadlines — reminders of expiries and
rotations, purges of secrets deleted longer than the restore window — and rewraps data keys
still under an old KEK.

It is driven by `nextDeadline` on each secret (set with every change), so a pass reads only
the secrets that have work, across organizations, and a restarted process picks up where the
last one stopped: nothing is kept in memory between passes. Each secret is handled with a
compare-and-set on its etag, its events in the same batch, so replicas sweeping at once send
every reminder once: the loser of a race sees the etag moved and leaves the secret to the
next pass. Times come from the injected clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from coder.secret.v1 import secret_pb2
from services.kit import DocumentNotFound, EtagMismatch, get_logger, time_text
from services.secret import events
from services.secret._deadlines import due_reminders, scheduled
from services.secret._mapping import SecretRecord
from services.secret.events import SecretEvents
from services.secret.service.context import SecretContext
from services.secret.service.keys import KeyService

_log = get_logger("coder.secret.sweep")


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one pass did."""

    reminders: int = 0
    purged: int = 0
    rewrapped: int = 0


class Sweeper:
    """Runs sweep passes, one now and then one every `sweep_seconds`."""

    def __init__(self, context: SecretContext, keys: KeyService) -> None:
        self._c = context
        self._keys = keys

    async def run(self) -> None:
        """The background loop (a `ServiceDefinition.tasks` entry)."""
        while True:
            try:
                report = await self.sweep_once()
                if report != SweepReport():
                    _log.info(
                        "secret.sweep",
                        reminders=report.reminders,
                        purged=report.purged,
                        rewrapped=report.rewrapped,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                _log.error("secret.sweep_failed", error=type(error).__name__)
            await asyncio.sleep(self._c.settings.sweep_seconds)

    async def sweep_once(self) -> SweepReport:
        now = self._c.now()
        limit = self._c.settings.sweep_batch
        reminders = purged = 0
        for record in await self._c.repository.due(time_text(now), limit):
            try:
                if _purge_due(record, now):
                    await self._purge(record)
                    purged += 1
                else:
                    reminders += await self._remind(record, now)
            except (EtagMismatch, DocumentNotFound):
                continue  # changed meanwhile: the next pass sees its new deadline
        rewrapped = 0
        if self._c.settings.sweep_rewrap:
            rewrapped = await self._keys.rewrap_batch(None, limit=limit)
        return SweepReport(reminders, purged, rewrapped)

    async def _purge(self, record: SecretRecord) -> None:
        event = SecretEvents.sweep(self._c.clock, record.organization_id).changed(
            events.PURGED, record.public()
        )
        await self._c.repository.purge(record, record.etag, [event])

    async def _remind(self, record: SecretRecord, now: datetime) -> int:
        due = due_reminders(record.secret, set(record.reminders), now)
        factory = SecretEvents.sweep(self._c.clock, record.organization_id)
        sent = set(record.reminders)
        reminders = []
        for reminder in due:
            sent.update(reminder.covers)
            reminders.append(
                factory.reminder(record.secret, reminder.kind, reminder.due, reminder.days_before)
            )
        after = scheduled(record.changed(reminders=tuple(sorted(sent))), now)
        await self._c.repository.replace(after, record.etag, reminders)
        return len(reminders)


def _purge_due(record: SecretRecord, now: datetime) -> bool:
    secret = record.secret
    return (
        secret.state == secret_pb2.SECRET_STATE_DELETED
        and secret.HasField("purge_time")
        and time_text(secret.purge_time.ToDatetime().replace(tzinfo=now.tzinfo)) <= time_text(now)
    )
