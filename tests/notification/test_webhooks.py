"""Outgoing webhooks: Standard Webhooks signatures (checked with the `standardwebhooks`
package), secret rotation with overlap, the delivery log, and an endpoint answering 500 that
sees retries with growing delays, is disabled, and its admins told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from coder.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from services.kit import ManualClock, Resources
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.notification.factories import Receiver, body_of, people, task_assigned


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver()
    await started.start()
    yield started
    await started.stop()


async def endpoint(
    stub: NotificationServiceStub, admin: str, url: str, *types: str
) -> resources_pb2.WebhookEndpoint:
    created = await stub.CreateWebhookEndpoint(
        api.CreateWebhookEndpointRequest(
            endpoint=resources_pb2.WebhookEndpoint(url=url, event_types=list(types))
        ),
        metadata=auth(admin),
    )
    made: resources_pb2.WebhookEndpoint = created.endpoint
    return made


class TestSigned:
    async def test_the_receiver_verifies_the_delivery(
        self,
        stub: NotificationServiceStub,
        resources: Resources,
        token: TokenFactory,
        receiver: Receiver,
        org: str,
    ) -> None:
        admin = token(org, ("admin",), "alice")
        hook = await endpoint(stub, admin, receiver.url, "planning.task.*")
        assert hook.secret.startswith("whsec_")
        event = task_assigned(org, "bob", title="Signed")
        await resources.bus.publish([event, event])

        async def arrived() -> bool:
            return len(receiver.received) >= 1

        await eventually(arrived)
        [delivery] = receiver.received
        verified = Webhook(hook.secret).verify(delivery.body, delivery.headers)
        assert verified["type"] == "planning.task.assigned"
        assert verified["data"]["eventId"] == event.id
        assert verified["data"]["task"]["title"] == "Signed"
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(delivery.body, delivery.headers)

        async def logged() -> bool:
            log = await stub.ListWebhookDeliveries(
                api.ListWebhookDeliveriesRequest(endpoint_id=hook.id), metadata=auth(admin)
            )
            return bool(log.deliveries[0].state != resources_pb2.DELIVERY_STATE_PENDING)

        await eventually(logged)  # the answer is logged just after it arrives
        log = await stub.ListWebhookDeliveries(
            api.ListWebhookDeliveriesRequest(endpoint_id=hook.id), metadata=auth(admin)
        )
        [entry] = log.deliveries
        assert entry.state == resources_pb2.DELIVERY_STATE_SUCCEEDED
        assert [a.status_code for a in entry.attempts] == [200]
        assert entry.id == delivery.headers["webhook-id"]

    async def test_rotation_signs_with_both_secrets_during_the_overlap(
        self,
        stub: NotificationServiceStub,
        token: TokenFactory,
        receiver: Receiver,
        org: str,
    ) -> None:
        admin = token(org, ("admin",), "alice")
        hook = await endpoint(stub, admin, receiver.url, "*")
        rotated = await stub.RotateWebhookSecret(
            api.RotateWebhookSecretRequest(endpoint_id=hook.id, overlap_seconds=3600),
            metadata=auth(admin),
        )
        assert rotated.endpoint.secret != hook.secret
        assert rotated.endpoint.HasField("previous_secret_expire_time")
        await stub.SendTestWebhook(
            api.SendTestWebhookRequest(endpoint_id=hook.id), metadata=auth(admin)
        )

        async def arrived() -> bool:
            return len(receiver.received) >= 1

        await eventually(arrived)
        [delivery] = receiver.received
        assert body_of(delivery)["type"] == "notification.webhook.tested"
        for secret in (hook.secret, rotated.endpoint.secret):
            Webhook(secret).verify(delivery.body, delivery.headers)
        fetched = await stub.GetWebhookEndpoint(
            api.GetWebhookEndpointRequest(endpoint_id=hook.id), metadata=auth(admin)
        )
        assert fetched.endpoint.secret == ""  # shown on create and rotate only


class TestFailingReceiver:
    async def test_retries_grow_then_disabled_and_admins_told(
        self,
        stub: NotificationServiceStub,
        resources: Resources,
        token: TokenFactory,
        receiver: Receiver,
        clock: ManualClock,
        org: str,
    ) -> None:
        await people(resources.bus, org, ("alice", "admin"), ("zed", "owner"))
        zed = token(org, ("owner",), "zed")
        receiver.status = 500
        hook = await endpoint(stub, zed, receiver.url, "planning.task.assigned")
        await resources.bus.publish([task_assigned(org, "bob")])

        async def log() -> resources_pb2.WebhookDelivery:
            listed = await stub.ListWebhookDeliveries(
                api.ListWebhookDeliveriesRequest(endpoint_id=hook.id), metadata=auth(zed)
            )
            first: resources_pb2.WebhookDelivery = listed.deliveries[0]
            return first

        delays: list[float] = []
        for attempt in range(1, 5):

            async def attempted(count: int = attempt) -> bool:
                return len(receiver.received) == count and len((await log()).attempts) == count

            await eventually(attempted)
            entry = await log()
            if entry.state != resources_pb2.DELIVERY_STATE_PENDING:
                break
            last = entry.attempts[-1].time.ToDatetime(tzinfo=UTC)
            due = entry.next_attempt_time.ToDatetime(tzinfo=UTC)
            delays.append((due - last).total_seconds())
            clock.advance((due - clock.now()).total_seconds() + 0.001)

        assert len(delays) == 3 and delays == sorted(delays) and delays[0] < delays[-1]
        entry = await log()
        assert entry.state == resources_pb2.DELIVERY_STATE_FAILED
        assert [a.status_code for a in entry.attempts] == [500] * 4
        fetched = await stub.GetWebhookEndpoint(
            api.GetWebhookEndpointRequest(endpoint_id=hook.id), metadata=auth(zed)
        )
        assert fetched.endpoint.disabled
        assert fetched.endpoint.consecutive_failures == 4

        async def admins_told() -> bool:
            listed = await stub.ListNotifications(
                api.ListNotificationsRequest(), metadata=auth(zed)
            )
            return any(
                n.event_type == "notification.webhook.disabled" for n in listed.notifications
            )

        await eventually(admins_told)
        alice = token(org, ("admin",), "alice")
        listed = await stub.ListNotifications(api.ListNotificationsRequest(), metadata=auth(alice))
        [told] = [
            n for n in listed.notifications if n.event_type == "notification.webhook.disabled"
        ]
        assert told.title == f"Webhook endpoint disabled: {receiver.url}"
        assert told.criticality == resources_pb2.CRITICALITY_HIGH
