"""Usage benchmark, side by side in one run:

1. usage events stored per second end to end through RabbitMQ — a backlog of `--events`
   `ai.completion.completed` events waiting in the usage service's queue, drained by the
   service (decode, validate, price, aggregate, count, write to SQLite exactly once) — against
   a raw aio-pika consumer of the same messages (decode the envelope, acknowledge), once with
   the kit's prefetch and once allowed as many unacknowledged messages as the service holds
   (its consumers times the prefetch), which is the row the ratio is taken against. Goal: the
   service at 0.5x or more.
2. CheckQuota p50/p99 against the Echo RPC on the same host (an organization with quotas and a
   budget, counters warm), with the in-process cache (embedded) and with Redis (distributed).

    .venv/bin/python scripts/bench/usage.py [--events 5000] [--seconds 5] [--concurrency 16]
        [--amqp amqp://guest:guest@127.0.0.1:5672/] [--redis redis://127.0.0.1:6379/15]

Needs RabbitMQ (and Redis for the distributed CheckQuota row, skipped when unreachable).
Everything runs in one process on one event loop, as a service does; the queues it declares
are its own and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import grpc
import redis.asyncio as aioredis

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.ops.v1 import ops_pb2, ops_pb2_grpc
from coder.usage.v1 import events_pb2, resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import (
    Host,
    KeySource,
    Resources,
    Settings,
    SigningKey,
    TokenVerifier,
    configure_logging,
    configure_telemetry,
    jwks,
    open_resources,
)
from services.kit.bus import (
    AmqpBus,
    Subscription,
    dead_letter_queue_name,
    exchange_name,
    make_event,
)
from services.kit.bus import retry_queue_name as retry_queue
from services.kit.store import F, Query
from services.usage import UsageSettings, definition

PREFETCH = 16
"""The kit's AmqpBus prefetch, per consumer."""
WINDOW = PREFETCH * UsageSettings().consumers
"""Unacknowledged messages the service holds at most: its consumers' prefetch."""

ORGANIZATION = "bench-org"
COMPLETED = "ai.completion.completed"


@dataclass
class Rate:
    name: str
    events: int
    seconds: float
    cpu_seconds: float
    """Process CPU time over the same interval (every thread: the store's writer too)."""

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


@dataclass
class Latency:
    name: str
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def usage_events(count: int) -> list[event_pb2.Event]:
    """A team's day: 25 users on 4 models across 3 projects, tokens and costs varying."""
    rng = random.Random(11)
    users = [f"user-{n}" for n in range(25)]
    models = [
        ("gpt-4o", "openai"),
        ("gpt-4o-mini", "openai"),
        ("claude-sonnet", "anthropic"),
        ("llama-3", "vllm"),
    ]
    events = []
    for _ in range(count):
        model, provider = rng.choice(models)
        payload = events_pb2.UsageRecorded(
            organization_id=ORGANIZATION,
            user_id=rng.choice(users),
            project_id=rng.choice(["", "apollo", "gemini"]),
            model=model,
            provider=provider,
            quantities={
                "input_tokens": str(rng.randrange(50, 6000)),
                "output_tokens": str(rng.randrange(10, 1500)),
                "latency_ms": str(rng.randrange(200, 9000)),
            },
            cost=f"0.{rng.randrange(0, 10**6):06d}",
        )
        actor = actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=payload.user_id)
        events.append(make_event(COMPLETED, ORGANIZATION, "completion", payload, actor=actor))
    return events


async def publish(url: str, events: list[event_pb2.Event]) -> None:
    bus = AmqpBus(url)
    await bus.start()
    try:
        for start in range(0, len(events), 500):
            await bus.publish(events[start : start + 500])
    finally:
        await bus.close()


# --- 1. events stored per second ----------------------------------------------------------


async def raw_consumer(url: str, events: list[event_pb2.Event], prefetch: int) -> Rate:
    """A plain aio-pika consumer of the same messages: parse the envelope, acknowledge."""
    queue_name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        exchange = await channel.declare_exchange(
            exchange_name("ai"), aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, routing_key=COMPLETED)
        await publish(url, events)
        done = asyncio.Event()
        consumed = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal consumed
            event_pb2.Event.FromString(message.body)
            await message.ack()
            consumed += 1
            if consumed == len(events):
                done.set()

        started, cpu = time.perf_counter(), time.process_time()
        await queue.consume(on_message)
        await done.wait()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()
    name = f"raw aio-pika consumer, prefetch {prefetch} (parse + ack)"
    return Rate(name, len(events), elapsed, cpu)


