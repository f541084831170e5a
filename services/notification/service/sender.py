"""Sending: each due delivery goes out on its channel, and the sweeper finds the due ones.

A delivery is claimed before it is sent (its due time moves a lease ahead, conditionally on
the version read), so two senders never send it together, and one that dies mid-send leaves
it to be picked up after the lease. In-app deliveries are exactly once (the notification's id
derives from the delivery, and it is stored with its `delivered` event in one batch); email
and webhooks are at least once, with the same `Message-ID` / `webhook-id` on every copy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.notification.v1 import resources_pb2
from services.kit import (
    Clock,
    EtagMismatch,
    SystemClock,
    fill_timestamp,
    get_logger,
    time_text,
)
from services.kit.cache import LockManager, LockNotAcquired
from services.notification import _signing
from services.notification._mapping import derived_id, endpoint_from_document, parsed
from services.notification._schedule import retry_delay
from services.notification._settings import NotificationSettings
from services.notification._templates import DIGEST
from services.notification.events import NotificationEvents
from services.notification.repository import (
    FAILED,
    PENDING,
    SUCCEEDED,
    Document,
    NotificationRepository,
)
from services.notification.service.deliveries import (
    CHANNEL_OF,
    EMAIL,
    IN_APP,
    LEASE_SECONDS,
    WEBHOOK,
    DeliveryQueue,
    Work,
)
from services.notification.service.inbox import InboxWriter
from services.notification.service.lookups import Lookups, Snapshot
from services.notification.service.mail import Letter, Mailer, MailError
from services.notification.service.preferences import Effective
from services.notification.service.templates import Wordings
from services.notification.service.webhooks import live_secrets

_log = get_logger("coder.notification")
SWEEP_BATCH = 200
CONCURRENT_SENDS = 16


def work_of(delivery: Document) -> Work:
    """The work a stored delivery carries (its event rebuilt from what was kept of it)."""
    event = event_pb2.Event(
        id=delivery["eventId"],
        type=delivery["eventType"],
        organization_id=delivery["organizationId"],
        actor=parsed(delivery.get("actor", {}), actor_pb2.Actor()),
    )
    fill_timestamp(event.time, delivery["eventTime"])
    return Work(
        delivery["notificationType"],
        delivery["criticality"],
        event,
        delivery.get("data", {}),
        delivery.get("subject", ""),
        delivery.get("actionUrl", ""),
    )


class Sender:
    """Sends deliveries on their channels."""

    def __init__(
        self,
        repository: NotificationRepository,
        queue: DeliveryQueue,
        lookups: Lookups,
        inbox: InboxWriter,
        wordings: Wordings,
        mailer: Mailer,
        events: NotificationEvents,
        locks: LockManager,
        settings: NotificationSettings,
        clock: Clock,
        *,
        wall: Clock | None = None,
    ) -> None:
        self._repository = repository
        self._queue = queue
        self._lookups = lookups
        self._inbox = inbox
        self._wordings = wordings
        self._mailer = mailer
        self._events = events
        self._locks = locks
        self._settings = settings
        self._clock = clock
        self._wall = wall or SystemClock()
        self._http: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._sends = asyncio.Semaphore(CONCURRENT_SENDS)

    # --- the sweeper ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Have the sweeper look now rather than at its next tick."""
        self._wake.set()

    async def sweep(self) -> int:
        """Send every delivery due now; how many were due."""
        due = await self._repository.due_deliveries(time_text(self._clock.now()), SWEEP_BATCH)

        async def one(delivery: Document) -> None:
            async with self._sends:
                claimed = await self._repository.claim(delivery, self._lease())
                if claimed is not None:
                    await self.send(claimed)

        await asyncio.gather(*(one(delivery) for delivery in due))
        return len(due)

    async def sweep_forever(self) -> None:
        """The worker: sweep, then wait for the next tick or a wake-up; until cancelled."""
        try:
            while True:
                try:
                    swept = await self.sweep()
                except Exception:
                    _log.exception("notification.sweep_failed")
                    swept = 0
                if swept >= SWEEP_BATCH:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.sweep_interval_seconds)
        finally:
            if self._http is not None:
                await self._http.aclose()
                self._http = None

    def _lease(self) -> str:
        return time_text(self._clock.now() + timedelta(seconds=LEASE_SECONDS))

    # --- one delivery --------------------------------------------------------------------------

    async def send(self, delivery: Document, snapshot: Snapshot | None = None) -> None:
        """Send a delivery this sender holds; failures are recorded on it and retried.
        `snapshot`: the organization's lookups when the caller has them already."""
        try:
            if snapshot is None:
                snapshot = await self._lookups.of(delivery["organizationId"])
            if delivery.get("digestKey"):
                await self._digest(delivery, snapshot)
                return
            match delivery["channel"]:
                case "in_app":
                    await self._in_app(delivery, snapshot)
                case "email":
                    await self._email(delivery, snapshot)
                case "webhook":
                    await self._webhook(delivery)
                case "escalation":
                    await self._escalation(delivery, snapshot)
        except EtagMismatch:
            # Another sender took it over after our lease ran out; it is theirs now.
            return
        except Exception as failed:
            if "_etag" not in delivery:
                raise  # not stored: the event's handling fails, and the bus retries it
            _log.exception("notification.send_failed", delivery_id=delivery["id"])
            with contextlib.suppress(Exception):
                await self._attempt_failed(delivery, str(failed) or type(failed).__name__, 0)

    async def _context(
        self, snapshot: Snapshot, delivery: Document, recipient: Document | None
    ) -> dict[str, Any]:
        actor = delivery.get("actor", {})
        actor_person = (
            await snapshot.person(actor.get("id", ""))
            if actor.get("kind") == "ACTOR_KIND_USER"
            else None
        )
        base = self._settings.ui_base_url.rstrip("/")
        action = delivery.get("actionUrl", "")
        return {
            **delivery.get("data", {}),
            "actor": {
                "id": actor.get("id", ""),
                "name": (actor_person or {}).get("displayName") or "Someone",
            },
            "recipient": {
                "id": delivery["recipientId"],
                "name": (recipient or {}).get("displayName", ""),
            },
            "event": {
                "type": delivery["eventType"],
                "id": delivery["eventId"],
                "time": delivery["eventTime"],
            },
            "link": f"{base}{action}" if action else base,
        }

    async def _rendered(
        self,
        snapshot: Snapshot,
        delivery: Document,
        channel: resources_pb2.Channel.ValueType,
        preferences: Effective,
        recipient: Document | None,
    ) -> resources_pb2.Rendered:
        data = await self._context(snapshot, delivery, recipient)
        return await self._wordings.render(
            snapshot,
            delivery["notificationType"],
            channel,
            preferences.locale,
            preferences.timezone,
            data,
        )

    def _notification(
        self,
        delivery: Document,
        rendered: resources_pb2.Rendered,
        *,
        notification_id: str,
        notification_type: str,
        event_count: int = 1,
    ) -> resources_pb2.Notification:
        notification = resources_pb2.Notification(
            id=notification_id,
            organization_id=delivery["organizationId"],
            recipient_id=delivery["recipientId"],
            event_type=notification_type,
            event_id=delivery["eventId"],
            criticality=delivery["criticality"],
            title=rendered.title,
            body=rendered.body,
            action_url=delivery.get("actionUrl", ""),
            state=resources_pb2.NOTIFICATION_STATE_UNREAD,
            event_count=event_count,
        )
        notification.create_time.FromDatetime(self._clock.now())
        return notification

    async def _store_notification(
        self, notification: resources_pb2.Notification, delivery: Document
    ) -> None:
        actor = parsed(delivery.get("actor", {}), actor_pb2.Actor())
        await self._inbox.add(notification, self._events.delivered(notification, actor))

    async def _in_app(self, delivery: Document, snapshot: Snapshot) -> None:
        organization_id = delivery["organizationId"]
        preferences = await snapshot.preferences(delivery["recipientId"])
        recipient = await snapshot.person(delivery["recipientId"])
        rendered = await self._rendered(
            snapshot, delivery, resources_pb2.CHANNEL_IN_APP, preferences, recipient
        )
        notification = self._notification(
            delivery,
            rendered,
            notification_id=derived_id("n", delivery["id"]),
            notification_type=delivery["notificationType"],
        )
        await self._store_notification(notification, delivery)
        if "_etag" in delivery:
            await self._succeeded(delivery, notificationId=notification.id)
        if delivery["criticality"] == resources_pb2.CRITICALITY_CRITICAL:
            await self._queue.escalation(
                organization_id, delivery, notification.id, 1, self._settings.escalation_seconds
            )

    async def _email(self, delivery: Document, snapshot: Snapshot) -> None:
        recipient = await snapshot.person(delivery["recipientId"])
        if not self._mailer.configured or recipient is None or not recipient.get("email"):
            await self._given_up(delivery, "no email address or no SMTP server", EMAIL)
            return
        preferences = await snapshot.preferences(delivery["recipientId"])
        rendered = await self._rendered(
            snapshot, delivery, resources_pb2.CHANNEL_EMAIL, preferences, recipient
        )
        await self._mail(delivery, recipient["email"], rendered)

    async def _mail(
        self, delivery: Document, address: str, rendered: resources_pb2.Rendered
    ) -> None:
        base = self._settings.ui_base_url.rstrip("/")
        letter = Letter(
            to=address,
            subject=rendered.title,
            text=rendered.body,
            html=rendered.html,
            unsubscribe_url=(
                f"{base}/notifications/preferences?unsubscribe={delivery['notificationType']}"
            ),
            message_id=delivery["id"],
        )
        try:
            await self._mailer.send(letter)
        except MailError as failed:
            await self._attempt_failed(delivery, str(failed), 0)
            return
        await self._succeeded(
            delivery,
            events=[
                self._events.sent(
                    delivery["organizationId"],
                    delivery["id"],
                    resources_pb2.CHANNEL_EMAIL,
                    delivery["recipientId"],
                    delivery["notificationType"],
                    delivery["eventId"],
                )
            ],
        )

    # --- webhooks ------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds, follow_redirects=False
            )
        return self._http

    async def _webhook(self, delivery: Document) -> None:
        organization_id = delivery["organizationId"]
        document = await self._repository.get_endpoint(organization_id, delivery["endpointId"])
        if document is None or document.get("disabled"):
            await self._given_up(delivery, "the endpoint is disabled or gone", WEBHOOK)
            return
        endpoint = endpoint_from_document(document)
        now = self._clock.now()
        body = delivery["body"].encode()
        # The receiver checks `webhook-timestamp` against its own clock (replay protection),
        # so it is the wall-clock time of the attempt, whatever clock schedules the retries.
        sent_at = int(self._wall.now().timestamp())
        headers = _signing.headers(
            live_secrets(document, time_text(now)), delivery["id"], sent_at, body
        )
        headers["content-type"] = "application/json"
        headers["user-agent"] = "coder-notifications/1"
        status, error = 0, ""
        try:
            response = await self._client().post(endpoint.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as failed:
            error = str(failed) or type(failed).__name__
        attempt = {"time": time_text(now), "statusCode": status, "error": error}
        if not error:
            await self._endpoint_answered(organization_id, endpoint.id, succeeded=True, error="")
            await self._succeeded(delivery, attempt=attempt)
            return
        disabled = await self._endpoint_answered(
            organization_id, endpoint.id, succeeded=False, error=error
        )
        await self._attempt_failed(delivery, error, status, attempt=attempt, stop=disabled)

    async def _endpoint_answered(
        self, organization_id: str, endpoint_id: str, *, succeeded: bool, error: str
    ) -> bool:
        """Count the endpoint's failures in a row (a success resets them); disable it at the
        limit, with the event that tells its admins. Whether it is disabled now."""
        for _ in range(5):
            document = await self._repository.get_endpoint(organization_id, endpoint_id)
            if document is None:
                return True
            endpoint = endpoint_from_document(document)
            if succeeded and endpoint.consecutive_failures == 0:
                return False
            if endpoint.disabled:
                return True
            endpoint.consecutive_failures = 0 if succeeded else endpoint.consecutive_failures + 1
            events: list[event_pb2.Event] = []
            if endpoint.consecutive_failures >= self._settings.webhook_disable_after:
                endpoint.disabled = True
                endpoint.disabled_reason = (
                    f"{endpoint.consecutive_failures} failed deliveries in a row; last: {error}"
                )
                events.append(self._events.webhook_disabled(organization_id, endpoint, error))
            endpoint.update_time.FromDatetime(self._clock.now())
            try:
                await self._repository.replace_endpoint(
                    organization_id, endpoint, document["secrets"], endpoint.etag, events
                )
            except EtagMismatch:
                continue
            if endpoint.disabled:
                await self._lookups.changed(organization_id)
            return endpoint.disabled
        return False

    # --- digests and escalations ---------------------------------------------------------------

    async def _digest(self, delivery: Document, snapshot: Snapshot) -> None:
        organization_id, key = delivery["organizationId"], delivery["digestKey"]
        try:
            lock = await self._locks.acquire(f"notification:digest:{organization_id}:{key}", ttl=60)
        except LockNotAcquired:
            return  # another sender is sending this digest
        try:
            items = sorted(
                await self._repository.digest_items(organization_id, key),
                key=lambda item: item["eventId"],
            )
            if not items:
                return
            recipient_id, channel = delivery["recipientId"], delivery["channel"]
            preferences = await snapshot.preferences(recipient_id)
            recipient = await snapshot.person(recipient_id)
            titles = [
                {
                    "title": (
                        await self._rendered(
                            snapshot, item, CHANNEL_OF[channel], preferences, recipient
                        )
                    ).title,
                    "type": item["notificationType"],
                }
                for item in items
            ]
            last = items[-1]
            summary = {
                **last,
                "notificationType": DIGEST,
                "data": {"count": len(items), "items": titles},
            }
            summary["actionUrl"] = "/notifications"
            rendered = await self._rendered(
                snapshot, summary, CHANNEL_OF[channel], preferences, recipient
            )
            if channel == IN_APP:
                notification = self._notification(
                    summary,
                    rendered,
                    notification_id=derived_id("n", key),
                    notification_type=DIGEST,
                    event_count=len(items),
                )
                await self._store_notification(notification, summary)
            elif recipient is not None and recipient.get("email") and self._mailer.configured:
                await self._mailer.send(
                    Letter(
                        to=recipient["email"],
                        subject=rendered.title,
                        text=rendered.body,
                        html=rendered.html,
                        unsubscribe_url=f"{self._settings.ui_base_url.rstrip('/')}"
                        "/notifications/preferences",
                        message_id=derived_id("m", key),
                    )
                )
            await self._repository.finish_many(organization_id, items, SUCCEEDED)
        finally:
            await lock.release()

    async def _escalation(self, delivery: Document, snapshot: Snapshot) -> None:
        organization_id = delivery["organizationId"]
        found = await self._repository.get_notification(organization_id, delivery["notificationId"])
        read = found is None or found[0].state != resources_pb2.NOTIFICATION_STATE_UNREAD
        if read:
            await self._succeeded(delivery)
            return
        work = work_of(delivery)
        level = delivery.get("level", 1)
        queued = []
        if level == 1:
            # First to the recipient's second channel, then, still unread, to the admins.
            queued.append(
                await self._queue.direct(
                    work, organization_id, delivery["recipientId"], EMAIL, "escalation-1"
                )
            )
            await self._queue.escalation(
                organization_id,
                delivery,
                delivery["notificationId"],
                2,
                self._settings.escalation_seconds,
            )
        else:
            for admin in await snapshot.admins():
                if admin["id"] != delivery["recipientId"]:
                    queued.append(
                        await self._queue.direct(
                            work, organization_id, admin["id"], IN_APP, "escalation-2"
                        )
                    )
        await self._succeeded(delivery)
        for item in queued:
            if item is not None:
                await self.send(item.document, snapshot)

    # --- outcomes ------------------------------------------------------------------------------

    async def _succeeded(
        self,
        delivery: Document,
        *,
        attempt: dict[str, Any] | None = None,
        events: Sequence[event_pb2.Event] = (),
        **changes: Any,
    ) -> None:
        attempts = [*delivery.get("attempts", []), *([attempt] if attempt else [])]
        await self._repository.update_delivery(
            delivery, {"state": SUCCEEDED, "attempts": attempts, **changes}, events
        )

    async def _given_up(self, delivery: Document, error: str, channel: str) -> None:
        event = self._events.failed(
            delivery["organizationId"],
            delivery["id"],
            CHANNEL_OF.get(channel, resources_pb2.CHANNEL_UNSPECIFIED),
            delivery["recipientId"],
            delivery["notificationType"],
            delivery["eventId"],
            error,
        )
        await self._repository.update_delivery(
            delivery, {"state": FAILED, "lastError": error}, [event]
        )

    async def _attempt_failed(
        self,
        delivery: Document,
        error: str,
        status: int,
        *,
        attempt: dict[str, Any] | None = None,
        stop: bool = False,
    ) -> None:
        """Record a failed attempt; retry later with backoff, or give up after the last."""
        now = self._clock.now()
        attempt = attempt or {"time": time_text(now), "statusCode": status, "error": error}
        attempts = [*delivery.get("attempts", []), attempt]
        limit = (
            self._settings.webhook_max_attempts
            if delivery["channel"] == WEBHOOK
            else self._settings.email_max_attempts
        )
        if stop or len(attempts) >= limit:
            event = self._events.failed(
                delivery["organizationId"],
                delivery["id"],
                CHANNEL_OF.get(delivery["channel"], resources_pb2.CHANNEL_UNSPECIFIED),
                delivery["recipientId"],
                delivery["notificationType"],
                delivery["eventId"],
                error,
            )
            await self._repository.update_delivery(
                delivery, {"state": FAILED, "attempts": attempts, "lastError": error}, [event]
            )
            return
        delay = retry_delay(
            len(attempts),
            self._settings.webhook_base_delay_seconds,
            self._settings.webhook_max_delay_seconds,
        )
        await self._repository.update_delivery(
            delivery,
            {
                "state": PENDING,
                "attempts": attempts,
                "lastError": error,
                "dueTime": time_text(now + timedelta(seconds=delay)),
            },
        )
