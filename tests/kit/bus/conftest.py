"""Fixtures of the bus suites: one `Harness` per backend (in-process and RabbitMQ), a sqlite
document store, and a cuttable TCP proxy in front of RabbitMQ.

RabbitMQ is the real broker at `CODER_TEST_AMQP_URL`. When it is unreachable the RabbitMQ
cases are skipped on a laptop but fail under CI, where a silently skipped backend would hide
bugs. Each test publishes on its own domain (`t<random>`), so its exchange and queues are its
own, and they are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from yarl import URL

from coder.events.v1 import event_pb2
from services.kit.bus import (
    AmqpBus,
    Consumer,
    EventBus,
    EventHandler,
    MemoryBus,
    Subscription,
    exchange_name,
)
from services.kit.bus._amqp import (
    ATTEMPTS_HEADER,
    dead_letter_exchange_name,
    dead_letter_queue_name,
    retry_queue_name,
)
from services.kit.store import DocumentStore, open_store
from tests.fixtures.tcp_proxy import TcpProxy

AMQP_URL = os.environ.get("CODER_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

MAX_RETRIES = 3
RETRY_DELAY = 0.05


async def eventually(
    condition: Callable[[], bool], *, within: float = 10.0, interval: float = 0.02
) -> None:
    """Wait until `condition()` holds; fail the test when it does not within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(interval)


class Recorder:
    """A handler that records what it was given, optionally failing the first deliveries."""

    def __init__(self, *, fail_times: int = 0) -> None:
        self.events: list[event_pb2.Event] = []
        self.calls = 0
        self._fail_times = fail_times

    async def __call__(self, event: event_pb2.Event) -> None:
        self.calls += 1
        if self.calls <= self._fail_times:
            raise RuntimeError(f"handler failure #{self.calls}")
        self.events.append(event)

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    @property
    def ids(self) -> list[str]:
        return [event.id for event in self.events]


@dataclass
class DeadLettered:
    """An event found in a consumer's dead letters, and how many deliveries failed."""

    event: event_pb2.Event
    attempts: int


@dataclass
class Harness:
    """A started bus of one backend, a domain of the test's own, and backend-specific probes."""

    kind: str
    bus: EventBus
    domain: str
    open_extra_bus: Callable[[], Awaitable[EventBus]]
    read_dead_letters: Callable[[str], Awaitable[list[DeadLettered]]]
    consumers: list[str] = field(default_factory=list)

    def consumer_name(self, name: str) -> str:
        consumer = f"{self.domain}-{name}"
        self.consumers.append(consumer)
        return consumer

    def event_type(self, rest: str) -> str:
        return f"{self.domain}.{rest}"

    async def subscribe(
        self,
        name: str,
        patterns: Sequence[str],
        handler: EventHandler,
        *,
        bus: EventBus | None = None,
    ) -> Consumer:
        subscription = Subscription(self.consumer_name(name), self.domain, tuple(patterns), handler)
        return await (bus or self.bus).subscribe(subscription)

    async def reopen(self, bus: EventBus) -> EventBus:
        """Model a consumer process restart: for RabbitMQ a fresh connection; in-process the
        queues live in the bus itself, so the same bus stands for the restarted process."""
        if self.kind == "memory":
            return bus
        await bus.close()
        return await self.open_extra_bus()

    async def wait_dead_letters(
        self, consumer: str, count: int, *, within: float = 10.0
    ) -> list[DeadLettered]:
        """Wait until `count` events are dead-lettered for `consumer` and return them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(found := await self.dead_letters(consumer)) < count:
            if loop.time() > deadline:
                pytest.fail(f"{len(found)} of {count} dead letters within {within} s")
            await asyncio.sleep(0.05)
        return found

    async def dead_letters(self, consumer: str) -> list[DeadLettered]:
        """Every event dead-lettered for `consumer` so far."""
        return await self.read_dead_letters(consumer)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    url = URL(AMQP_URL)
    try:
        socket.create_connection((url.host or "127.0.0.1", url.port or 5672), timeout=3).close()
    except OSError as exc:
        message = f"RabbitMQ at {url.with_password('***')} is unreachable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return AMQP_URL


@pytest.fixture
def domain() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def memory_harness(domain: str) -> AsyncIterator[Harness]:
    bus = MemoryBus(max_retries=MAX_RETRIES, retry_delay=RETRY_DELAY)
    await bus.start()

    async def same_bus() -> EventBus:
        return bus

    async def dead_letters(consumer: str) -> list[DeadLettered]:
        return [DeadLettered(d.event, d.attempts) for d in bus.dead_letters(consumer)]

    yield Harness("memory", bus, domain, same_bus, dead_letters)
    await bus.close()


def amqp_bus(
    url: str, *, max_retries: int = MAX_RETRIES, retry_delay: float = RETRY_DELAY, **options: Any
) -> AmqpBus:
    """An AmqpBus with the suite's fast retry policy."""
    return AmqpBus(url, max_retries=max_retries, retry_delay=retry_delay, **options)


