"""From an event to deliveries: keep the directory, apply the rules, resolve recipients, queue
a delivery per recipient and channel their preferences allow (and per matching webhook
endpoint), then send at once those due now."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2 as identity_events
from services.kit import get_logger
from services.kit.bus import topic_matches
from services.notification._rules import DIRECTORY_SOURCES, Rule, rules_for
from services.notification.repository import NotificationRepository
from services.notification.service.deliveries import CHANNELS, DeliveryQueue, Queued, Work
from services.notification.service.lookups import Lookups, Snapshot
from services.notification.service.recipients import RecipientResolver
from services.notification.service.sender import Sender

_log = get_logger("coder.notification")


class Dispatcher:
    def __init__(
        self,
        repository: NotificationRepository,
        resolver: RecipientResolver,
        lookups: Lookups,
        queue: DeliveryQueue,
        sender: Sender,
        *,
        email: bool,
    ) -> None:
        self._repository = repository
        self._resolver = resolver
        self._lookups = lookups
        self._queue = queue
        self._sender = sender
        self._channels = [c for c in CHANNELS.items() if email or c[1] != "email"]
        self._running: set[asyncio.Future[None]] = set()

    async def handle(self, event: event_pb2.Event) -> None:
        """The consumer's handler: idempotent by event id (every document it writes has an id
        derived from the event), so a redelivery queues and sends nothing twice.

        Shielded: a consumer cancelled mid-event (its broker connection cut) leaves the
        handling to finish, so a delivery it claimed for sending now goes now and once (the
        redelivered event finds it queued), rather than after its lease, perhaps twice."""
        handling = asyncio.ensure_future(self._handle(event))
        self._running.add(handling)
        handling.add_done_callback(self._running.discard)
        await asyncio.shield(handling)

    async def _handle(self, event: event_pb2.Event) -> None:
        if not event.organization_id:
            _log.warning("notification.event_without_organization", event_id=event.id)
            return
        if event.type in DIRECTORY_SOURCES:
            await self._directory(event)
        rules = rules_for(event.type)
        if not rules:
            return
        snapshot = await self._lookups.of(event.organization_id)
        for rule in rules:
            await self._apply(rule, event, snapshot)

    async def _directory(self, event: event_pb2.Event) -> None:
        payload = identity_events.MemberChanged()
        if not event.data.Unpack(payload):
            return
        member = payload.member
        if event.type == "identity.member.removed":
            await self._repository.forget_person(event.organization_id, member.user_id, event.id)
        else:
            person = {
                "id": member.user_id,
                "email": member.email,
                "displayName": member.display_name,
                "role": member.role,
            }
            await self._repository.record_person(event.organization_id, person, event.id)
        await self._lookups.changed(event.organization_id)

    async def _apply(self, rule: Rule, event: event_pb2.Event, snapshot: Snapshot) -> None:
        occurrence = rule.read(event)
        if occurrence is None:
            return
        work = Work(
            rule.type,
            rule.criticality,
            event,
            dict(occurrence.data),
            occurrence.subject,
            occurrence.action_url,
        )
        organization_id = event.organization_id
        now_due: list[Queued] = []
        for recipient in await self._resolver.resolve(rule, occurrence, event, snapshot):
            preferences = await snapshot.preferences(recipient)
            for channel, name in self._channels:
                choice = preferences.choice(rule.type, channel)
                if not choice.enabled:
                    continue
                queued = await self._queue.for_person(
                    work, organization_id, recipient, name, choice, preferences
                )
                if queued is not None and queued.inline:
                    now_due.append(queued)
        for endpoint in await snapshot.endpoints():
            if not _wanted(endpoint.event_types, rule.type, event.type):
                continue
            # Left to the sweeper: a slow receiver must not hold up the queue.
            if await self._queue.for_endpoint(work, organization_id, endpoint, inline=False):
                self._sender.wake()
        # In-app first: it is what a watching user sees, and it costs no network round trip.
        now_due.sort(key=lambda queued: queued.document["channel"] != "in_app")
        for queued in now_due:
            await self._sender.send(queued.document, snapshot)


def _wanted(patterns: Sequence[str], notification_type: str, event_type: str) -> bool:
    """Whether an endpoint's filters take a notification type (or its source event type)."""
    return "*" in patterns or any(
        topic_matches(pattern, notification_type) or topic_matches(pattern, event_type)
        for pattern in patterns
    )
