"""The transactional outbox and its relay, on the sqlite store and both bus backends."""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
from google.protobuf import struct_pb2

from coder.events.v1 import event_pb2
from services.kit._errors import DocumentExists, Unavailable
from services.kit._ids import new_id
from services.kit.bus import (
    ENTITIES_ONLY,
    INBOX_SPEC,
    OUTBOX_INDEXES,
    Consumer,
    EventBus,
    Inbox,
    MemoryBus,
    OutboxRelay,
    Subscription,
    event_from_outbox,
    idempotent,
    make_event,
    outbox_document,
    with_outbox,
)
from services.kit.store import BatchOp, Container, ContainerSpec, DocumentStore, F, Query
from tests.kit.bus.conftest import Harness, Recorder, eventually

ITEMS = ContainerSpec("items", indexes=OUTBOX_INDEXES)
OTHERS = ContainerSpec("others", indexes=OUTBOX_INDEXES)
OUTBOX = F("docType") == "outbox"


class FlakyBus:
    """A bus whose first `failures` publishes fail like a broker outage: the first half of
    the events gets through, then `Unavailable` is raised (as a lost confirm would)."""

    def __init__(self, inner: EventBus, failures: int) -> None:
        self.inner = inner
        self.failures_left = failures
        self.calls = 0

    async def start(self) -> None:
        await self.inner.start()

    async def publish(self, events: Sequence[event_pb2.Event]) -> None:
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            await self.inner.publish(events[: len(events) // 2])
            raise Unavailable("broker unreachable (staged)")
        await self.inner.publish(events)

    async def subscribe(self, subscription: Subscription) -> Consumer:
        return await self.inner.subscribe(subscription)

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
async def items(store: DocumentStore) -> Container:
    await store.open([ITEMS, INBOX_SPEC])
    return store.container("items")


@pytest.fixture
async def relay_factory() -> AsyncIterator[list[OutboxRelay]]:
    """Relays a test starts; stopped at the end whatever happens."""
    relays: list[OutboxRelay] = []
    yield relays
    for relay in relays:
        await relay.stop()


def new_relay(
    relays: list[OutboxRelay], store: DocumentStore, bus: EventBus, **options: float
) -> OutboxRelay:
    relay = OutboxRelay(
        store,
        bus,
        ["items"],
        poll_seconds=options.pop("poll_seconds", 0.05),
        batch_size=int(options.pop("batch_size", 100)),
        backoff_initial=options.pop("backoff_initial", 0.01),
        backoff_max=options.pop("backoff_max", 0.05),
    )
    relays.append(relay)
    return relay


async def write_item(
    items: Container, domain: str, org: str, *, events: int = 1
) -> list[event_pb2.Event]:
    """Store an item and its events in one batch, as a service's repository does."""
    item_id = new_id()
    made = [
        make_event(f"{domain}.item.created", org, item_id, struct_pb2.Struct())
        for _ in range(events)
    ]
    await items.batch(
        org,
        [
            BatchOp.create({"id": item_id, "title": f"item {item_id}"}),
            *(BatchOp.create(outbox_document(event)) for event in made),
        ],
    )
    return made


async def pending_outbox(items: Container) -> int:
    return await items.count(Query().where(OUTBOX), partition=None)


class TestOutboxDocument:
    def test_document_carries_the_serialized_event(self) -> None:
        event = make_event("planning.task.created", "org-1", "task-1", struct_pb2.Struct())

        document = outbox_document(event)

        assert document["id"] == event.id
        assert document["docType"] == "outbox"
        assert document["eventType"] == "planning.task.created"
        assert base64.b64decode(document["payload"]) == event.SerializeToString()
        assert datetime.fromisoformat(document["createdAt"]) == event.time.ToDatetime(tzinfo=UTC)
        assert event_from_outbox(document) == event

    def test_unreadable_payload_is_reported(self) -> None:
        with pytest.raises(ValueError, match="unreadable"):
            event_from_outbox({"id": "x", "payload": "not base64!"})

    async def test_entity_queries_do_not_see_outbox_documents(self, items: Container) -> None:
        made = await write_item(items, "planning", "org-1", events=2)

        entities = await items.query(Query().where(ENTITIES_ONLY), partition="org-1")

        assert [doc["id"] for doc in entities.items] == [made[0].subject]
        assert await items.count(Query(), partition="org-1") == 3
        assert await items.count(Query().where(ENTITIES_ONLY), partition="org-1") == 1

    async def test_a_failed_batch_stores_no_event(self, items: Container) -> None:
        await items.create("org-1", {"id": "taken"})
        event = make_event("planning.item.created", "org-1", "taken", struct_pb2.Struct())

        with pytest.raises(DocumentExists):
            await items.batch(
                "org-1",
                [BatchOp.create({"id": "taken"}), BatchOp.create(outbox_document(event))],
            )

        assert await pending_outbox(items) == 0


class TestRelay:
    async def test_events_stored_with_a_change_are_relayed_exactly_once(
        self,
        backend: Harness,
        store: DocumentStore,
        items: Container,
        relay_factory: list[OutboxRelay],
    ) -> None:
        recorder = Recorder()
        await backend.subscribe("relayed", ["#"], recorder)
        written: list[event_pb2.Event] = []
        for n in range(10):
            org = f"org-{n % 3}"
            written += await write_item(items, backend.domain, org, events=1 + n % 2)
        relay = new_relay(relay_factory, store, backend.bus)

        await relay.start()
        await eventually(lambda: len(recorder.events) >= len(written))
        await relay.stop()

        assert await pending_outbox(items) == 0
        assert await relay.relay_pending() == 0
        assert Counter(recorder.ids) == Counter(e.id for e in written)
        assert relay.stats.published == len(written)
        assert await items.count(Query().where(ENTITIES_ONLY), partition=None) == 10

    async def test_events_are_published_in_id_order_per_partition(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        bus = MemoryBus(concurrency=1)
        await bus.start()
        recorder = Recorder()
        await bus.subscribe(Subscription("ordered", "planning", ("#",), recorder))
        written: list[event_pb2.Event] = []
        for n in range(30):
            written += await write_item(items, "planning", f"org-{n % 2}", events=1 + n % 3)
        relay = new_relay(relay_factory, store, bus, batch_size=7)

        published = await relay.relay_pending()

        await eventually(lambda: len(recorder.events) == len(written))
        assert published == len(written)
        for org in ("org-0", "org-1"):
            created = [e.id for e in written if e.organization_id == org]
            received = [e.id for e in recorder.events if e.organization_id == org]
            assert received == created
        await bus.close()

    async def test_notify_wakes_an_idle_relay(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        bus = MemoryBus()
        await bus.start()
        recorder = Recorder()
        await bus.subscribe(Subscription("woken", "planning", ("#",), recorder))
        relay = new_relay(relay_factory, store, bus, poll_seconds=3600)
        await relay.start()
        await asyncio.sleep(0.05)  # let it finish its first (empty) pass and go idle

        written = await write_item(items, "planning", "org-1")
        relay.notify()

        await eventually(lambda: recorder.ids == [written[0].id], within=5)
        await bus.close()

    async def test_a_burst_of_commits_is_relayed_together_each_event_once_in_order(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        inner = MemoryBus(concurrency=1)
        bus = FlakyBus(inner, failures=0)  # counts the publishes
        await bus.start()
        recorder = Recorder()
        await bus.subscribe(Subscription("burst", "planning", ("#",), recorder))
        relay = OutboxRelay(store, bus, ["items"], poll_seconds=3600, linger_seconds=0.5)
        relay_factory.append(relay)
        await relay.start()

        written: list[event_pb2.Event] = []
        for n in range(12):
            # As `Entities.commit` does: each commit wakes the relay.
            written += await write_item(items, "planning", f"org-{n % 2}", events=1 + n % 2)
            relay.notify("items")

        await eventually(lambda: len(recorder.events) == len(written))
        # The commits behind the first were relayed by its pass (a second one at most: the
        # relay's first pass, at start, may have caught the first commit).
        assert bus.calls <= 2
        assert Counter(recorder.ids) == Counter(e.id for e in written)
        for org in ("org-0", "org-1"):
            created = [e.id for e in written if e.organization_id == org]
            assert [e.id for e in recorder.events if e.organization_id == org] == created
        await relay.stop()  # its pass deletes what it published before it returns
        assert relay.stats.published == len(written)
        assert await pending_outbox(items) == 0
        await bus.close()

    async def test_a_named_notify_reads_only_its_container_and_a_poll_reads_all(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        await store.open([OTHERS])
        others = store.container("others")
        bus = MemoryBus()
        await bus.start()
        recorder = Recorder()
        await bus.subscribe(Subscription("named", "planning", ("#",), recorder))
        relay = OutboxRelay(store, bus, ["others", "items"], poll_seconds=3600)
        relay_factory.append(relay)
        # The first pass reads every container, `others` first: once it has relayed the item,
        # it is past `others`.
        first = await write_item(items, "planning", "org-1")
        await relay.start()
        await eventually(lambda: recorder.ids == [first[0].id], within=5)

        unnamed = await write_item(others, "planning", "org-1")
        second = await write_item(items, "planning", "org-1")
        relay.notify("items")
        await eventually(lambda: recorder.ids == [first[0].id, second[0].id], within=5)
        await eventually(lambda: relay.stats.published == 2, within=5)
        assert await pending_outbox(others) == 1  # not named: left for a poll

        relay.notify()  # unnamed: every container, as a poll
        await eventually(lambda: recorder.ids[-1:] == [unnamed[0].id], within=5)
        await bus.close()

    async def test_outage_keeps_every_document_and_delivers_all_afterwards(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        inner = MemoryBus()
        bus = FlakyBus(inner, failures=5)
        await bus.start()
        inbox = Inbox(store)
        deliveries: Counter[str] = Counter()
        effects: Counter[str] = Counter()

        async def effect(event: event_pb2.Event) -> None:
            effects[event.id] += 1

        async def handler(event: event_pb2.Event) -> None:
            deliveries[event.id] += 1
            await idempotent("counter", inbox, effect)(event)

        await bus.subscribe(Subscription("counter", "planning", ("#",), handler))
        written: list[event_pb2.Event] = []
        for n in range(20):
            written += await write_item(items, "planning", f"org-{n % 4}")
        relay = new_relay(relay_factory, store, bus)

        await relay.start()
        await eventually(lambda: set(effects) == {e.id for e in written})
        await eventually(lambda: relay.stats.published == len(written))
        await relay.stop()

        assert bus.calls > 5
        assert relay.stats.failures == 5
        assert await pending_outbox(items) == 0
        assert all(count == 1 for count in effects.values())
        # The staged partial publishes delivered some events more than once.
        assert sum(deliveries.values()) > len(written)
        await bus.close()

    async def test_failing_publish_deletes_nothing(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        bus = FlakyBus(MemoryBus(), failures=1_000)
        await bus.start()
        await write_item(items, "planning", "org-1", events=3)
        relay = new_relay(relay_factory, store, bus)

        with pytest.raises(Unavailable):
            await relay.relay_pending()
        await relay.start()
        await eventually(lambda: relay.stats.failures >= 3)
        await relay.stop()

        assert await pending_outbox(items) == 3
        assert relay.stats.last_error is not None
        await bus.close()

    async def test_stop_returns_while_the_broker_is_down(
        self, store: DocumentStore, items: Container, relay_factory: list[OutboxRelay]
    ) -> None:
        bus = FlakyBus(MemoryBus(), failures=1_000)
        await bus.start()
        await write_item(items, "planning", "org-1")
        relay = new_relay(relay_factory, store, bus, backoff_initial=30, backoff_max=30)
        await relay.start()
        await eventually(lambda: relay.stats.failures == 1)

        async with asyncio.timeout(2):
            await relay.stop()

        assert await pending_outbox(items) == 1
        await bus.close()


class TestWithOutbox:
    """A container opened `with_outbox`, as the runner opens every outbox container."""

    def test_outbox_paths_become_sparse_indexes_once(self) -> None:
        spec = with_outbox(with_outbox(ContainerSpec("things", indexes=("/title",))))

        assert spec.sparse_indexes == OUTBOX_INDEXES
        assert spec.indexes == ("/title",)

    async def test_the_relay_drains_every_partition_and_entities_stay_queryable(
        self, store: DocumentStore, relay_factory: list[OutboxRelay]
    ) -> None:
        await store.open([with_outbox(ContainerSpec("items", indexes=("/title",)))])
        items = store.container("items")
        bus = MemoryBus()
        await bus.start()
        recorder = Recorder()
        await bus.subscribe(Subscription("sparse", "planning", ("#",), recorder))
        written: list[event_pb2.Event] = []
        for n in range(12):
            written += await write_item(items, "planning", f"org-{n % 4}", events=1 + n % 2)
        relay = new_relay(relay_factory, store, bus, batch_size=5)

        published = await relay.relay_pending()

        await eventually(lambda: len(recorder.events) == len(written))
        assert published == len(written)
        assert Counter(recorder.ids) == Counter(e.id for e in written)
        assert await pending_outbox(items) == 0
        titled = Query().where(ENTITIES_ONLY, F("title").startswith("item ")).order_by("title")
        assert len((await items.query(titled, partition="org-1")).items) == 3
        await bus.close()
