"""An organization's own wording: the next event after a template is set is worded by it,
and by the built-in wording again once the template is deleted (what a process remembers of
an organization's templates follows every change)."""

from __future__ import annotations

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from coder.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from services.kit import Resources
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.notification.factories import people, task_assigned


class TestOwnWording:
    async def test_set_then_deleted(
        self, stub: NotificationServiceStub, resources: Resources, token: TokenFactory, org: str
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"))

        async def alice_known() -> bool:
            return await resources.store.container("people").get(org, "alice") is not None

        await eventually(alice_known)
        await people(resources.bus, org, ("bob", "member"))
        alice, bob = token(org, ("owner",), "alice"), token(org, ("member",), "bob")

        async def titles(expected: int) -> list[str]:
            async def arrived() -> bool:
                listed = await stub.ListNotifications(
                    api.ListNotificationsRequest(), metadata=auth(bob)
                )
                return len(listed.notifications) >= expected

            await eventually(arrived)
            listed = await stub.ListNotifications(
                api.ListNotificationsRequest(), metadata=auth(bob)
            )
            return sorted(n.title for n in listed.notifications)

        async def directory_known() -> bool:
            listed = await stub.ListNotifications(
                api.ListNotificationsRequest(), metadata=auth(alice)
            )
            return bool(listed.notifications)  # told of bob joining: both are known

        await eventually(directory_known)
        await resources.bus.publish([task_assigned(org, "bob", title="Before")])
        assert await titles(1) == ["Alice assigned you “Before”"]
        template = resources_pb2.Template(
            event_type="planning.task.assigned",
            channel=resources_pb2.CHANNEL_IN_APP,
            title="New for you: {{ task.title }}",
            body="{{ link }}",
        )
        stored = await stub.SetTemplate(
            api.SetTemplateRequest(template=template), metadata=auth(alice)
        )
        await resources.bus.publish([task_assigned(org, "bob", title="During")])
        assert await titles(2) == ["Alice assigned you “Before”", "New for you: During"]
        await stub.DeleteTemplate(
            api.DeleteTemplateRequest(template_id=stored.template.id), metadata=auth(alice)
        )
        await resources.bus.publish([task_assigned(org, "bob", title="After")])
        assert await titles(3) == [
            "Alice assigned you “After”",
            "Alice assigned you “Before”",
            "New for you: During",
        ]
