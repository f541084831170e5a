"""Deliveries: one document per notification x recipient x channel (or per event x webhook
endpoint), stored before anything is sent, with the time it is due. They are the service's
durable timers: a retry, a notification held for quiet hours, a digest waiting for its window
and an escalation waiting for a read are all a pending delivery with a later `dueTime`, which
the sweeper picks up whether or not the process restarted meanwhile.

Every id derives from the event (and recipient, channel, endpoint), so a redelivered event
queues nothing twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import empty_pb2
from google.protobuf.json_format import MessageToDict

from coder.events.v1 import event_pb2
from coder.notification.v1 import resources_pb2
from services.kit import Aborted, Clock, Principal, fill_timestamp, time_text, timestamp_text
from services.kit.bus import EventFactory
from services.kit.cache import Cache
from services.notification._mapping import derived_id
from services.notification._schedule import digest_window_end, hour_bucket, quiet_until
from services.notification.repository import (
    FAILED,
    PENDING,
    SUCCEEDED,
    Document,
    NotificationRepository,
)
from services.notification.service.preferences import Choice, Effective

IN_APP = "in_app"
EMAIL = "email"
WEBHOOK = "webhook"
ESCALATION = "escalation"
CHANNELS = {resources_pb2.CHANNEL_IN_APP: IN_APP, resources_pb2.CHANNEL_EMAIL: EMAIL}
CHANNEL_OF = {IN_APP: resources_pb2.CHANNEL_IN_APP, EMAIL: resources_pb2.CHANNEL_EMAIL}
TEST_TYPE = "notification.webhook.tested"

_STATES = {
    PENDING: resources_pb2.DELIVERY_STATE_PENDING,
    SUCCEEDED: resources_pb2.DELIVERY_STATE_SUCCEEDED,
    FAILED: resources_pb2.DELIVERY_STATE_FAILED,
}


LEASE_SECONDS = 60
"""How long a sender holds a delivery it took: after that it is due again (the sender died)."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A delivery; `inline` when it is the caller's to send now (claimed for it when
    `stored`; an in-app one due now is not stored apart from its notification)."""

    document: Document
    inline: bool
    stored: bool = True


@dataclass(frozen=True, slots=True)
class Work:
    """What a delivery tells: the notification type, the event it came from, its data."""

    notification_type: str
    criticality: resources_pb2.Criticality.ValueType
    event: event_pb2.Event
    data: dict[str, Any]
    subject: str
    action_url: str


def delivery_document(
    work: Work,
    *,
    channel: str,
    recipient_id: str,
    due: datetime,
    now: datetime,
    purpose: str = "",
    **extra: Any,
) -> Document:
    """`purpose` tells apart a second delivery of the same notification to the same person on
    the same channel (an escalation's reminder)."""
    event = work.event
    return {
        "id": derived_id("d", event.id, work.notification_type, channel, recipient_id, purpose),
        "channel": channel,
        "recipientId": recipient_id,
        "notificationType": work.notification_type,
        "criticality": int(work.criticality),
        "eventType": event.type,
        "eventId": event.id,
        "eventTime": timestamp_text(event.time) if event.HasField("time") else time_text(now),
        "actor": MessageToDict(event.actor, preserving_proto_field_name=True),
        "data": work.data,
        "subject": work.subject,
        "actionUrl": work.action_url,
        "state": PENDING,
        "dueTime": time_text(due),
        "createTime": time_text(now),
        "attempts": [],
        **extra,
    }


def _camel(value: Any) -> Any:
    """Keys in lowerCamelCase, as the API's JSON profile prints them."""
    if isinstance(value, dict):
        return {
            re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), key): _camel(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def webhook_body(work: Work) -> str:
    """The JSON a webhook receives: Standard Webhooks' `{type, timestamp, data}`, the data in
    the API's JSON profile."""
    event = work.event
    data = {
        "eventId": event.id,
        "eventType": event.type,
        "organizationId": event.organization_id,
        "actor": MessageToDict(event.actor),
        **_camel(work.data),
    }
    stamp = timestamp_text(event.time) if event.HasField("time") else ""
    return json.dumps({"type": work.notification_type, "timestamp": stamp, "data": data})


def delivery_from_document(document: Document) -> resources_pb2.WebhookDelivery:
    delivery = resources_pb2.WebhookDelivery(
        id=document["id"],
        endpoint_id=document.get("endpointId", ""),
        event_type=document["notificationType"],
        event_id=document["eventId"],
        state=_STATES.get(document["state"], resources_pb2.DELIVERY_STATE_UNSPECIFIED),
    )
    for attempt in document.get("attempts", []):
        entry = delivery.attempts.add(
            status_code=attempt.get("statusCode", 0), error=attempt.get("error", "")
        )
        fill_timestamp(entry.time, attempt["time"])
    if document["state"] == PENDING and document.get("dueTime"):
        fill_timestamp(delivery.next_attempt_time, document["dueTime"])
    fill_timestamp(delivery.create_time, document["createTime"])
    return delivery


class DeliveryQueue:
    """Decides when each delivery is due and stores it."""

    def __init__(
        self,
        repository: NotificationRepository,
        cache: Cache,
        clock: Clock,
        *,
        dedup_seconds: int,
    ) -> None:
        self._repository = repository
        self._cache = cache
        self._clock = clock
        self._dedup_seconds = dedup_seconds

    async def for_person(
        self,
        work: Work,
        organization_id: str,
        recipient_id: str,
        channel: str,
        choice: Choice,
        preferences: Effective,
    ) -> Queued | None:
        """Queue the delivery of `work` to a person on a channel; None when it was queued
        before (a redelivered event) or repeats another within the dedup window."""
        if not await self._first_in_window(work, organization_id, recipient_id, channel):
            return None
        now = self._clock.now()
        due, digest_key = await self._when(
            work, organization_id, recipient_id, channel, choice, preferences, now
        )
        extra: dict[str, Any] = {"digestKey": digest_key} if digest_key else {}
        inline = due <= now
        if inline and channel == IN_APP:
            # Stored at once by the caller as the notification itself, whose id derives from
            # this delivery's: that write is the delivery, exactly once, and a failed one
            # fails the event's handling, which the bus retries. No timer is needed.
            document = delivery_document(
                work, channel=channel, recipient_id=recipient_id, due=due, now=now, **extra
            )
            document["organizationId"] = organization_id
            return Queued(document, inline=True, stored=False)
        if inline:
            # Sent at once by the caller: stored as claimed by it (due again only if the send
            # does not finish within the lease), so the sweeper leaves it alone meanwhile.
            due = now + timedelta(seconds=LEASE_SECONDS)
        document = delivery_document(
            work, channel=channel, recipient_id=recipient_id, due=due, now=now, **extra
        )
        written = await self._repository.add_delivery(organization_id, document)
        if written is None:
            return None
        return Queued(written, inline)

    async def _first_in_window(
        self, work: Work, organization_id: str, recipient_id: str, channel: str
    ) -> bool:
        """Whether no other event about the same subject reached this person on this channel
        within the dedup window (the same event, redelivered, is not a duplicate of itself)."""
        if not self._dedup_seconds:
            return True
        key = (
            f"notification:dedup:{organization_id}:{recipient_id}:{channel}:"
            f"{work.notification_type}:{work.subject}"
        )
        marker = work.event.id.encode()
        if await self._cache.set_if_absent(key, marker, ttl=self._dedup_seconds):
            return True
        return await self._cache.get(key) == marker

    async def _when(
        self,
        work: Work,
        organization_id: str,
        recipient_id: str,
        channel: str,
        choice: Choice,
        preferences: Effective,
        now: datetime,
    ) -> tuple[datetime, str]:
        critical = work.criticality == resources_pb2.CRITICALITY_CRITICAL
        if critical:
            return now, ""
        if work.criticality == resources_pb2.CRITICALITY_LOW and choice.digest in (
            resources_pb2.DIGEST_HOURLY,
            resources_pb2.DIGEST_DAILY,
        ):
            end = digest_window_end(
                now, preferences.timezone, choice.digest, preferences.digest_hour
            )
            return end, f"{recipient_id}:{channel}:{time_text(end)}"
        due = now
        held = quiet_until(
            now, preferences.timezone, preferences.quiet_hours, preferences.do_not_disturb_until
        )
        if held is not None:
            due = held
        if preferences.hourly_cap:
            bucket = hour_bucket(due)
            key = f"notification:cap:{organization_id}:{recipient_id}:{channel}:{bucket}"
            sent = await self._cache.incr(key, ttl=7200)
            if sent > preferences.hourly_cap:
                # Past the cap: it waits for the next hour (and counts there).
                due = due.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return due, ""

    async def for_endpoint(
        self,
        work: Work,
        organization_id: str,
        endpoint: resources_pb2.WebhookEndpoint,
        *,
        inline: bool = True,
    ) -> Queued | None:
        now = self._clock.now()
        document = delivery_document(
            work,
            channel=WEBHOOK,
            recipient_id=endpoint.id,
            due=now + timedelta(seconds=LEASE_SECONDS) if inline else now,
            now=now,
            endpointId=endpoint.id,
            body=webhook_body(work),
        )
        written = await self._repository.add_delivery(organization_id, document)
        return None if written is None else Queued(written, inline)

    async def direct(
        self, work: Work, organization_id: str, recipient_id: str, channel: str, purpose: str
    ) -> Queued | None:
        """Queue a delivery due now whatever the preferences (an escalation's)."""
        now = self._clock.now()
        document = delivery_document(
            work,
            channel=channel,
            recipient_id=recipient_id,
            due=now + timedelta(seconds=LEASE_SECONDS),
            now=now,
            purpose=purpose,
        )
        written = await self._repository.add_delivery(organization_id, document)
        return None if written is None else Queued(written, inline=True)

    async def escalation(
        self,
        organization_id: str,
        delivery: Document,
        notification_id: str,
        level: int,
        after: float,
    ) -> None:
        """Queue the check of an unread critical notification `after` seconds from now."""
        now = self._clock.now()
        document = {
            **{
                k: v for k, v in delivery.items() if not k.startswith("_") and k != "organizationId"
            },
            "id": derived_id("e", delivery["id"], str(level)),
            "channel": ESCALATION,
            "level": level,
            "notificationId": notification_id,
            "state": PENDING,
            "dueTime": time_text(now + timedelta(seconds=after)),
            "createTime": time_text(now),
            "attempts": [],
        }
        await self._repository.add_delivery(organization_id, document)

    async def test_webhook(
        self, principal: Principal, endpoint: resources_pb2.WebhookEndpoint
    ) -> Document:
        event = EventFactory.acting(principal, self._clock)(
            TEST_TYPE, endpoint.id, empty_pb2.Empty()
        )
        work = Work(
            TEST_TYPE,
            resources_pb2.CRITICALITY_LOW,
            event,
            {"endpointId": endpoint.id, "message": "This is a test delivery."},
            endpoint.id,
            "",
        )
        queued = await self.for_endpoint(work, principal.organization_id, endpoint, inline=False)
        if queued is None:
            raise Aborted("the test delivery was queued twice; send it again", reason="ABORTED")
        return queued.document
