"""The event bus port: one durable topic exchange per domain, one durable queue per consumer.

An event's `type` (`planning.task.created`) is its routing key on the exchange of the domain
named by its first segment (`planning.events`). A consumer owns a durable queue, named after the
consumer, bound to one domain's exchange with topic patterns (`planning.task.*`, `#`). Delivery
is at least once: a handler that raises is retried after a delay, and after the bus's maximum
number of failed deliveries the event is dead-lettered, so handlers must be idempotent by event
id (see `services.kit.bus.Inbox`).

Services do not publish directly after a state change; they write the event to their outbox in
the same batch (`outbox_document`) and the `OutboxRelay` calls `EventBus.publish`.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message
from opentelemetry import context as otel_context
from opentelemetry import propagate

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from services.kit._auth import Principal
from services.kit._clock import Clock, SystemClock
from services.kit._ids import new_id

Event = event_pb2.Event

EventHandler = Callable[[event_pb2.Event], Awaitable[None]]
"""Handles one delivered event. Returning acknowledges it; raising asks for a retry."""

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){2,}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_PATTERN_WORD = re.compile(r"^(\*|#|[a-z0-9_]+)$")


def event_domain(event_type: str) -> str:
    """The publishing domain of an event type: its first segment (`planning`)."""
    return event_type.split(".", 1)[0]


def exchange_name(domain: str) -> str:
    """The durable topic exchange a domain publishes on."""
    return f"{domain}.events"


def validate_event_type(event_type: str) -> None:
    """Raise ValueError unless the type reads `<domain>.<entity>.<past-verb>`."""
    if not _EVENT_TYPE.match(event_type):
        raise ValueError(
            f"event type {event_type!r} must be '<domain>.<entity>.<past-verb>' "
            "in lower case, for example 'planning.task.created'"
        )


@dataclass(frozen=True, slots=True)
class Subscription:
    """What a consumer listens to.

    `consumer` names the durable queue the consumer owns (one per consumer, shared by its
    replicas, which then compete for messages); `domain` is the publishing domain whose
    exchange `<domain>.events` the queue is bound to; `patterns` are topic routing keys where
    `*` matches one word and `#` zero or more (`planning.task.*`, `#`). Every subscription
    made with the same consumer name must carry the same handler: they share one queue.
    Bindings are additive, as on the broker: a pattern dropped from the code stays bound to
    the durable queue until an operator unbinds it.

    `transient` makes a live feed for one process instead (a stream watching changes as they
    happen): its queue is exclusive to the subscriber and deleted when the consumer stops or
    its connection drops, so nothing waits for it afterwards; a failed delivery is dropped,
    not retried or dead-lettered. Its consumer name must be unique (a fresh id in it).
    """

    consumer: str
    domain: str
    patterns: tuple[str, ...]
    handler: EventHandler
    transient: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.consumer):
            raise ValueError(f"consumer name {self.consumer!r} is not a valid queue name")
        if not _NAME.match(self.domain) or "." in self.domain:
            raise ValueError(f"domain {self.domain!r} must be one word")
        if not self.patterns:
            raise ValueError("a subscription needs at least one pattern")
        for pattern in self.patterns:
            if not all(_PATTERN_WORD.match(word) for word in pattern.split(".")):
                raise ValueError(f"routing pattern {pattern!r} is not a topic pattern")


class Consumer(Protocol):
    """A running subscription. Stopping it leaves its durable queue (and bindings) in place,
    so events published meanwhile wait there for the next `subscribe`."""

    @property
    def subscription(self) -> Subscription: ...

    async def stop(self) -> None:
        """Stop taking deliveries; unfinished ones go back to the queue."""
        ...


class EventBus(Protocol):
    """Publishes events to domain exchanges and runs consumers. Created at start-up."""

    async def start(self) -> None:
        """Connect; raises `Unavailable` when the broker cannot be reached."""
        ...

    async def publish(self, events: Sequence[event_pb2.Event]) -> None:
        """Publish in order. Returns only once every event is accepted by the broker
        (confirmed, persisted); raises `Unavailable` otherwise, in bounded time. Some of the
        events may have been accepted when it raises, so a retry can publish duplicates."""
        ...

    async def subscribe(self, subscription: Subscription) -> Consumer:
        """Declare the consumer's queue and bindings and start delivering to its handler."""
        ...

    async def ping(self) -> None:
        """Raise `Unavailable` when the broker is not reachable (used by readiness)."""
        ...

    async def close(self) -> None:
        """Stop every consumer and disconnect."""
        ...


