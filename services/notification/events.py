"""The events the notification service consumes and publishes, and the live inbox feed.

Consumed: every source event type of `_rules.RULES` and identity's membership events (which
keep the directory), through one durable queue per publishing domain, `notification-<domain>`
(`CODER_NOTIFICATION_CONSUMER_PREFIX` names the prefix), bound to exactly those types, with
the bus's retry queue and dead-letter queue. Handling is idempotent by event id: every
document an event leads to has an id derived from the event, so a redelivered event writes
nothing new.

Published (through the outbox, in the batch of the change they tell of):
`notification.message.delivered` (`MessageDelivered`; for in-app deliveries it carries the
stored notification, which is what `WatchNotifications` streams), `notification.message.failed`
(`MessageFailed`) and `notification.webhook.disabled` (`WebhookDisabled`, which the service
consumes itself to tell the organization's admins).

`InboxFeed` is the live feed: a transient queue per process bound to
`notification.message.delivered` (so a watcher sees deliveries made by any replica), fanned
out to the watches of each recipient. A notification this process stores itself reaches its
watches here at once (`delivered_here`), without waiting for its event's trip through the
relay and the broker; each watch gets each notification once (see `InboxFeed`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.notification.v1 import events_pb2, resources_pb2
from services.kit import Aborted, Clock
from services.kit.bus import (
    Consumer,
    EventBus,
    EventFactory,
    Subscription,
    transient_consumer_name,
)
from services.notification._rules import sources_by_domain

MESSAGE_DELIVERED = "notification.message.delivered"
MESSAGE_FAILED = "notification.message.failed"
WEBHOOK_DISABLED = "notification.webhook.disabled"

SERVICE_ACTOR = actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_SERVICE, id="notification")


class NotificationEvents:
    """Builds the service's events at one clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def delivered(
        self, notification: resources_pb2.Notification, actor: actor_pb2.Actor
    ) -> event_pb2.Event:
        factory = EventFactory(actor, self._clock, organization_id=notification.organization_id)
        payload = events_pb2.MessageDelivered(
            channel=resources_pb2.CHANNEL_IN_APP,
            notification=notification,
            recipient_id=notification.recipient_id,
            event_type=notification.event_type,
            event_id=notification.event_id,
        )
        return factory(MESSAGE_DELIVERED, notification.id, payload)

    def sent(
        self,
        organization_id: str,
        delivery_id: str,
        channel: resources_pb2.Channel.ValueType,
        recipient_id: str,
        event_type: str,
        event_id: str,
    ) -> event_pb2.Event:
        factory = EventFactory(SERVICE_ACTOR, self._clock, organization_id=organization_id)
        payload = events_pb2.MessageDelivered(
            channel=channel, recipient_id=recipient_id, event_type=event_type, event_id=event_id
        )
        return factory(MESSAGE_DELIVERED, delivery_id, payload)

    def failed(
        self,
        organization_id: str,
        delivery_id: str,
        channel: resources_pb2.Channel.ValueType,
        recipient_id: str,
        event_type: str,
        event_id: str,
        error: str,
    ) -> event_pb2.Event:
        factory = EventFactory(SERVICE_ACTOR, self._clock, organization_id=organization_id)
        payload = events_pb2.MessageFailed(
            channel=channel,
            recipient_id=recipient_id,
            event_type=event_type,
            event_id=event_id,
            error=error,
        )
        return factory(MESSAGE_FAILED, delivery_id, payload)

    def webhook_disabled(
        self, organization_id: str, endpoint: resources_pb2.WebhookEndpoint, last_error: str
    ) -> event_pb2.Event:
        factory = EventFactory(SERVICE_ACTOR, self._clock, organization_id=organization_id)
        payload = events_pb2.WebhookDisabled(
            endpoint=endpoint,
            consecutive_failures=endpoint.consecutive_failures,
            last_error=last_error,
        )
        return factory(WEBHOOK_DISABLED, endpoint.id, payload)


def consumer_name(prefix: str, domain: str) -> str:
    """The durable queue the service owns for one publishing domain."""
    return f"{prefix}-{domain}"


def subscriptions(
    handle: Callable[[event_pb2.Event], Awaitable[None]], *, prefix: str = "notification"
) -> list[Subscription]:
    """Per publishing domain, one subscription to one queue bound to the event types the
    rules and the directory read."""
    return [
        Subscription(consumer_name(prefix, domain), domain, types, handle)
        for domain, types in sources_by_domain().items()
    ]


# --- the live feed of WatchNotifications -----------------------------------------------------