async def kit_consumer(url: str, events: list[event_pb2.Event]) -> Rate:
    """The kit's bus delivering the same messages to a handler that does nothing, with the
    service's consumers: what the bus costs before any recording."""
    consumer = f"bench-kit-{uuid.uuid4().hex[:8]}"
    bus = AmqpBus(url)
    await bus.start()
    done = asyncio.Event()
    consumed = 0

    async def handle(event: event_pb2.Event) -> None:
        nonlocal consumed
        consumed += 1
        if consumed == len(events):
            done.set()

    try:
        subscription = Subscription(consumer, "ai", (COMPLETED,), handle)
        # Declared first (queues keep what arrives), then stopped until the backlog is in.
        declaring = await bus.subscribe(subscription)
        await declaring.stop()
        await publish(url, events)
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(UsageSettings().consumers):
            await bus.subscribe(subscription)
        await done.wait()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await bus.close()
        await delete_queue_set(url, consumer)
    name = f"kit bus, {UsageSettings().consumers} consumers x prefetch {PREFETCH} (no-op handler)"
    return Rate(name, len(events), elapsed, cpu)


async def usage_service(
    url: str, events: list[event_pb2.Event], directory: Path, verifier: TokenVerifier
) -> Rate:
    """The usage service draining the same backlog from its own queue into SQLite."""
    prefix = f"bench-usage-{uuid.uuid4().hex[:8]}"
    service = definition(UsageSettings(consumer_prefix=prefix))
    settings = Settings.model_validate(
        {
            "store_url": f"sqlite:///{directory / 'usage.db'}",
            "bus_url": url,
            "cache_url": "memory://",
            "log_level": "warning",
        }
    )
    try:
        # First start declares the service's durable queues; stopped, they keep what arrives.
        async with open_resources(settings, [service], verifier=verifier) as resources:
            host = Host([service], resources)
            await host.start()
            await host.stop(0)
        await publish(url, events)
        async with open_resources(settings, [service], verifier=verifier) as resources:
            host = Host([service], resources)
            started, cpu = time.perf_counter(), time.process_time()
            await host.start()
            # Watched on the broker until the backlog is handed out, so the watching takes
            # nothing from the store the service writes to; then the store, for the last
            # prefetch-full still being recorded.
            await drained(url, f"{prefix}-ai")
            while True:
                if await stored(resources) >= len(events):
                    break
                await asyncio.sleep(0.005)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            await host.stop(0)
    finally:
        await delete_queues(url, prefix)
    consumers = UsageSettings().consumers
    name = f"usage service, {consumers} consumers x prefetch {PREFETCH} (record exactly once)"
    return Rate(name, len(events), elapsed, cpu)


async def drained(url: str, queue_name: str) -> None:
    """Return once the queue holds no message ready for delivery."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        while True:
            queue = await channel.declare_queue(queue_name, passive=True)
            if not queue.declaration_result.message_count:
                return
            await asyncio.sleep(0.01)


async def stored(resources: Resources) -> int:
    container = resources.store.container("usage")
    query = Query().where(F("kind") == "record", F("docType").defined(False))
    return await container.count(query, partition=ORGANIZATION)


async def delete_queues(url: str, prefix: str) -> None:
    for domain in ("ai", "mcp"):
        await delete_queue_set(url, f"{prefix}-{domain}")


async def delete_queue_set(url: str, name: str) -> None:
    """A consumer's queue, retry queue and dead-letter queue."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in (name, retry_queue(name), dead_letter_queue_name(name)):
            await channel.queue_delete(queue)


# --- 2. CheckQuota against Echo ------------------------------------------------------------


async def measure(
    name: str, call: Callable[[], Awaitable[object]], seconds: float, concurrency: int
) -> Latency:
    latencies: list[float] = []
    warm_until = time.perf_counter() + min(1.0, seconds / 5)
    while time.perf_counter() < warm_until:
        await call()
    started = time.perf_counter()
    stop_at = started + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Latency(name, len(latencies), time.perf_counter() - started, latencies)