# --- building events -----------------------------------------------------------------------

_id_lock = threading.Lock()
_last_id = ""
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _increment(identifier: str) -> str:
    chars = list(identifier)
    for index in range(len(chars) - 1, -1, -1):
        position = _CROCKFORD.index(chars[index])
        if position < len(_CROCKFORD) - 1:
            chars[index] = _CROCKFORD[position + 1]
            return "".join(chars)
        chars[index] = _CROCKFORD[0]
    raise OverflowError("event id space exhausted")


def next_event_id() -> str:
    """A `new_id` that is strictly greater than the previous one made in this process.

    Ids made in the same millisecond differ only in their random part, so without this two
    events of one transaction could sort out of order and the outbox relay (which publishes in
    id order) would swap them.
    """
    global _last_id
    with _id_lock:
        candidate = new_id()
        if candidate <= _last_id:
            candidate = _increment(_last_id)
        _last_id = candidate
        return candidate


def make_event(
    type: str,
    organization_id: str,
    subject: str,
    data: Message,
    *,
    actor: actor_pb2.Actor | None = None,
    source: str | None = None,
    clock: Clock | None = None,
) -> event_pb2.Event:
    """Build an event envelope: a fresh time-sortable id, the time from `clock`, `source`
    `coder.<domain>` by default, `data` packed into Any, and the W3C trace context of the
    current OpenTelemetry span (when there is one) so consumers continue the same trace."""
    validate_event_type(type)
    event = event_pb2.Event(
        id=next_event_id(),
        type=type,
        source=source or f"coder.{event_domain(type)}",
        organization_id=organization_id,
        subject=subject,
    )
    event.time.FromDatetime((clock or SystemClock()).now())
    if actor is not None:
        event.actor.CopyFrom(actor)
    event.data.Pack(data)
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    event.traceparent = carrier.get("traceparent", "")
    event.tracestate = carrier.get("tracestate", "")
    return event


_ACTOR_KINDS = {
    "user": actor_pb2.ACTOR_KIND_USER,
    "service": actor_pb2.ACTOR_KIND_SERVICE,
    "system": actor_pb2.ACTOR_KIND_SYSTEM,
}


def actor_of(principal: Principal) -> actor_pb2.Actor:
    """Who acted, as an event envelope records it: the principal's subject, kind and session."""
    return actor_pb2.Actor(
        kind=_ACTOR_KINDS.get(principal.kind, actor_pb2.ACTOR_KIND_UNSPECIFIED),
        id=principal.subject,
        session_id=principal.session_id,
    )


class EventFactory:
    """Builds one service's events for one actor at one clock.

    Made per call from the caller's principal (`EventFactory.acting(principal, clock)`), or
    for an actor with no principal (a user signing in, a scheduled job) from an `Actor`. An
    event belongs to the principal's organization unless `organization_id` says otherwise
    (identity stores a user's own records in the user's partition).
    """

    __slots__ = ("_actor", "_clock", "_organization_id")

    def __init__(self, actor: actor_pb2.Actor, clock: Clock, *, organization_id: str = "") -> None:
        self._actor = actor
        self._clock = clock
        self._organization_id = organization_id

    @classmethod
    def acting(cls, principal: Principal, clock: Clock) -> EventFactory:
        """The factory of the calling principal's events, in its organization."""
        return cls(actor_of(principal), clock, organization_id=principal.organization_id)

    @property
    def actor(self) -> actor_pb2.Actor:
        return self._actor

    def __call__(
        self, type: str, subject: str, data: Message, *, organization_id: str = ""
    ) -> event_pb2.Event:
        """The event `type` about `subject` with payload `data` (see `make_event`)."""
        organization = organization_id or self._organization_id
        if not organization:
            raise ValueError(f"event {type} needs an organization id")
        return make_event(type, organization, subject, data, actor=self._actor, clock=self._clock)


@contextlib.asynccontextmanager
async def event_trace_context(event: event_pb2.Event) -> AsyncIterator[None]:
    """Run the enclosed block in the trace context the event was published from."""
    if not event.traceparent:
        yield
        return
    carrier = {"traceparent": event.traceparent}
    if event.tracestate:
        carrier["tracestate"] = event.tracestate
    token = otel_context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        otel_context.detach(token)


async def dispatch(handler: EventHandler, event: event_pb2.Event) -> None:
    """Call a handler the way both bus backends do: inside the event's trace context."""
    async with event_trace_context(event):
        await handler(event)