WATCH_BUFFER = 1000
"""Notifications a watch holds for a slow reader before it gives up on it."""
FED_MEMORY = 50_000
"""Ids of `delivered` events a feed remembers having fanned out (only those some watch of
this process took), so a later copy of one is skipped."""


@dataclass(eq=False, slots=True)
class _Watch:
    queue: asyncio.Queue[resources_pb2.Notification] = field(default_factory=asyncio.Queue)
    lagged: bool = False


class InboxFeed:
    """Live in-app notifications: one transient subscription per process (started by the
    first watch) to the service's own `delivered` events, fanned out to the watches of each
    recipient, and the notifications this process stores, fanned out as soon as stored.

    Every notification is stored exactly once, with its `delivered` event in the same batch
    (the outbox), by whichever replica handled its source event. That replica's writer calls
    `delivered_here` after the commit, so its own watches have it without the relay's poll,
    publish and the broker's round trip; the event still leaves through the outbox to every
    replica's feed (this one's included). A feed remembers the ids of the events it fanned
    out (`FED_MEMORY` of them, only those some watch here took) and skips any later copy: the
    relayed copy of a notification fed here already, or a second publish of one event by two
    relays (the relay is at least once). So a watch sees a notification once, whichever
    replica stored it; only a copy arriving after `FED_MEMORY` later notifications were fed
    here (a broker outage that long) could repeat one, which a client folds by its id. A
    replica that dies between its commit and `delivered_here` loses nothing: the relayed
    copy feeds its watches' replacements like any other replica's.
    """

    def __init__(
        self, bus: EventBus, *, buffer: int = WATCH_BUFFER, memory: int = FED_MEMORY
    ) -> None:
        self._bus = bus
        self._buffer = buffer
        self._memory = memory
        self._watches: dict[tuple[str, str], set[_Watch]] = {}
        self._fed: OrderedDict[str, None] = OrderedDict()
        self._consumer: Consumer | None = None
        self._starting = asyncio.Lock()

    def delivered_here(
        self, event: event_pb2.Event, notification: resources_pb2.Notification
    ) -> None:
        """Feed a notification this process has just stored (with `event`, its `delivered`
        event) to its recipient's watches now."""
        key = (notification.organization_id, notification.recipient_id)
        self._feed(event.id, self._watches.get(key, ()), notification)

    async def _deliver(self, event: event_pb2.Event) -> None:
        if event.id in self._fed:
            return  # fed here already (most often: stored here), not unpacked again
        payload = events_pb2.MessageDelivered()
        if not event.data.Unpack(payload) or payload.channel != resources_pb2.CHANNEL_IN_APP:
            return
        # The organization is the envelope's, set by this service's own outbox.
        key = (event.organization_id, payload.notification.recipient_id)
        self._feed(event.id, self._watches.get(key, ()), payload.notification)

    def _feed(
        self,
        event_id: str,
        watches: Iterable[_Watch],
        notification: resources_pb2.Notification,
    ) -> None:
        watches = tuple(watches)
        if not watches or event_id in self._fed:
            return
        self._fed[event_id] = None
        if len(self._fed) > self._memory:
            self._fed.popitem(last=False)
        for watch in watches:
            if watch.queue.qsize() >= self._buffer:
                watch.lagged = True
            else:
                watch.queue.put_nowait(notification)

    async def _subscribed(self) -> None:
        async with self._starting:
            if self._consumer is None:
                self._consumer = await self._bus.subscribe(
                    Subscription(
                        transient_consumer_name("notification.watch"),
                        "notification",
                        (MESSAGE_DELIVERED,),
                        self._deliver,
                        transient=True,
                    )
                )

    @contextlib.asynccontextmanager
    async def watch(
        self, organization_id: str, recipient_id: str
    ) -> AsyncIterator[AsyncIterator[resources_pb2.Notification]]:
        """Yield the recipient's new notifications in arrival order; live when the block is
        entered, gone when it exits. A reader `buffer` behind gets ABORTED (`WATCH_LAGGED`)."""
        await self._subscribed()
        key = (organization_id, recipient_id)
        watch = _Watch()
        self._watches.setdefault(key, set()).add(watch)

        async def notifications() -> AsyncIterator[resources_pb2.Notification]:
            while True:
                notification = await watch.queue.get()
                if watch.lagged:
                    raise Aborted(
                        "the watch fell behind; list the inbox and watch again",
                        reason="WATCH_LAGGED",
                    )
                yield notification

        try:
            yield notifications()
        finally:
            watchers = self._watches.get(key, set())
            watchers.discard(watch)
            if not watchers:
                self._watches.pop(key, None)