async def delete_topology(url: str, domain: str, consumers: Sequence[str]) -> None:
    """Remove what a test declared on the broker: its exchange and its consumers' queues."""
    connection = await aio_pika.connect(url, timeout=5)
    try:
        channel = await connection.channel()
        for consumer in consumers:
            for queue in (consumer, retry_queue_name(consumer), dead_letter_queue_name(consumer)):
                await channel.queue_delete(queue)
            await channel.exchange_delete(dead_letter_exchange_name(consumer))
        await channel.exchange_delete(exchange_name(domain))
    finally:
        await connection.close()


async def drain_dead_letters(url: str, consumer: str) -> list[DeadLettered]:
    """Take every message out of a consumer's dead-letter queue on the broker."""
    found: list[DeadLettered] = []
    connection = await aio_pika.connect(url, timeout=5)
    try:
        channel = await connection.channel()
        try:
            queue = await channel.declare_queue(dead_letter_queue_name(consumer), passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return found  # a transient consumer has no dead-letter queue
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            attempts = int(str((message.headers or {}).get(ATTEMPTS_HEADER, 0)))
            found.append(DeadLettered(event_pb2.Event.FromString(message.body), attempts))
    finally:
        await connection.close()
    return found


@pytest.fixture
async def amqp_harness(amqp_url: str, domain: str) -> AsyncIterator[Harness]:
    buses: list[AmqpBus] = []

    async def open_extra_bus() -> EventBus:
        bus = amqp_bus(amqp_url)
        await bus.start()
        buses.append(bus)
        return bus

    drained: dict[str, list[DeadLettered]] = {}

    async def dead_letters(consumer: str) -> list[DeadLettered]:
        # Reading a queue takes the messages off it, so keep what earlier reads found.
        found = drained.setdefault(consumer, [])
        found.extend(await drain_dead_letters(amqp_url, consumer))
        return list(found)

    bus = await open_extra_bus()
    harness = Harness("amqp", bus, domain, open_extra_bus, dead_letters)
    yield harness
    for opened in buses:
        await opened.close()
    await delete_topology(amqp_url, domain, harness.consumers)


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.amqp)])
def backend(request: pytest.FixtureRequest) -> Harness:
    """Each conformance test runs once per backend."""
    harness: Harness = request.getfixturevalue(f"{request.param}_harness")
    return harness


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """A sqlite document store in the test's own directory (containers declared by tests)."""
    opened = open_store(f"sqlite:///{(tmp_path / 'store.db').as_posix()}")
    yield opened
    await opened.close()


@pytest.fixture
async def amqp_proxy(amqp_url: str) -> AsyncIterator[TcpProxy]:
    """A cuttable TCP proxy in front of RabbitMQ; its URL is `proxied_url(amqp_url, proxy)`."""
    target = URL(amqp_url)
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5672) as proxy:
        yield proxy


def proxied_url(url: str, proxy: TcpProxy) -> str:
    """The broker URL with its host and port replaced by the proxy's."""
    return str(URL(url).with_host("127.0.0.1").with_port(proxy.port))
