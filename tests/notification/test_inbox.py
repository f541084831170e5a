"""The in-app inbox: a task assigned reaches the assignee's inbox and live stream once, with
unread counts, mark read / all read and archive; nobody else's inbox shows it."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from coder.events.v1 import event_pb2
from coder.notification.v1 import events_pb2, resources_pb2
from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from services.kit import Resources
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.notification.factories import people, task_assigned


async def inbox(stub: NotificationServiceStub, token: str) -> list[resources_pb2.Notification]:
    listed = await stub.ListNotifications(api.ListNotificationsRequest(), metadata=auth(token))
    return list(listed.notifications)


class TestAssignedTask:
    async def test_reaches_the_assignee_once_with_its_link(
        self, stub: NotificationServiceStub, resources: Resources, token: TokenFactory, org: str
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("bob", "member"))
        bob = token(org, ("member",), "bob")
        event = task_assigned(org, "bob", actor="alice", title="Ship it")
        await resources.bus.publish([event, event])  # the relay published it twice

        async def arrived() -> bool:
            return len(await inbox(stub, bob)) == 1

        await eventually(arrived)
        [notification] = await inbox(stub, bob)
        assert notification.title == "Alice assigned you “Ship it”"
        assert notification.event_type == "planning.task.assigned"
        assert notification.action_url.startswith("/planning/project-1?task=")
        assert notification.state == resources_pb2.NOTIFICATION_STATE_UNREAD
        count = await stub.GetUnreadCount(api.GetUnreadCountRequest(), metadata=auth(bob))
        assert count.unread_count == 1
        alice = token(org, ("owner",), "alice")
        told_alice = {n.event_type for n in await inbox(stub, alice)}
        assert "planning.task.assigned" not in told_alice  # not told of her own act
        assert "identity.member.added" in told_alice  # but, an owner, of bob joining

    async def test_read_all_read_and_archive(
        self, stub: NotificationServiceStub, resources: Resources, token: TokenFactory, org: str
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("bob", "member"))
        bob = token(org, ("member",), "bob")
        await resources.bus.publish([task_assigned(org, "bob", title=f"T{n}") for n in range(3)])

        async def arrived() -> bool:
            return len(await inbox(stub, bob)) == 3

        await eventually(arrived)
        first, second, _ = await inbox(stub, bob)
        read = await stub.MarkNotificationRead(
            api.MarkNotificationReadRequest(notification_id=first.id), metadata=auth(bob)
        )
        assert read.notification.state == resources_pb2.NOTIFICATION_STATE_READ
        assert read.notification.HasField("read_time")
        unread = await stub.ListNotifications(
            api.ListNotificationsRequest(filter=api.NOTIFICATION_FILTER_UNREAD), metadata=auth(bob)
        )
        assert len(unread.notifications) == 2
        await stub.ArchiveNotification(
            api.ArchiveNotificationRequest(notification_id=second.id), metadata=auth(bob)
        )
        assert [n.id for n in await inbox(stub, bob)] == [n.id for n in (first, _)]
        marked = await stub.MarkAllNotificationsRead(
            api.MarkAllNotificationsReadRequest(), metadata=auth(bob)
        )
        assert marked.marked_count == 1
        count = await stub.GetUnreadCount(api.GetUnreadCountRequest(), metadata=auth(bob))
        assert count.unread_count == 0

    async def test_another_users_notification_is_not_found(
        self, stub: NotificationServiceStub, resources: Resources, token: TokenFactory, org: str
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("bob", "member"))
        bob = token(org, ("member",), "bob")
        await resources.bus.publish([task_assigned(org, "bob")])

        async def arrived() -> bool:
            return len(await inbox(stub, bob)) == 1

        await eventually(arrived)
        [notification] = await inbox(stub, bob)
        carol = token(org, ("admin",), "carol")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.MarkNotificationRead(
                api.MarkNotificationReadRequest(notification_id=notification.id),
                metadata=auth(carol),
            )
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


class TestWatch:
    async def test_streams_new_notifications_live(
        self, stub: NotificationServiceStub, resources: Resources, token: TokenFactory, org: str
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("bob", "member"))
        bob = token(org, ("member",), "bob")
        call = stub.WatchNotifications(api.WatchNotificationsRequest(), metadata=auth(bob))
        stream = call.__aiter__()
        started = await asyncio.wait_for(stream.__anext__(), 10)
        assert started.started and started.unread_count == 0
        await resources.bus.publish(
            [task_assigned(org, "bob", title="Live"), task_assigned(org, "carol")]
        )
        arrived = await asyncio.wait_for(stream.__anext__(), 10)
        assert arrived.notification.title == "Alice assigned you “Live”"
        assert arrived.unread_count == 1
        call.cancel()

    async def test_each_notification_once_when_its_event_is_relayed_again(
        self,
        stub: NotificationServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        delivered: EventRecorder,
    ) -> None:
        """The stream has a notification from the process that stored it, before its event
        is relayed; neither that relayed copy nor a second relay's publish repeats it."""
        await people(resources.bus, org, ("alice", "owner"), ("bob", "member"))
        bob = token(org, ("member",), "bob")
        call = stub.WatchNotifications(api.WatchNotificationsRequest(), metadata=auth(bob))
        stream = call.__aiter__()
        assert (await asyncio.wait_for(stream.__anext__(), 10)).started
        await resources.bus.publish([task_assigned(org, "bob", title="First")])
        first = await asyncio.wait_for(stream.__anext__(), 10)
        assert first.notification.title == "Alice assigned you “First”"

        def relayed() -> list[event_pb2.Event]:
            found = []
            for event in delivered.of(org):
                payload = events_pb2.MessageDelivered()
                event.data.Unpack(payload)
                if payload.notification.id == first.notification.id:
                    found.append(event)
            return found

        async def was_relayed() -> bool:
            return bool(relayed())

        await eventually(was_relayed)
        # Published again, as a second replica's relay may, beside the next assignments.
        await resources.bus.publish([relayed()[0], task_assigned(org, "bob", title="Second")])
        await resources.bus.publish([task_assigned(org, "bob", title="Third")])
        titles = [
            (await asyncio.wait_for(stream.__anext__(), 10)).notification.title for _ in range(2)
        ]
        assert sorted(titles) == ["Alice assigned you “Second”", "Alice assigned you “Third”"]
        call.cancel()
