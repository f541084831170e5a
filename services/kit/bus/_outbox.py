"""The transactional outbox: events are stored with the state change, and relayed after.

A service that changes state appends `BatchOp.create(outbox_document(event))` to the same
batch as the change, in the same container and partition (a Cosmos DB transactional batch
spans one container + partition only). Either both are stored or neither is. The
`OutboxRelay` then finds outbox documents with a cross-partition query, publishes them in id
order and deletes them. A broker outage therefore delays events and loses none.

Delivery is at least once: if the relay dies (or the delete fails) after a successful
publish, the event is published again on the next pass, and several relays (one per replica)
may publish the same document. Consumers deduplicate by event id (`Inbox`).

Convention — bus documents share containers with entities, so they are marked:
every outbox document (and every `processed_op` marker of the inbox) carries a `docType`
field, and entity documents never do. Containers that hold them are declared
`ContainerSpec(..., outbox=True)`, which indexes `docType` and puts the container in the
relay's list. Services read and write through the kit's `Entities` (services/kit/_repository.py),
which adds `ENTITIES_ONLY` (`F("docType").defined(False)`) to every query and count and treats
a point read that finds a bus document as finding nothing, so a service never sees them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError

from coder.events.v1 import event_pb2
from services.kit._clock import Clock, SystemClock
from services.kit._errors import DocumentNotFound
from services.kit._observability import get_logger
from services.kit.bus._api import EventBus
from services.kit.store import (
    DOC_TYPE_FIELD,
    MAX_BATCH_OPERATIONS,
    PARTITION_KEY_PATH,
    BatchOp,
    Condition,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Query,
)

OUTBOX_DOC_TYPE = "outbox"

ENTITIES_ONLY: Condition = F(DOC_TYPE_FIELD).defined(False)
"""The condition a repository adds to its queries to skip outbox and inbox documents."""

OUTBOX_INDEXES: tuple[str, ...] = (f"/{DOC_TYPE_FIELD}",)
"""The paths the relay filters on; `ContainerSpec(outbox=True)` declares them."""


def with_outbox(spec: ContainerSpec) -> ContainerSpec:
    """`spec` as a container holding outbox documents: `OUTBOX_INDEXES` become sparse
    indexes, since few documents have them and the relay looks for them across partitions
    (on SQLite a pass then reads the pending documents rather than every entity, and an outbox
    write stays out of the entity indexes, which serve queries with `ENTITIES_ONLY`)."""
    return replace(
        spec, sparse_indexes=tuple(dict.fromkeys((*spec.sparse_indexes, *OUTBOX_INDEXES)))
    )


_PARTITION_FIELD = PARTITION_KEY_PATH.lstrip("/")


def outbox_document(event: event_pb2.Event) -> Document:
    """The outbox record of an event, to `BatchOp.create` in the state change's batch.

    Its id is the event id, so the same event cannot be stored twice in a partition. The
    partition key field is set by the store from the batch's partition.
    """
    created = event.time.ToDatetime(tzinfo=UTC) if event.HasField("time") else datetime.now(UTC)
    return {
        "id": event.id,
        DOC_TYPE_FIELD: OUTBOX_DOC_TYPE,
        "eventType": event.type,
        "payload": base64.b64encode(event.SerializeToString()).decode("ascii"),
        "createdAt": created.isoformat(),
    }


def event_from_outbox(document: Document) -> event_pb2.Event:
    """The event an outbox document carries; ValueError when the payload is unreadable."""
    try:
        return event_pb2.Event.FromString(base64.b64decode(document["payload"], validate=True))
    except (KeyError, TypeError, ValueError, DecodeError) as exc:
        raise ValueError(f"outbox document {document.get('id')!r} is unreadable") from exc


@dataclass(slots=True)
class RelayStats:
    """What the relay has done since it started, for logs, metrics and tests."""

    published: int = 0
    failures: int = 0
    last_error: str | None = None
    oldest_pending_seconds: float = 0.0


class OutboxRelay:
    """Moves outbox documents of the given containers to the bus.

    It polls every `poll_seconds` when idle, or `linger_seconds` after a `notify()` (call it
    after a commit that wrote events): the commits that land meanwhile are relayed by the same
    pass, so under a stream of writes a pass moves many events for one query, one publish and
    one delete batch, instead of one of each per commit. Each pass reads up to `batch_size`
    outbox documents per container ordered by id, publishes them in that order (so the events
    of one partition keep their order), then deletes them. While publishing fails it backs off
    exponentially from `backoff_initial` up to `backoff_max` seconds and keeps every document.
    """

    def __init__(
        self,
        store: DocumentStore,
        bus: EventBus,
        container_names: Sequence[str],
        *,
        poll_seconds: float = 0.5,
        linger_seconds: float = 0.01,
        batch_size: int = 100,
        clock: Clock | None = None,
        logger: Any = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 2.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._store = store
        self._bus = bus
        self._containers = tuple(dict.fromkeys(container_names))
        self._poll_seconds = poll_seconds
        self._linger_seconds = linger_seconds
        self._batch_size = batch_size
        self._clock = clock or SystemClock()
        self._log = logger or get_logger("coder.outbox")
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._wake = asyncio.Event()
        self._notified: set[str] = set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.stats = RelayStats()

    async def start(self) -> None:
        """Start relaying in the background."""
        if self._task is not None:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, *, grace: float = 5.0) -> None:
        """Finish the pass in progress (up to `grace` seconds) and stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            # A pass cut short here at worst publishes again what it published already.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def notify(self, container_name: str | None = None) -> None:
        """Wake the relay now: a commit has just written outbox documents (in
        `container_name`; None for any). A pass woken by notifications reads only the
        containers named since the last pass; a poll reads them all."""
        self._notified.add(container_name or "")
        self._wake.set()

    async def relay_pending(self, container_names: Sequence[str] | None = None) -> int:
        """One pass over every container (or those named) until no outbox document is left (or
        a page comes back short); returns how many events were published. Raises what
        publishing or the store raised; documents not yet deleted stay for the next pass."""
        total = 0
        names = self._containers if container_names is None else container_names
        for name in names:
            while True:
                relayed, full_page = await self._relay_page(name)
                total += relayed
                if not full_page:
                    break
        return total

    async def _run(self) -> None:
        delay = self._backoff_initial
        while not self._stopping:
            self._wake.clear()
            notified, self._notified = self._notified, set()
            # Woken by commits that named their containers: read only those. Otherwise (the
            # first pass, a poll, a retry, an unnamed notify) read every container.
            names = None if not notified or "" in notified else self._named(notified)
            try:
                await self.relay_pending(names)
            except Exception as exc:  # the store's or the broker's: keep every document, retry
                self.stats.failures += 1
                self.stats.last_error = repr(exc)
                self._log.warning("outbox.relay_failed", error=repr(exc), retry_in=delay)
                self._notified.add("")  # the retry reads every container
                await self._sleep(delay, wake_on_notify=False)
                delay = min(delay * 2, self._backoff_max)
                continue
            delay = self._backoff_initial
            await self._sleep(self._poll_seconds, wake_on_notify=True)
            if self._notified and not self._stopping and self._linger_seconds > 0:
                # Woken by a commit: let the commits right behind it land too. A plain sleep,
                # not cut by the notifications it waits for (nor by `stop`: it is short).
                await asyncio.sleep(self._linger_seconds)

    def _named(self, notified: set[str]) -> list[str]:
        return [name for name in self._containers if name in notified]

    async def _sleep(self, seconds: float, *, wake_on_notify: bool) -> None:
        """Sleep, cut short by `stop()` and, when idle, by `notify()`. While backing off a
        notify must not cut the wait, or a busy service would hammer a broker that is down."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not self._stopping:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)
            if wake_on_notify or self._stopping:
                return
            self._wake.clear()

    async def _relay_page(self, container_name: str) -> tuple[int, bool]:
        container = self._store.container(container_name)
        query = (
            Query()
            .where(F(DOC_TYPE_FIELD) == OUTBOX_DOC_TYPE)
            .order_by("id")
            .limit(self._batch_size)
        )
        page = await container.query(query, partition=None)
        if not page.items:
            self.stats.oldest_pending_seconds = 0.0
            return 0, False

        events: list[event_pb2.Event] = []
        by_partition: dict[str, list[str]] = {}
        for document in page.items:
            try:
                event = event_from_outbox(document)
            except ValueError as exc:
                # Never dropped: left in place and reported, for an operator to look at.
                self._log.error("outbox.unreadable", container=container_name, error=str(exc))
                continue
            events.append(event)
            by_partition.setdefault(document[_PARTITION_FIELD], []).append(document["id"])
        self._note_lag(events)

        await self._bus.publish(events)
        self.stats.published += len(events)
        for partition, ids in by_partition.items():
            await self._delete(container_name, partition, ids)
        return len(events), len(page.items) >= self._batch_size and bool(events)

    async def _delete(self, container_name: str, partition: str, ids: list[str]) -> None:
        container = self._store.container(container_name)
        for start in range(0, len(ids), MAX_BATCH_OPERATIONS):
            chunk = ids[start : start + MAX_BATCH_OPERATIONS]
            try:
                await container.batch(partition, [BatchOp.delete(id) for id in chunk])
            except DocumentNotFound:
                # Another relay (another replica) deleted some of them first; delete the
                # rest one by one.
                for id in chunk:
                    with contextlib.suppress(DocumentNotFound):
                        await container.delete(partition, id)

    def _note_lag(self, events: Sequence[event_pb2.Event]) -> None:
        times = [e.time.ToDatetime(tzinfo=UTC) for e in events if e.HasField("time")]
        if not times:
            return
        oldest = min(times)
        lag = max(0.0, (self._clock.now() - oldest).total_seconds())
        self.stats.oldest_pending_seconds = lag
        if lag > 10 * max(self._poll_seconds, 1.0):
            self._log.warning("outbox.lagging", oldest_pending_seconds=round(lag, 1))
