"""The event bus with its transactional outbox and idempotent-consumer inbox.

Publish side: build events with `make_event`, store them with the state change as
`BatchOp.create(outbox_document(event))`, and let the `OutboxRelay` publish them.
Consume side: `bus.subscribe(Subscription(consumer, domain, patterns, handler))`, with the
handler made idempotent by event id through an `Inbox`.

`open_bus(url)` picks the backend: `memory://` (embedded mode, in-process) or
`amqp://user:pass@host:5672/vhost` / `amqps://…` (RabbitMQ).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from services.kit._settings import Settings
from services.kit.bus._amqp import (
    AmqpBus,
    dead_letter_exchange_name,
    dead_letter_queue_name,
    retry_queue_name,
)
from services.kit.bus._api import (
    TRANSIENT_QUEUE_SECONDS,
    Consumer,
    Event,
    EventBus,
    EventFactory,
    EventHandler,
    Subscription,
    actor_of,
    event_domain,
    exchange_name,
    make_event,
    next_event_id,
    transient_consumer_name,
)
from services.kit.bus._inbox import (
    INBOX_SPEC,
    INBOX_TTL_SECONDS,
    Effect,
    Inbox,
    idempotent,
    marker_id,
)
from services.kit.bus._memory import DeadLetter, MemoryBus, topic_matches
from services.kit.bus._outbox import (
    ENTITIES_ONLY,
    OUTBOX_INDEXES,
    OutboxRelay,
    RelayStats,
    event_from_outbox,
    outbox_document,
    with_outbox,
)
from services.kit.store import DOC_TYPE_FIELD


def open_bus(url: str, *, settings: Settings | None = None) -> EventBus:
    """The bus a URL names, not yet started (call `start()`). Retry policy comes from
    `settings` (`bus_max_retries`, `bus_retry_delay_ms`). ValueError on an unknown scheme."""
    if settings is not None:
        max_retries, retry_delay_ms = settings.bus_max_retries, settings.bus_retry_delay_ms
    else:
        # The defaults of the settings fields, without reading the environment.
        max_retries = Settings.model_fields["bus_max_retries"].default
        retry_delay_ms = Settings.model_fields["bus_retry_delay_ms"].default
    retry_delay = retry_delay_ms / 1000
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryBus(max_retries=max_retries, retry_delay=retry_delay)
    if scheme in ("amqp", "amqps"):
        return AmqpBus(url, max_retries=max_retries, retry_delay=retry_delay)
    raise ValueError(f"unsupported bus URL scheme {scheme!r}; use memory:// or amqp(s)://")


__all__ = [
    "DOC_TYPE_FIELD",
    "ENTITIES_ONLY",
    "INBOX_SPEC",
    "INBOX_TTL_SECONDS",
    "OUTBOX_INDEXES",
    "TRANSIENT_QUEUE_SECONDS",
    "AmqpBus",
    "Consumer",
    "DeadLetter",
    "Effect",
    "Event",
    "EventBus",
    "EventFactory",
    "EventHandler",
    "Inbox",
    "MemoryBus",
    "OutboxRelay",
    "RelayStats",
    "Subscription",
    "actor_of",
    "dead_letter_exchange_name",
    "dead_letter_queue_name",
    "event_domain",
    "event_from_outbox",
    "exchange_name",
    "idempotent",
    "make_event",
    "marker_id",
    "next_event_id",
    "open_bus",
    "outbox_document",
    "retry_queue_name",
    "topic_matches",
    "transient_consumer_name",
    "with_outbox",
]
