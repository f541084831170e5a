"""Done when: the same 10,000 usage events delivered twice, with the consumer's RabbitMQ
connection cut in the middle, give exactly the totals of one pass — the aggregates, the
charges, the quota counter CheckQuota reads and the alerts.

The usage host consumes through a TCP proxy the test cuts; the events are published straight
to the broker (as the producers' outbox relays do), every one of them twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aio_pika
import grpc
import pytest

from coder.events.v1 import event_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import Host, ManualClock, Resources, Settings, open_resources
from services.kit.bus import AmqpBus, dead_letter_queue_name, retry_queue_name
from services.usage import UsageSettings, definition
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.kit.bus.conftest import amqp_proxy, amqp_url, proxied_url
from tests.usage.factories import check, completion, create_quota, records_stored

__all__ = ["amqp_proxy", "amqp_url"]  # fixtures used by this module

pytestmark = pytest.mark.amqp

EVENTS = 10_000
USERS = [f"user-{n}" for n in range(20)]
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", "llama-3"]
PROJECTS = ["", "apollo", "gemini"]
NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def consumer_host(
    amqp_url: str, amqp_proxy: TcpProxy, tmp_path: Path, token: TokenFactory
) -> AsyncIterator[tuple[Host, Resources, str]]:
    prefix = f"usage-test-{uuid.uuid4().hex[:8]}"
    service = definition(UsageSettings(consumer_prefix=prefix))
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'usage.db'}",
        bus_url=proxied_url(amqp_url, amqp_proxy),
        cache_url="memory://",
        bus_retry_delay_ms=100,
    )
    async with open_resources(
        settings, [service], clock=ManualClock(NOW), verifier=token.verifier()
    ) as resources:
        host = Host([service], resources, readiness_interval=0.2)
        await host.start()
        try:
            yield host, resources, prefix
        finally:
            await host.stop(1.0)
            await _delete_queues(amqp_url, prefix)


async def _delete_queues(url: str, prefix: str) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for domain in ("ai", "mcp"):
            queue = f"{prefix}-{domain}"
            for name in (queue, retry_queue_name(queue), dead_letter_queue_name(queue)):
                await channel.queue_delete(name)


def usage_events(organization: str, clock: ManualClock) -> list[event_pb2.Event]:
    rng = random.Random(42)
    return [
        completion(
            organization,
            clock,
            user=rng.choice(USERS),
            model=rng.choice(MODELS),
            project=rng.choice(PROJECTS),
            input_tokens=rng.randrange(1, 4000),
            output_tokens=rng.randrange(0, 1000),
            cost=f"0.{rng.randrange(0, 10**9):09d}",
        )
        for _ in range(EVENTS)
    ]


async def publish_all(bus: AmqpBus, events: list[event_pb2.Event]) -> None:
    for start in range(0, len(events), 500):
        await bus.publish(events[start : start + 500])


class TestDeliveredTwiceWithACut:
    @pytest.mark.timeout(120)
    async def test_totals_are_those_of_one_pass(
        self,
        consumer_host: tuple[Host, Resources, str],
        amqp_url: str,
        amqp_proxy: TcpProxy,
        token: TokenFactory,
    ) -> None:
        host, resources, prefix = consumer_host
        organization = f"org-{uuid.uuid4().hex[:8]}"
        admin = token(organization, ("admin",))
        clock = ManualClock(NOW)
        events = usage_events(organization, clock)
        expected_tokens = sum(
            int(v) for e in events for k, v in _quantities(e).items() if k != "cached_tokens"
        )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            stub = UsageServiceStub(channel)
            # Thresholds at 80/95/100 % of a third of the tokens: all three are crossed.
            quota = await create_quota(stub, admin, limit=str(expected_tokens // 3))

            # The test's own publisher, not under test: it may wait for a broker the two
            # passes keep busy (500 events a call) rather than fail at the default 5 s.
            publisher = AmqpBus(amqp_url, publish_timeout=60)
            await publisher.start()
            try:
                # Every event twice: the second pass follows the first while it is consumed.
                publishing = asyncio.create_task(publish_all(publisher, events + events))

                async def third_recorded() -> bool:
                    return await requests(stub, admin) >= EVENTS // 3

                await eventually(third_recorded, within=60, interval=0.1)
                await amqp_proxy.cut()  # the consumer's connection drops mid-stream
                await asyncio.sleep(1.0)  # the outage lasts a while
                await amqp_proxy.restore()
                await publishing
                # A new event published last: once it is recorded, every delivery before it
                # (the second pass, the redeliveries after the cut) has been handled.
                sentinel = completion(
                    organization, clock, user="sentinel", input_tokens=1, output_tokens=0, cost="0"
                )
                await publisher.publish([sentinel])

                async def sentinel_recorded() -> bool:
                    return await requests(stub, admin) >= EVENTS + 1

                await eventually(sentinel_recorded, within=90, interval=0.1)
            finally:
                await publisher.close()
            assert await records_stored(resources, organization) == EVENTS + 1
            assert amqp_proxy.cuts == 1
            assert await _queue_depth(amqp_url, f"{prefix}-ai") == 0

            response = await stub.QueryUsage(
                api.QueryUsageRequest(group_by=["user", "model"], user_ids=USERS),
                metadata=auth(admin),
            )
            got: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
            for row in response.rows:
                key = (row.meter, row.dimensions["user"], row.dimensions["model"])
                got[key] += Decimal(row.value)
            assert got == _expected(events)
            total_cost = sum((Decimal(_cost(e)) for e in events), Decimal(0))
            assert Decimal(response.total_amount) == total_cost  # charged once, exactly

            decision = await check(stub, admin)
            status = next(s for s in decision.limits if s.limit_id == quota.id)
            assert Decimal(status.used) == expected_tokens + 1
            listed = await stub.ListAlerts(
                api.ListAlertsRequest(limit_id=quota.id), metadata=auth(admin)
            )
            assert len(listed.alerts) == 3


async def requests(stub: UsageServiceStub, token: str) -> int:
    """Events recorded so far, as the requests meter counts them (a read of a few buckets,
    rather than a count of every record)."""
    response = await stub.QueryUsage(
        api.QueryUsageRequest(meters=["ai.completion.requests"]), metadata=auth(token)
    )
    return int(sum(Decimal(row.value) for row in response.rows))


def _quantities(event: event_pb2.Event) -> dict[str, str]:
    from coder.usage.v1 import events_pb2

    payload = events_pb2.UsageRecorded()
    event.data.Unpack(payload)
    return dict(payload.quantities)


def _cost(event: event_pb2.Event) -> str:
    from coder.usage.v1 import events_pb2

    payload = events_pb2.UsageRecorded()
    event.data.Unpack(payload)
    return payload.cost


def _expected(events: list[event_pb2.Event]) -> dict[tuple[str, str, str], Decimal]:
    from coder.usage.v1 import events_pb2

    expected: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for event in events:
        payload = events_pb2.UsageRecorded()
        event.data.Unpack(payload)
        key = (payload.user_id, payload.model)
        tokens_in = Decimal(payload.quantities["input_tokens"])
        tokens_out = Decimal(payload.quantities["output_tokens"])
        cost = Decimal(payload.cost)
        expected[("ai.completion.requests", *key)] += 1
        expected[("ai.completion.input_tokens", *key)] += tokens_in
        expected[("ai.completion.output_tokens", *key)] += tokens_out
        expected[("ai.completion.tokens", *key)] += tokens_in + tokens_out
        expected[("ai.completion.cost", *key)] += cost
        expected[("ai.completion.users", *key)] = Decimal(1)
    return dict(expected)


async def _queue_depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
