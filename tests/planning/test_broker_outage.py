"""Planning keeps accepting writes while the broker is unreachable, and once it is back every
task's event reaches an idempotent consumer exactly once in effect: none lost, none doubled."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import grpc
import pytest

from coder.events.v1 import event_pb2
from coder.planning.v1 import planning_service_pb2_grpc
from services.kit import (
    Host,
    KeySource,
    Resources,
    Settings,
    SigningKey,
    TokenVerifier,
    jwks,
    open_resources,
)
from services.kit.bus import ENTITIES_ONLY, INBOX_SPEC, Inbox, Subscription, idempotent
from services.kit.store import F, Query
from services.planning import SERVICE
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.tokens import TokenFactory
from tests.kit.bus.conftest import amqp_proxy, amqp_url, eventually, proxied_url
from tests.planning.factories import create_project, create_task

__all__ = ["amqp_proxy", "amqp_url"]  # fixtures used by this module

pytestmark = pytest.mark.amqp

TASKS = 150
OUTAGE_SECONDS = 2.0


@pytest.fixture
async def proxied_resources(
    amqp_url: str, amqp_proxy: TcpProxy, tmp_path: Path, signing_key: SigningKey
) -> AsyncIterator[Resources]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'planning.db'}",
        bus_url=proxied_url(amqp_url, amqp_proxy),
        cache_url="memory://",
        outbox_poll_seconds=0.2,
        bus_retry_delay_ms=100,
    )
    verifier = TokenVerifier(
        KeySource(jwks=jwks([signing_key])), issuer="coder", audience="coder-api"
    )
    async with open_resources(settings, [SERVICE], verifier=verifier) as resources:
        await resources.store.open([INBOX_SPEC])
        yield resources


class TestBrokerOutage:
    @pytest.mark.timeout(60)
    async def test_writes_during_an_outage_are_delivered_exactly_once(
        self,
        proxied_resources: Resources,
        amqp_proxy: TcpProxy,
        amqp_url: str,
        token: TokenFactory,
    ) -> None:
        resources = proxied_resources
        consumer = f"planning-outage-{uuid.uuid4().hex[:8]}"
        inbox = Inbox(resources.store)
        effects: Counter[str] = Counter()
        deliveries: Counter[str] = Counter()

        async def effect(event: event_pb2.Event) -> None:
            effects[event.subject] += 1

        counted = idempotent(consumer, inbox, effect)

        async def handler(event: event_pb2.Event) -> None:
            deliveries[event.subject] += 1
            await counted(event)

        await resources.bus.subscribe(
            Subscription(consumer, "planning", ("planning.task.created",), handler)
        )
        host = Host([SERVICE], resources)
        await host.start()
        organization = f"org-{uuid.uuid4().hex[:8]}"
        created: list[str] = []
        third_written = asyncio.Event()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                stub = planning_service_pb2_grpc.PlanningServiceStub(channel)
                bearer = token(organization)
                project = await create_project(stub, bearer)

                async def writer() -> None:
                    for n in range(TASKS):
                        task = await create_task(stub, bearer, project.id, title=f"task {n}")
                        created.append(task.id)
                        if len(created) == TASKS // 3:
                            third_written.set()
                        await asyncio.sleep(0.01)

                async def outage() -> None:
                    await third_written.wait()
                    await amqp_proxy.cut()
                    await asyncio.sleep(OUTAGE_SECONDS)
                    await amqp_proxy.restore()

                await asyncio.gather(writer(), outage())

            assert amqp_proxy.cuts == 1
            assert resources.relay is not None
            await eventually(lambda: set(effects) >= set(created), within=30)
            await asyncio.sleep(0.5)  # let any late duplicate arrive before counting
            assert set(effects) == set(created)
            # The outage was real: publishing failed while the proxy was cut.
            assert resources.relay.stats.failures > 0
            assert all(count == 1 for count in effects.values()), effects.most_common(3)
            tasks = resources.store.container("tasks")
            pending = await tasks.count(
                Query().where(F("docType") == "outbox"), partition=organization
            )
            assert pending == 0
            stored = await tasks.count(Query().where(ENTITIES_ONLY), partition=organization)
            assert stored == TASKS
        finally:
            await host.stop(1.0)
            connection = await aio_pika.connect(amqp_url, timeout=5)
            async with connection:
                channel = await connection.channel()
                for queue in (consumer, f"{consumer}.dlq", f"{consumer}.retry"):
                    await channel.queue_delete(queue)
