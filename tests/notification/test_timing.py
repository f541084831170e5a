"""Quiet hours hold a normal notification until the window ends in the recipient's zone; a
critical one goes through at once; a digest window sends one message for many events. The
clock is the host's ManualClock: the tests move it, the sweeper does the rest."""

from __future__ import annotations

from datetime import UTC

from coder.events.v1 import event_pb2
from coder.notification.v1 import events_pb2 as notification_events
from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from coder.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from coder.usage.v1 import events_pb2 as usage_events
from coder.usage.v1 import resources_pb2 as usage
from services.kit import ManualClock, Resources
from services.kit.bus import make_event
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.notification.factories import Mailbox, people, prefs, status_changed, task_assigned, user


async def inbox(stub: NotificationServiceStub, token: str) -> list[resources_pb2.Notification]:
    listed = await stub.ListNotifications(api.ListNotificationsRequest(), metadata=auth(token))
    return list(listed.notifications)


def quota_exceeded(organization_id: str) -> event_pb2.Event:
    alert = usage.UsageAlert(
        limit_id="quota-1",
        kind=usage.LIMIT_KIND_QUOTA,
        level=usage.ALERT_LEVEL_EXCEEDED,
        limit_name="Tokens",
    )
    return make_event(
        "usage.quota.exceeded",
        organization_id,
        "quota-1",
        usage_events.AlertRaised(alert=alert),
        actor=user("alice"),
    )


def local_window(clock: ManualClock) -> dict[str, str]:
    """Quiet hours in Tokyo from one hour before the clock's time to two hours after it."""
    tokyo = clock.now().astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    return {
        "start": f"{(tokyo.hour - 1) % 24:02d}:00",
        "end": f"{(tokyo.hour + 2) % 24:02d}:00",
    }


class TestQuietHours:
    async def test_hold_normal_release_at_the_end_critical_at_once(
        self,
        stub: NotificationServiceStub,
        resources: Resources,
        token: TokenFactory,
        clock: ManualClock,
        org: str,
    ) -> None:
        await people(resources.bus, org, ("alice", "member"), ("gus", "admin"))
        gus = token(org, ("admin",), "gus")

        async def directory_known() -> bool:
            return bool(await inbox(stub, gus))  # told of alice joining

        await eventually(directory_known)
        await stub.UpdatePreferences(
            api.UpdatePreferencesRequest(
                preferences=prefs({"timezone": "Asia/Tokyo", "quiet_hours": local_window(clock)})
            ),
            metadata=auth(gus),
        )
        await resources.bus.publish([task_assigned(org, "gus", title="Later"), quota_exceeded(org)])

        async def critical_arrived() -> bool:
            return any(n.event_type == "usage.quota.exceeded" for n in await inbox(stub, gus))

        await eventually(critical_arrived)
        assert [
            n.event_type for n in await inbox(stub, gus) if n.event_type.startswith("planning")
        ] == []

        now = clock.now()
        clock.advance(3 * 3600 - now.minute * 60 - now.second)  # past the window's end

        async def released() -> bool:
            return any(n.title == "Alice assigned you “Later”" for n in await inbox(stub, gus))

        await eventually(released)
        [held] = [n for n in await inbox(stub, gus) if n.event_type == "planning.task.assigned"]
        assert held.create_time.ToDatetime(tzinfo=UTC) >= now


class TestDigest:
    async def test_one_message_for_many_low_events(
        self,
        stub: NotificationServiceStub,
        resources: Resources,
        token: TokenFactory,
        clock: ManualClock,
        org: str,
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("hana", "member"))
        hana = token(org, ("member",), "hana")
        await stub.UpdatePreferences(
            api.UpdatePreferencesRequest(
                preferences=prefs(
                    {
                        "channels": [
                            {
                                "event_type": "*",
                                "channel": "CHANNEL_IN_APP",
                                "digest": "DIGEST_HOURLY",
                            }
                        ]
                    }
                )
            ),
            metadata=auth(hana),
        )
        await resources.bus.publish([status_changed(org, "hana") for _ in range(5)])
        await resources.bus.publish([task_assigned(org, "hana", title="Now")])  # normal: at once

        async def assigned() -> bool:
            return len(await inbox(stub, hana)) == 1

        await eventually(assigned)
        now = clock.now()
        clock.advance(3600 - now.minute * 60 - now.second + 1)  # the hour is over

        async def digested() -> bool:
            return len(await inbox(stub, hana)) == 2

        await eventually(digested)
        digest = next(
            n for n in await inbox(stub, hana) if n.event_type == "notification.digest.sent"
        )
        assert digest.event_count == 5
        assert digest.title == "5 new notifications"
        assert digest.body.count("“Tidy the backlog” is now done") == 5
        clock.advance(3600)
        assert len(await inbox(stub, hana)) == 2


class TestEscalation:
    async def test_unread_critical_goes_to_email_then_to_the_other_admins(
        self,
        stub: NotificationServiceStub,
        resources: Resources,
        token: TokenFactory,
        clock: ManualClock,
        mailbox: Mailbox,
        delivered: EventRecorder,
        org: str,
    ) -> None:
        await people(resources.bus, org, ("ivy", "admin"), ("jon", "owner"))
        ivy, jon = token(org, ("admin",), "ivy"), token(org, ("owner",), "jon")

        async def directory_known() -> bool:
            # Each admin is told of the other joining: the directory knows both.
            return all([await inbox(stub, ivy), await inbox(stub, jon)])

        await eventually(directory_known)
        await resources.bus.publish([quota_exceeded(org)])

        async def both_told() -> bool:
            told = [await inbox(stub, who) for who in (ivy, jon)]
            return all(any(n.event_type == "usage.quota.exceeded" for n in t) for t in told)

        await eventually(both_told)
        [jons] = [n for n in await inbox(stub, jon) if n.event_type == "usage.quota.exceeded"]
        await stub.MarkNotificationRead(
            api.MarkNotificationReadRequest(notification_id=jons.id), metadata=auth(jon)
        )

        async def both_emailed() -> bool:
            # The first emails, sent (and marked sent) right after the in-app ones.
            emailed = set()
            for event in delivered.of(org):
                payload = notification_events.MessageDelivered()
                event.data.Unpack(payload)
                quota = payload.event_type == "usage.quota.exceeded"
                if quota and payload.channel == resources_pb2.CHANNEL_EMAIL:
                    emailed.add(payload.recipient_id)
            return emailed == {"ivy", "jon"}

        await eventually(both_emailed)

        def alerts_to(who: str) -> int:
            # Only the quota's emails: each also hears by email of the other joining.
            return sum(
                1 for m in mailbox.to(f"{who}@example.com") if m["Subject"] == "Tokens: exceeded"
            )

        emailed_before = alerts_to("ivy")
        jon_emailed = alerts_to("jon")
        clock.advance(601)  # ivy left hers unread past the escalation delay

        async def ivy_emailed() -> bool:
            return alerts_to("ivy") == emailed_before + 1

        await eventually(ivy_emailed)
        assert alerts_to("jon") == jon_emailed  # jon read his: no escalation
        clock.advance(601)  # still unread: the other admins are told

        async def jon_told_again() -> bool:
            quota = [n for n in await inbox(stub, jon) if n.event_type == "usage.quota.exceeded"]
            return len(quota) == 2

        await eventually(jon_told_again)
