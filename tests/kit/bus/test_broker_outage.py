"""A broker outage delays events and loses none: RabbitMQ behind a TCP proxy that the test
cuts while a writer keeps committing documents with outbox events."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from google.protobuf import struct_pb2

from coder.events.v1 import event_pb2
from services.kit._errors import Unavailable
from services.kit._ids import new_id
from services.kit.bus import (
    INBOX_SPEC,
    OUTBOX_INDEXES,
    AmqpBus,
    Inbox,
    OutboxRelay,
    Subscription,
    idempotent,
    make_event,
    outbox_document,
    transient_consumer_name,
)
from services.kit.store import BatchOp, ContainerSpec, DocumentStore, F, Query
from tests.fixtures.tcp_proxy import TcpProxy
from tests.kit.bus.conftest import amqp_bus, delete_topology, eventually, proxied_url

pytestmark = pytest.mark.amqp

DOCUMENTS = 200
OUTAGE_SECONDS = 2.0
ITEMS = ContainerSpec("items", indexes=OUTBOX_INDEXES)


@pytest.fixture
async def proxied_bus(amqp_url: str, amqp_proxy: TcpProxy, domain: str) -> AsyncIterator[AmqpBus]:
    bus = amqp_bus(
        proxied_url(amqp_url, amqp_proxy),
        max_retries=5,
        retry_delay=0.1,
        publish_timeout=2.0,
        operation_timeout=2.0,
        reconnect_interval=0.2,
    )
    await bus.start()
    yield bus
    await bus.close()
    await delete_topology(amqp_url, domain, [f"{domain}-counter"])


class TestBrokerOutage:
    @pytest.mark.timeout(30)
    async def test_every_event_reaches_an_idempotent_consumer_exactly_once(
        self,
        store: DocumentStore,
        proxied_bus: AmqpBus,
        amqp_proxy: TcpProxy,
        domain: str,
    ) -> None:
        started = asyncio.get_running_loop().time()
        await store.open([ITEMS, INBOX_SPEC])
        items = store.container("items")
        inbox = Inbox(store)
        deliveries: Counter[str] = Counter()
        effects: Counter[str] = Counter()

        async def effect(event: event_pb2.Event) -> None:
            effects[event.id] += 1

        counted = idempotent("counter", inbox, effect)

        async def handler(event: event_pb2.Event) -> None:
            deliveries[event.id] += 1
            await counted(event)

        consumer = f"{domain}-counter"
        await proxied_bus.subscribe(Subscription(consumer, domain, ("#",), handler))
        relay = OutboxRelay(store, proxied_bus, ["items"], poll_seconds=0.05)
        await relay.start()
        written: list[str] = []

        async def writer() -> None:
            for n in range(DOCUMENTS):
                org = f"org-{n % 5}"
                item_id = new_id()
                event = make_event(f"{domain}.item.created", org, item_id, struct_pb2.Struct())
                await items.batch(
                    org,
                    [
                        BatchOp.create({"id": item_id, "n": n}),
                        BatchOp.create(outbox_document(event)),
                    ],
                )
                written.append(event.id)
                relay.notify()
                await asyncio.sleep(0.015)

        async def outage() -> None:
            await eventually(lambda: len(effects) >= 20)
            await amqp_proxy.cut()
            await asyncio.sleep(OUTAGE_SECONDS)
            await amqp_proxy.restore()

        try:
            await asyncio.gather(writer(), outage())
            await eventually(lambda: len(effects) == DOCUMENTS, within=20)
        finally:
            await relay.stop()

        assert amqp_proxy.cuts == 1
        assert len(written) == DOCUMENTS
        assert set(effects) == set(written)  # none lost
        assert all(count == 1 for count in effects.values())  # none applied twice
        assert set(deliveries) == set(written)
        assert relay.stats.failures > 0, "the relay never saw the outage"
        outbox = Query().where(F("docType") == "outbox")
        assert await items.count(outbox, partition=None) == 0
        assert asyncio.get_running_loop().time() - started < 30


class TestPublishWhileDown:
    async def test_publish_raises_unavailable_quickly_and_recovers(
        self, proxied_bus: AmqpBus, amqp_proxy: TcpProxy, domain: str
    ) -> None:
        event = make_event(f"{domain}.item.created", "org-1", "s", struct_pb2.Struct())
        await proxied_bus.publish([event])
        await amqp_proxy.cut()

        loop = asyncio.get_running_loop()
        before = loop.time()
        with pytest.raises(Unavailable):
            await proxied_bus.publish([event])
        with pytest.raises(Unavailable):
            await proxied_bus.ping()
        assert loop.time() - before < proxied_bus.publish_timeout + 1

        await amqp_proxy.restore()
        deadline = loop.time() + 10
        while True:
            try:
                await proxied_bus.publish([event])
                break
            except Unavailable:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)
        await proxied_bus.ping()

    async def test_start_against_a_dead_broker_raises_unavailable(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # free, and nothing listens once it is closed
        bus = AmqpBus(f"amqp://guest:guest@127.0.0.1:{port}/", operation_timeout=2)

        with pytest.raises(Unavailable):
            await bus.start()


class TestTransientAcrossAnOutage:
    @pytest.mark.timeout(30)
    async def test_a_reconnected_consumer_gets_what_was_routed_meanwhile(
        self, amqp_url: str, proxied_bus: AmqpBus, amqp_proxy: TcpProxy, domain: str
    ) -> None:
        received: list[str] = []

        async def handler(event: event_pb2.Event) -> None:
            received.append(event.id)

        consumer = transient_consumer_name(f"{domain}-mirror")
        await proxied_bus.subscribe(Subscription(consumer, domain, ("#",), handler, transient=True))
        publisher = amqp_bus(amqp_url)
        await publisher.start()
        try:
            before = make_event(f"{domain}.session.revoked", "org-1", "a", struct_pb2.Struct())
            await publisher.publish([before])
            await eventually(lambda: received == [before.id])

            await amqp_proxy.cut()
            during = make_event(f"{domain}.session.revoked", "org-1", "b", struct_pb2.Struct())
            await publisher.publish([during])
            await amqp_proxy.restore()

            await eventually(lambda: received == [before.id, during.id], within=20)
            assert amqp_proxy.connections_accepted >= 2, "the consumer never reconnected"
        finally:
            await publisher.close()
            await delete_topology(amqp_url, domain, [consumer])
