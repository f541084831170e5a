"""Every storage query of the notification service. Containers, all partitioned by
organization:

- `notifications`: the in-app inbox, one document per recipient and event (or digest), with
  the `notification.message.delivered` event in the same batch (outbox);
- `deliveries`: every outgoing delivery (in-app, email, webhook, escalation) with its due time:
  the service's durable timers. Pending ones are found across partitions by the sweeper;
- `endpoints`: webhook endpoints with their secrets (outbox: `notification.webhook.disabled`);
- `preferences`: users' preferences (`user:<id>`) and the organization's defaults (`org`);
- `templates`: organizations' own wordings;
- `people`: the directory of members (address, name, role) kept from identity's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coder.events.v1 import event_pb2
from coder.notification.v1 import resources_pb2
from services.kit import DocumentExists, DocumentNotFound, EtagMismatch, Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, ContainerSpec, Document, DocumentStore, F, PatchOp, Query
from services.notification._mapping import (
    endpoint_document,
    endpoint_from_document,
    notification_document,
    notification_from_document,
    preferences_document,
    preferences_from_document,
    state_text,
    template_document,
    template_from_document,
)

__all__ = [
    "CONTAINERS",
    "FAILED",
    "NOTIFICATIONS_PER_BATCH",
    "PENDING",
    "SUCCEEDED",
    "Document",
    "NotificationRepository",
]

NOTIFICATIONS = "notifications"
DELIVERIES = "deliveries"
ENDPOINTS = "endpoints"
PREFERENCES = "preferences"
TEMPLATES = "templates"
PEOPLE = "people"

CONTAINERS = (
    ContainerSpec(NOTIFICATIONS, indexes=("/recipientId", "/state", "/createTime"), outbox=True),
    ContainerSpec(
        DELIVERIES,
        indexes=("/state", "/dueTime", "/endpointId", "/digestKey", "/createTime"),
        outbox=True,
    ),
    ContainerSpec(ENDPOINTS, indexes=("/createTime", "/disabled"), outbox=True),
    ContainerSpec(PREFERENCES),
    ContainerSpec(TEMPLATES),
    ContainerSpec(PEOPLE, indexes=("/role",)),
)

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
ADMIN_ROLES = ("owner", "admin")
MAX_BATCH = 90
NOTIFICATIONS_PER_BATCH = MAX_BATCH // 2
"""A notification and its event are two operations of a batch."""


class NotificationRepository(Repository):
    """Reads and writes of the service's documents."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._notifications = self.entities(NOTIFICATIONS)
        self._deliveries = self.entities(DELIVERIES)
        self._endpoints = self.entities(ENDPOINTS)
        self._preferences = self.entities(PREFERENCES)
        self._templates = self.entities(TEMPLATES)
        self._people = self.entities(PEOPLE)

    # --- inbox ---------------------------------------------------------------------------------

    async def add_notification(
        self, notification: resources_pb2.Notification, event: event_pb2.Event
    ) -> bool:
        """Store a notification with its `delivered` event; False when it exists already."""
        try:
            await self._notifications.commit(
                notification.organization_id,
                [BatchOp.create(notification_document(notification))],
                [event],
            )
        except DocumentExists:
            return False
        return True

    async def add_notifications(
        self,
        organization_id: str,
        stored: Sequence[tuple[resources_pb2.Notification, event_pb2.Event]],
    ) -> None:
        """Store notifications of one organization with their `delivered` events in one
        batch (at most `NOTIFICATIONS_PER_BATCH`); DocumentExists when any exists already,
        and then none is stored."""
        await self._notifications.commit(
            organization_id,
            [BatchOp.create(notification_document(notification)) for notification, _ in stored],
            [event for _, event in stored],
        )

    async def get_notification(
        self, organization_id: str, notification_id: str
    ) -> tuple[resources_pb2.Notification, str] | None:
        document = await self._notifications.get(organization_id, notification_id)
        if document is None:
            return None
        return notification_from_document(document), document["_etag"]

    async def list_notifications(
        self,
        organization_id: str,
        recipient_id: str,
        states: Sequence[resources_pb2.NotificationState.ValueType],
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[resources_pb2.Notification], str | None]:
        query = (
            Query()
            .where(
                F("recipientId") == recipient_id, F("state").in_([state_text(s) for s in states])
            )
            .order_by("createTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._notifications.page(query, organization_id)
        return [notification_from_document(d) for d in page.items], page.continuation

    async def count_unread(self, organization_id: str, recipient_id: str) -> int:
        query = Query().where(F("recipientId") == recipient_id, F("state") == "unread")
        return await self._notifications.count(query, organization_id)

    async def replace_notification(
        self, notification: resources_pb2.Notification, etag: str
    ) -> resources_pb2.Notification:
        written = await self._notifications.commit(
            notification.organization_id,
            [BatchOp.replace(notification_document(notification), if_match=etag)],
        )
        return notification_from_document(written[0])

    async def unread_of(
        self, organization_id: str, recipient_id: str
    ) -> list[tuple[resources_pb2.Notification, str]]:
        query = Query().where(F("recipientId") == recipient_id, F("state") == "unread")
        documents = await self._notifications.every(query, organization_id)
        return [(notification_from_document(d), d["_etag"]) for d in documents]

    async def replace_notifications(
        self, organization_id: str, changed: Sequence[tuple[resources_pb2.Notification, str]]
    ) -> None:
        for start in range(0, len(changed), MAX_BATCH):
            chunk = changed[start : start + MAX_BATCH]
            await self._notifications.commit(
                organization_id,
                [BatchOp.replace(notification_document(n), if_match=etag) for n, etag in chunk],
            )

    # --- deliveries (the durable timers) -------------------------------------------------------

    async def add_delivery(self, organization_id: str, delivery: Document) -> Document | None:
        """Queue a delivery; None when one with its id exists (a redelivered event)."""
        try:
            return await self._deliveries.container.create(organization_id, delivery)
        except DocumentExists:
            return None

    async def get_delivery(self, organization_id: str, delivery_id: str) -> Document | None:
        return await self._deliveries.get(organization_id, delivery_id)

    async def due_deliveries(self, now: str, limit: int) -> list[Document]:
        """Pending deliveries whose time has come, in every organization, soonest first."""
        query = (
            Query()
            .where(F("state") == PENDING, F("dueTime") <= now)
            .order_by("dueTime")
            .limit(limit)
        )
        page = await self._deliveries.container.query(query, partition=None)
        return page.items

    async def claim(self, delivery: Document, lease_until: str) -> Document | None:
        """Take a pending delivery for sending until `lease_until` (its due time moves there, so
        an unfinished send is picked up again after it); None when another sender won."""
        try:
            return await self._deliveries.container.patch(
                delivery["organizationId"],
                delivery["id"],
                [PatchOp("set", "/dueTime", lease_until)],
                if_match=delivery["_etag"],
            )
        except (EtagMismatch, DocumentNotFound):
            return None

    async def update_delivery(
        self,
        delivery: Document,
        changes: dict[str, Any],
        events: Sequence[event_pb2.Event] = (),
    ) -> Document:
        """Write a delivery's new state (conditional on the version read), with its events."""
        updated = {k: v for k, v in delivery.items() if not k.startswith("_")} | changes
        written = await self._deliveries.commit(
            delivery["organizationId"],
            [BatchOp.replace(updated, if_match=delivery["_etag"])],
            events,
        )
        return written[0]

    async def digest_items(self, organization_id: str, digest_key: str) -> list[Document]:
        query = Query().where(F("digestKey") == digest_key, F("state") == PENDING)
        return await self._deliveries.every(query, organization_id)

    async def finish_many(
        self, organization_id: str, deliveries: Sequence[Document], state: str
    ) -> None:
        for start in range(0, len(deliveries), MAX_BATCH):
            chunk = deliveries[start : start + MAX_BATCH]
            await self._deliveries.commit(
                organization_id,
                [
                    BatchOp.patch_doc(
                        d["id"],
                        [PatchOp("set", "/state", state), PatchOp("remove", "/dueTime")],
                    )
                    for d in chunk
                ],
            )

    async def endpoint_deliveries(
        self, organization_id: str, endpoint_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[Document], str | None]:
        query = (
            Query()
            .where(F("endpointId") == endpoint_id)
            .order_by("createTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._deliveries.page(query, organization_id)
        return page.items, page.continuation

    async def drop_pending_of(self, organization_id: str, endpoint_id: str) -> None:
        query = Query().where(F("endpointId") == endpoint_id, F("state") == PENDING)
        pending = await self._deliveries.every(query, organization_id)
        await self.finish_many(organization_id, pending, FAILED)

    # --- endpoints -----------------------------------------------------------------------------

    async def create_endpoint(
        self,
        organization_id: str,
        endpoint: resources_pb2.WebhookEndpoint,
        secrets: list[dict[str, str]],
    ) -> resources_pb2.WebhookEndpoint:
        written = await self._endpoints.commit(
            organization_id, [BatchOp.create(endpoint_document(endpoint, secrets))]
        )
        return endpoint_from_document(written[0])

    async def get_endpoint(self, organization_id: str, endpoint_id: str) -> Document | None:
        return await self._endpoints.get(organization_id, endpoint_id)

    async def list_endpoints(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.WebhookEndpoint], str | None]:
        query = Query().order_by("createTime", desc=True).limit(page_size).after(continuation)
        page = await self._endpoints.page(query, organization_id)
        return [endpoint_from_document(d) for d in page.items], page.continuation

    async def enabled_endpoints(self, organization_id: str) -> list[resources_pb2.WebhookEndpoint]:
        enabled = Query().where(F("disabled") == False)  # noqa: E712 (a query condition)
        documents = await self._endpoints.every(enabled, organization_id)
        return [endpoint_from_document(d) for d in documents]

    async def replace_endpoint(
        self,
        organization_id: str,
        endpoint: resources_pb2.WebhookEndpoint,
        secrets: list[dict[str, str]],
        etag: str,
        events: Sequence[event_pb2.Event] = (),
    ) -> resources_pb2.WebhookEndpoint:
        written = await self._endpoints.commit(
            organization_id,
            [BatchOp.replace(endpoint_document(endpoint, secrets), if_match=etag)],
            events,
        )
        return endpoint_from_document(written[0])

    async def delete_endpoint(self, organization_id: str, endpoint_id: str) -> None:
        await self._endpoints.commit(organization_id, [BatchOp.delete(endpoint_id)])

    # --- preferences ---------------------------------------------------------------------------

    async def get_preferences(
        self, organization_id: str, key: str
    ) -> resources_pb2.Preferences | None:
        document = await self._preferences.get(organization_id, key)
        return None if document is None else preferences_from_document(document)

    async def put_preferences(
        self, organization_id: str, key: str, preferences: resources_pb2.Preferences, etag: str
    ) -> resources_pb2.Preferences:
        document = preferences_document(key, preferences)
        operation = BatchOp.replace(document, if_match=etag) if etag else BatchOp.create(document)
        written = await self._preferences.commit(organization_id, [operation])
        return preferences_from_document(written[0])

    # --- templates -----------------------------------------------------------------------------

    async def get_template(
        self, organization_id: str, template_id: str
    ) -> resources_pb2.Template | None:
        document = await self._templates.get(organization_id, template_id)
        return None if document is None else template_from_document(document)

    async def put_template(
        self, organization_id: str, template: resources_pb2.Template
    ) -> resources_pb2.Template:
        written = await self._templates.commit(
            organization_id, [BatchOp.upsert(template_document(template))]
        )
        return template_from_document(written[0])

    async def list_templates(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Template], str | None]:
        query = Query().order_by("id").limit(page_size).after(continuation)
        page = await self._templates.page(query, organization_id)
        return [template_from_document(d) for d in page.items], page.continuation

    async def delete_template(self, organization_id: str, template_id: str) -> None:
        await self._templates.commit(organization_id, [BatchOp.delete(template_id)])

    # --- the directory -------------------------------------------------------------------------

    async def person(self, organization_id: str, user_id: str) -> Document | None:
        return await self._people.get(organization_id, user_id)

    async def admins(self, organization_id: str) -> list[Document]:
        return await self._people.every(
            Query().where(F("role").in_(list(ADMIN_ROLES))), organization_id
        )

    async def record_person(self, organization_id: str, person: Document, event_id: str) -> None:
        """Upsert a member, unless a later event about them was applied already."""
        current = await self._people.get(organization_id, person["id"])
        if current is not None and current.get("eventId", "") >= event_id:
            return
        document = {**person, "eventId": event_id}
        if current is None:
            try:
                await self._people.container.create(organization_id, document)
            except DocumentExists:
                return
            return
        await self._people.container.replace(organization_id, document, if_match=current["_etag"])

    async def forget_person(self, organization_id: str, user_id: str, event_id: str) -> None:
        await self.record_person(
            organization_id, {"id": user_id, "removed": True, "role": ""}, event_id
        )
