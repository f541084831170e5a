"""Expiry and rotation reminders: sent by the sweep 30, 14, 7 and 1 days before the deadline
and at it, each once — also when two sweeps run at once, or a sweep finds several thresholds
passed — and started afresh when the deadline moves."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from coder.secret.v1 import events_pb2
from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import ManualClock
from services.secret.service import SecretDomain
from tests.fixtures.events import EventRecorder
from tests.secret.factories import Secrets, value_of

DAY = 86_400.0


def reminders(recorder: EventRecorder, org: str, secret_id: str) -> list[tuple[str, int]]:
    found = []
    for event in recorder.of(org):
        if event.subject != secret_id or not event.type.startswith(
            ("secret.secret.expir", "secret.secret.rotation")
        ):
            continue
        payload = events_pb2.SecretReminder()
        event.data.Unpack(payload)
        found.append((event.type, payload.days_before))
    return found


class TestExpiry:
    async def test_each_threshold_is_reminded_once_then_the_expiry(
        self,
        member: Secrets,
        clock: ManualClock,
        domain: SecretDomain,
        published: EventRecorder,
        org: str,
    ) -> None:
        start = clock.now()
        draft_expiry = start + timedelta(days=40)
        secret, _ = await member.create(expire_time=_ts(draft_expiry))
        expected: list[tuple[str, int]] = []
        for days, label in ((30, 30), (14, 14), (7, 7), (1, 1), (0, 0)):
            moment = draft_expiry - timedelta(days=days)
            clock.advance((moment - clock.now()).total_seconds() - 60)
            await domain.sweeper.sweep_once()
            clock.advance(60)
            await domain.sweeper.sweep_once()
            await domain.sweeper.sweep_once()
            kind = "secret.secret.expired" if label == 0 else "secret.secret.expiring"
            expected.append((kind, label))
            await published.settle(org, 1 + len(expected), quiet=0.05)
            assert reminders(published, org, secret.id) == expected
        clock.advance(10 * DAY)
        await domain.sweeper.sweep_once()
        assert reminders(published, org, secret.id) == expected

    async def test_thresholds_passed_together_send_the_most_urgent_only(
        self,
        member: Secrets,
        clock: ManualClock,
        domain: SecretDomain,
        published: EventRecorder,
        org: str,
    ) -> None:
        secret, _ = await member.create(expire_time=_ts(clock.now() + timedelta(days=3)))
        await domain.sweeper.sweep_once()
        await published.settle(org, 2, quiet=0.05)
        assert reminders(published, org, secret.id) == [("secret.secret.expiring", 7)]

    async def test_concurrent_sweeps_send_a_reminder_once(
        self,
        member: Secrets,
        clock: ManualClock,
        domain: SecretDomain,
        published: EventRecorder,
        org: str,
    ) -> None:
        secrets = [
            (await member.create(expire_time=_ts(clock.now() + timedelta(days=10))))[0]
            for _ in range(5)
        ]
        await asyncio.gather(*(domain.sweeper.sweep_once() for _ in range(4)))
        await published.settle(org, 10, quiet=0.1)
        for secret in secrets:
            assert reminders(published, org, secret.id) == [("secret.secret.expiring", 14)]

    async def test_a_moved_expiry_starts_its_reminders_afresh(
        self,
        member: Secrets,
        clock: ManualClock,
        domain: SecretDomain,
        published: EventRecorder,
        org: str,
    ) -> None:
        secret, _ = await member.create(expire_time=_ts(clock.now() + timedelta(days=5)))
        await domain.sweeper.sweep_once()
        changes = S.Secret(id=secret.id, expire_time=_ts(clock.now() + timedelta(days=20)))
        await member.stub.UpdateSecret(
            api.UpdateSecretRequest(secret=changes), metadata=member.metadata
        )
        await domain.sweeper.sweep_once()
        await published.settle(org, 4, quiet=0.05)
        assert reminders(published, org, secret.id) == [
            ("secret.secret.expiring", 7),
            ("secret.secret.expiring", 30),
        ]


class TestRotation:
    async def test_rotation_reminders_count_from_the_newest_version(
        self,
        member: Secrets,
        clock: ManualClock,
        domain: SecretDomain,
        published: EventRecorder,
        org: str,
    ) -> None:
        period = S.Secret().rotation_period
        period.FromTimedelta(timedelta(days=20))
        secret, _ = await member.create(rotation_period=period)
        assert secret.next_rotation_time.ToDatetime() - secret.create_time.ToDatetime() == (
            timedelta(days=20)
        )
        clock.advance(13 * DAY)
        await domain.sweeper.sweep_once()
        await published.settle(org, 2, quiet=0.05)
        assert reminders(published, org, secret.id) == [("secret.secret.rotation_due", 7)]
        rotated = await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        assert rotated.secret.next_rotation_time.ToDatetime() == (
            clock.now().replace(tzinfo=None) + timedelta(days=20)
        )
        clock.advance(20 * DAY)
        await domain.sweeper.sweep_once()
        await published.settle(org, 4, quiet=0.05)
        assert reminders(published, org, secret.id) == [
            ("secret.secret.rotation_due", 7),
            ("secret.secret.rotation_due", 0),
        ]


def _ts(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
