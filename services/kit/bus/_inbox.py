"""Idempotent consumers: remember which events a consumer has processed, by event id.

The bus delivers at least once (the relay may publish twice, the broker redelivers what was
not acknowledged), so a consumer must not apply an event's effect twice. Two ways, strongest
first:

1. Same batch. When the consumer's effect is a write to one container + partition, append
   `inbox.processed_op(consumer, event)` to that batch, or let `commit_once` do it. The marker
   is a `create` of id `<consumer>:<event id>`: a redelivered event makes the whole batch fail
   on the existing marker, so the effect and the marker are stored together or not at all.
   Exactly once, with no window.

2. `run_once` (and `idempotent`) for any other effect: skip the event when the inbox already
   holds its marker, else run the effect, then store the marker. There is a window: if the
   process dies after the effect and before the marker is stored, the redelivered event runs
   the effect again; and two replicas of one consumer given the same event at the same moment
   can both run it (one process never runs the same marker twice at once: it holds a lock per
   marker). So effects run this way should themselves be idempotent (upserts keyed by the event
   id, conditional writes) or use way 1.

Markers expire after `INBOX_TTL_SECONDS` (7 days), far longer than any redelivery. Markers
written into a service's own containers carry the `docType` field like outbox documents, so
the service's queries skip them (`ENTITIES_ONLY`); they carry a `ttl` too, which applies when
the container has expiry turned on (`default_ttl=-1` turns it on without a default).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from coder.events.v1 import event_pb2
from services.kit._clock import Clock, SystemClock
from services.kit._errors import DocumentExists
from services.kit.bus._api import EventHandler
from services.kit.store import (
    DOC_TYPE_FIELD,
    SYSTEM_PARTITION,
    BatchOp,
    Container,
    ContainerSpec,
    Document,
    DocumentStore,
)

INBOX_DOC_TYPE = "inbox"

INBOX_TTL_SECONDS = 7 * 24 * 3600

INBOX_SPEC = ContainerSpec(name="inbox", default_ttl=INBOX_TTL_SECONDS)
"""The inbox container; declare it at start-up (with `dataclasses.replace(INBOX_SPEC,
name=...)` when the `Inbox` uses another container name)."""

Effect = Callable[[], Awaitable[None]]


def marker_id(consumer: str, event: event_pb2.Event) -> str:
    """The id of the marker that says `consumer` has processed `event`."""
    return f"{consumer}:{event.id}"


def event_partition(event: event_pb2.Event) -> str:
    """The partition an event's effects and marker belong to: its organization."""
    return event.organization_id or SYSTEM_PARTITION


@dataclass(slots=True)
class _KeyLock:
    lock: asyncio.Lock
    users: int = 0


class Inbox:
    """Processed-event markers of consumers, kept in `container_name` of `store`."""

    def __init__(
        self,
        store: DocumentStore,
        container_name: str = INBOX_SPEC.name,
        *,
        clock: Clock | None = None,
        ttl_seconds: int = INBOX_TTL_SECONDS,
    ) -> None:
        self._store = store
        self._container_name = container_name
        self._clock = clock or SystemClock()
        self._ttl_seconds = ttl_seconds
        self._locks: dict[str, _KeyLock] = {}

    def marker(self, consumer: str, event: event_pb2.Event) -> Document:
        """The marker document of `consumer` having processed `event`."""
        return {
            "id": marker_id(consumer, event),
            DOC_TYPE_FIELD: INBOX_DOC_TYPE,
            "consumer": consumer,
            "eventId": event.id,
            "eventType": event.type,
            "processedAt": self._clock.now().isoformat(),
            "ttl": self._ttl_seconds,
        }

    def processed_op(self, consumer: str, event: event_pb2.Event) -> BatchOp:
        """The marker as a batch `create`, to append to the consumer's own effect batch (same
        container and partition as the effect). The batch then fails with `DocumentExists`
        when the event was processed before; `commit_once` turns that into `False`."""
        return BatchOp.create(self.marker(consumer, event))

    async def commit_once(
        self,
        container: Container,
        consumer: str,
        event: event_pb2.Event,
        operations: Sequence[BatchOp],
        *,
        partition: str | None = None,
    ) -> bool:
        """Apply `operations` and the marker in one batch (partition: the event's
        organization unless given). Returns False, writing nothing, when `consumer` already
        processed `event`; other conflicts of the batch are raised."""
        partition = partition or event_partition(event)
        try:
            await container.batch(partition, [*operations, self.processed_op(consumer, event)])
        except DocumentExists:
            if await container.get(partition, marker_id(consumer, event)) is not None:
                return False
            raise
        return True

    async def seen(self, consumer: str, event: event_pb2.Event) -> bool:
        """Whether the inbox holds the marker of `consumer` having processed `event`."""
        container = self._store.container(self._container_name)
        found = await container.get(event_partition(event), marker_id(consumer, event))
        return found is not None

    async def run_once(self, consumer: str, event: event_pb2.Event, effect: Effect) -> bool:
        """Run `effect` unless `consumer` processed `event` before, then store the marker.
        Returns whether the effect ran. If the effect raises, no marker is stored and the
        error propagates (the bus retries the delivery). See the module doc for the window."""
        key = marker_id(consumer, event)
        async with self._exclusive(key):
            if await self.seen(consumer, event):
                return False
            await effect()
            container = self._store.container(self._container_name)
            await container.upsert(event_partition(event), self.marker(consumer, event))
            return True

    @contextlib.asynccontextmanager
    async def _exclusive(self, key: str) -> AsyncIterator[None]:
        # Duplicates of one event often arrive together (a relay republishing a page, a
        # redelivery after reconnect); serializing them here closes the window in-process.
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = _KeyLock(asyncio.Lock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[key]


def idempotent(consumer: str, inbox: Inbox, handler: EventHandler) -> EventHandler:
    """Wrap a handler so each event id reaches it once per `consumer` (via `run_once`)."""

    async def handle(event: event_pb2.Event) -> None:
        await inbox.run_once(consumer, event, lambda: handler(event))

    return handle
