"""The events the usage service consumes and publishes.

Consumed: the usage-bearing events of every domain, as `_meters.CATEGORIES` lists them
(`ai.completion.completed`, `ai.embedding.completed`, `mcp.tool.executed`), each with a
`coder.usage.v1.UsageRecorded` payload. The service owns one durable queue per publishing
domain, `usage-<domain>` (`CODER_USAGE_CONSUMER_PREFIX` names the prefix), bound to that
domain's exchange with exactly those event types.
Recording is idempotent by event id (the record is keyed by it and stored in the same batch as
the aggregates), so redeliveries and republished events count once. An event whose payload is
unusable (another type, invalid fields, another organization) fails its delivery: the bus
retries it and then dead-letters it, for an operator to look at.

Published: `usage.quota.{warning,critical,exceeded}` and
`usage.budget.{warning,critical,exceeded,forecast_exceeded}`, payload `AlertRaised`, subject the
quota or budget id, actor the one whose usage reached the threshold; once per threshold,
period and scope value, through the outbox in the same batch as the usage that reached it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.usage.v1 import events_pb2, resources_pb2
from services.kit import Clock, InvalidArgument, get_logger, timestamp_in_range, validate_message
from services.kit.bus import EventFactory, Subscription
from services.usage import _money
from services.usage._ledger import Usage
from services.usage._meters import BY_EVENT_TYPE, CATEGORIES, COST

_log = get_logger("coder.usage")

_ALERT_TYPES = {
    (resources_pb2.LIMIT_KIND_QUOTA, resources_pb2.ALERT_LEVEL_WARNING): "usage.quota.warning",
    (resources_pb2.LIMIT_KIND_QUOTA, resources_pb2.ALERT_LEVEL_CRITICAL): "usage.quota.critical",
    (resources_pb2.LIMIT_KIND_QUOTA, resources_pb2.ALERT_LEVEL_EXCEEDED): "usage.quota.exceeded",
    (resources_pb2.LIMIT_KIND_BUDGET, resources_pb2.ALERT_LEVEL_WARNING): "usage.budget.warning",
    (resources_pb2.LIMIT_KIND_BUDGET, resources_pb2.ALERT_LEVEL_CRITICAL): "usage.budget.critical",
    (resources_pb2.LIMIT_KIND_BUDGET, resources_pb2.ALERT_LEVEL_EXCEEDED): "usage.budget.exceeded",
    (
        resources_pb2.LIMIT_KIND_BUDGET,
        resources_pb2.ALERT_LEVEL_FORECAST_EXCEEDED,
    ): "usage.budget.forecast_exceeded",
}


class UsageEvents:
    """Builds the service's events for the actor whose usage caused them."""

    def __init__(self, actor: actor_pb2.Actor, clock: Clock) -> None:
        self._actor = actor
        self._clock = clock

    def alert_raised(
        self, alert: resources_pb2.UsageAlert, organization_id: str
    ) -> event_pb2.Event:
        event_type = _ALERT_TYPES[(alert.kind, alert.level)]
        factory = EventFactory(self._actor, self._clock, organization_id=organization_id)
        return factory(event_type, alert.limit_id, events_pb2.AlertRaised(alert=alert))


# --- consuming -----------------------------------------------------------------------------


class UnusableEvent(ValueError):
    """A usage-bearing event whose payload cannot be recorded."""


def usage_of(event: event_pb2.Event) -> Usage | None:
    """The usage an event reports, or None when its type carries none. UnusableEvent when
    the payload is not a valid `UsageRecorded` of the event's organization."""
    category = BY_EVENT_TYPE.get(event.type)
    if category is None:
        return None
    if not event.organization_id:
        raise UnusableEvent(f"event {event.id} ({event.type}) names no organization")
    payload = events_pb2.UsageRecorded()
    if not event.data.Unpack(payload):
        raise UnusableEvent(
            f"event {event.id} ({event.type}) carries {event.data.type_url or 'no payload'}, "
            "not coder.usage.v1.UsageRecorded"
        )
    try:
        validate_message(payload)
    except InvalidArgument as invalid:
        fields = ", ".join(f"{v.field}: {v.description}" for v in invalid.violations)
        raise UnusableEvent(f"event {event.id} ({event.type}) is invalid: {fields}") from None
    if payload.organization_id and payload.organization_id != event.organization_id:
        raise UnusableEvent(
            f"event {event.id} ({event.type}) reports usage of another organization"
        )
    when = payload.occur_time if payload.HasField("occur_time") else event.time
    if not event.HasField("time") and not payload.HasField("occur_time"):
        raise UnusableEvent(f"event {event.id} ({event.type}) has no time")
    if not timestamp_in_range(when):
        raise UnusableEvent(f"event {event.id} ({event.type}) has a time out of range")
    user = payload.user_id
    if not user and event.actor.kind == actor_pb2.ACTOR_KIND_USER:
        user = event.actor.id
    named = {
        "model": payload.model,
        "provider": payload.provider,
        "project": payload.project_id,
        "user": user,
    }
    dimensions = {
        name: named.get(name) or payload.attributes.get(name, "") for name in category.dimensions
    }
    quantities = {name: _money.parse(value) for name, value in payload.quantities.items()}
    cost = _money.parse(payload.cost)
    currency = payload.currency or _money.CURRENCY
    metered = {name: value for name, value in quantities.items() if name != COST}
    if payload.cost and currency == _money.CURRENCY:
        # A cost in another currency stays in the record but is not metered (or charged).
        metered[COST] = cost
    contributions = {
        meter.id: value
        for meter in category.meters
        if (value := meter.value(metered, dimensions)) is not None
    }
    return Usage(
        event_id=event.id,
        event_type=event.type,
        organization_id=event.organization_id,
        actor=event.actor,
        category=category,
        occur_time=when.ToDatetime(tzinfo=UTC),
        dimensions=dimensions,
        quantities=quantities,
        cost=cost,
        currency=currency,
        attributes=dict(payload.attributes),
        contributions=contributions,
    )


def consumer_name(prefix: str, domain: str) -> str:
    """The durable queue the service owns for one publishing domain."""
    return f"{prefix}-{domain}"


def subscriptions(
    record: Callable[[Usage], Awaitable[None]], *, prefix: str = "usage", consumers: int = 1
) -> list[Subscription]:
    """Per publishing domain, `consumers` subscriptions to one queue bound to its
    usage-bearing event types, whose handler records each event's usage with `record`.

    Several consumers of one queue in one process compete for its events like replicas do;
    each holds the bus's prefetch of unacknowledged events, so together they hand the recorder
    more events per write (an event is acknowledged only after it is stored)."""

    async def handle(event: event_pb2.Event) -> None:
        try:
            usage = usage_of(event)
        except UnusableEvent as unusable:
            _log.error("usage.unusable_event", event_id=event.id, error=str(unusable))
            raise
        if usage is not None:
            await record(usage)

    types: dict[str, list[str]] = {}
    for category in CATEGORIES:
        types.setdefault(category.domain, []).append(category.event_type)
    return [
        Subscription(consumer_name(prefix, domain), domain, tuple(event_types), handle)
        for domain, event_types in types.items()
        for _ in range(consumers)
    ]
