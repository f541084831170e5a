"""Email: the assignee gets one message at their directory address, with a text and an HTML
part, List-Unsubscribe and a stable Message-ID, in their own locale."""

from __future__ import annotations

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from services.kit import Resources
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.notification.factories import Mailbox, people, prefs, task_assigned


class TestEmail:
    async def test_one_message_with_both_parts_and_unsubscribe(
        self, resources: Resources, mailbox: Mailbox, org: str
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("dora", "member"))
        event = task_assigned(org, "dora", title="Fix the build")
        await resources.bus.publish([event, event])
        address = "dora@example.com"

        async def arrived() -> bool:
            return len(mailbox.to(address)) >= 1

        await eventually(arrived)
        [message] = mailbox.to(address)
        assert message["Subject"] == "Alice assigned you “Fix the build”"
        assert message["List-Unsubscribe"] == (
            "<https://coder.test/notifications/preferences?unsubscribe=planning.task.assigned>"
        )
        assert message["From"] == "Coder <notifications@coder.test>"
        assert message["Message-ID"].endswith("@coder.test>")
        text = message.get_body(preferencelist=("plain",))
        markup = message.get_body(preferencelist=("html",))
        assert text is not None and markup is not None
        assert "https://coder.test/planning/project-1?task=" in text.get_content()
        assert "<p>Alice assigned you the task “Fix the build”.</p>" in markup.get_content()

    async def test_in_the_recipients_locale_and_off_when_turned_off(
        self,
        resources: Resources,
        mailbox: Mailbox,
        stub: NotificationServiceStub,
        token: TokenFactory,
        org: str,
    ) -> None:
        await people(resources.bus, org, ("alice", "owner"), ("eve", "member"), ("finn", "member"))
        eve = token(org, ("member",), "eve")
        await stub.UpdatePreferences(
            api.UpdatePreferencesRequest(
                preferences=prefs({"locale": "fr-FR", "timezone": "Europe/Paris"})
            ),
            metadata=auth(eve),
        )
        finn = token(org, ("member",), "finn")
        await stub.UpdatePreferences(
            api.UpdatePreferencesRequest(
                preferences=prefs(
                    {
                        "channels": [
                            {
                                "event_type": "planning.task.assigned",
                                "channel": "CHANNEL_EMAIL",
                                "enabled": "TOGGLE_OFF",
                            }
                        ]
                    }
                )
            ),
            metadata=auth(finn),
        )
        await resources.bus.publish(
            [task_assigned(org, "eve", title="Relire"), task_assigned(org, "finn")]
        )

        async def arrived() -> bool:
            listed = await stub.ListNotifications(
                api.ListNotificationsRequest(), metadata=auth(finn)
            )
            return len(mailbox.to("eve@example.com")) >= 1 and len(listed.notifications) == 1

        await eventually(arrived)
        [message] = mailbox.to("eve@example.com")
        assert message["Subject"] == "Alice vous a confié « Relire »"
        assert mailbox.to("finn@example.com") == []  # in-app only, as finn chose