async def check_quota_rows(
    cache_url: str,
    label: str,
    directory: Path,
    key: SigningKey,
    verifier: TokenVerifier,
    options: argparse.Namespace,
) -> list[Latency]:
    settings = Settings.model_validate(
        {
            "store_url": f"sqlite:///{directory / f'quota-{label}.db'}",
            "bus_url": "memory://",
            "cache_url": cache_url,
            "log_level": "warning",
        }
    )
    service = definition()
    async with open_resources(settings, [service], verifier=verifier) as resources:
        host = Host([service], resources)
        await host.start()
        await host.wait_ready()
        organization = f"bench-{uuid.uuid4().hex[:8]}"
        token = key.mint(
            subject="user-1",
            organization_id=organization,
            issuer="coder",
            audience="coder-api",
            roles=["owner"],
            lifetime_seconds=3600,
        )
        metadata = (("authorization", f"Bearer {token}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            usage = UsageServiceStub(channel)
            ops = ops_pb2_grpc.OpsServiceStub(channel)
            for quota in (
                resources_pb2.Quota(
                    name="org tokens",
                    meter="ai.completion.tokens",
                    scope=resources_pb2.SCOPE_ORGANIZATION,
                    limit="1000000000",
                ),
                resources_pb2.Quota(
                    name="user tokens",
                    meter="ai.completion.tokens",
                    scope=resources_pb2.SCOPE_USER,
                    limit="10000000",
                ),
                resources_pb2.Quota(
                    name="requests",
                    meter="ai.completion.requests",
                    scope=resources_pb2.SCOPE_PROJECT,
                    scope_id="apollo",
                    limit="100000",
                    period=resources_pb2.PERIOD_DAY,
                ),
            ):
                quota.period = quota.period or resources_pb2.PERIOD_MONTH
                quota.enforcement = resources_pb2.ENFORCEMENT_HARD
                await usage.CreateQuota(api.CreateQuotaRequest(quota=quota), metadata=metadata)
            await usage.CreateBudget(
                api.CreateBudgetRequest(
                    budget=resources_pb2.Budget(
                        name="spend",
                        scope=resources_pb2.SCOPE_ORGANIZATION,
                        period=resources_pb2.PERIOD_MONTH,
                        amount="10000",
                        enforcement=resources_pb2.ENFORCEMENT_HARD,
                    )
                ),
                metadata=metadata,
            )
            request = api.CheckQuotaRequest(
                category="ai.completion", project_id="apollo", estimate={"input_tokens": "800"}
            )
            decision = await usage.CheckQuota(request, metadata=metadata)
            assert decision.allowed and len(decision.limits) == 4, decision
            echo = ops_pb2.EchoRequest(message="ping")
            rows = [
                await measure(
                    f"Echo ({label})", lambda: ops.Echo(echo), options.seconds, options.concurrency
                ),
                await measure(
                    f"CheckQuota, 4 limits ({label})",
                    lambda: usage.CheckQuota(request, metadata=metadata),
                    options.seconds,
                    options.concurrency,
                ),
            ]
        await host.stop(0)
    return rows


async def redis_reachable(url: str) -> bool:
    client = aioredis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
        return True
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


async def run(options: argparse.Namespace) -> tuple[list[Rate], list[Latency]]:
    configure_logging("warning")
    configure_telemetry("coder-bench")
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    events = usage_events(options.events)
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        rates = [
            await raw_consumer(options.amqp, events, PREFETCH),
            await raw_consumer(options.amqp, events, WINDOW),
            await kit_consumer(options.amqp, events),
            await usage_service(options.amqp, events, folder, verifier),
        ]
        latencies = await check_quota_rows(
            "memory://", "in-process cache", folder, key, verifier, options
        )
        if await redis_reachable(options.redis):
            latencies += await check_quota_rows(
                options.redis, "Redis", folder, key, verifier, options
            )
        else:
            print(f"Redis at {options.redis} unreachable: its rows are skipped", file=sys.stderr)
    return rates, latencies


def report(rates: list[Rate], latencies: list[Latency], options: argparse.Namespace) -> None:
    raw, service = rates[1], rates[3]
    print(
        f"\nusage benchmark: {options.events:,} events, SQLite store; "
        f"{options.seconds:g} s per RPC row, {options.concurrency} calls in flight\n"
    )
    print("| consumer | events/s | vs raw | CPU ms/event |")
    print("|---|---:|---:|---:|")
    for rate in rates:
        print(
            f"| {rate.name} | {rate.per_second:,.0f} | {rate.per_second / raw.per_second:.2f}x "
            f"| {rate.cpu_seconds / rate.events * 1000:.2f} |"
        )
    print("\n| RPC | calls/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for row in latencies:
        print(
            f"| {row.name} | {row.rate:,.0f} | {row.percentile(0.5):.2f} | "
            f"{row.percentile(0.99):.2f} |"
        )
    ratio = service.per_second / raw.per_second
    print(
        f"\nstored at {ratio:.2f}x the raw consumer: goal (>= 0.5x) "
        f"{'met' if ratio >= 0.5 else 'NOT met'}."
    )
    for echo, check in zip(latencies[::2], latencies[1::2], strict=True):
        print(
            f"{check.name}: p50 {check.percentile(0.5):.2f} ms vs Echo "
            f"{echo.percentile(0.5):.2f} ms, p99 {check.percentile(0.99):.2f} vs "
            f"{echo.percentile(0.99):.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    options = parser.parse_args()
    rates, latencies = asyncio.run(run(options))
    report(rates, latencies, options)


if __name__ == "__main__":
    main()
