"""Notification benchmark, side by side in one run: event published → in-app message on an
open WebSocket, against the raw broker's publish → consume of the same messages.

A publisher sends `planning.task.created` events (each assigning a task to one user) to
RabbitMQ at `--rate` events per second for `--seconds`. Two consumers take every one of them:

1. the notification service (its own durable queue, the rule, the recipient's preferences, the
   delivery, the notification stored with its `delivered` event and handed to the live feed
   of the same process; the outbox relay still publishes the event to RabbitMQ, whose copy the
   feed skips) and the edge's WebSocket bridge, to a
   WebSocket client subscribed to `WatchNotifications` as the recipient — the whole path a user
   sees;
2. a raw aio-pika consumer of its own queue bound to the same routing key, acknowledging each
   message: the broker's own publish → consume latency in the same run.

Latency is from just before the publish call to the WebSocket frame (1) or the delivery (2).
Goal: the service's p99 within 2x the broker's p99 plus 20 ms.

    .venv/bin/python scripts/bench/notifications.py [--rate 500] [--seconds 10]
        [--amqp amqp://guest:guest@127.0.0.1:5672/] [--profile FILE]

Needs RabbitMQ. Everything runs in one process on one event loop (the service, the edge, the
clients), as `coder dev` would; the queues it declares are its own and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import uvicorn
from websockets.asyncio.client import connect

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2 as identity_events
from coder.identity.v1 import resources_pb2 as identity
from coder.planning.v1 import events_pb2 as planning_events
from coder.planning.v1 import task_pb2
from services.kit import (
    Host,
    KeySource,
    Settings,
    SigningKey,
    TokenVerifier,
    configure_logging,
    jwks,
    new_id,
    open_resources,
)
from services.kit.bus import (
    AmqpBus,
    dead_letter_queue_name,
    exchange_name,
    make_event,
    retry_queue_name,
)
from services.notification import NotificationSettings, definition

ORGANIZATION = f"bench-org-{uuid.uuid4().hex[:6]}"
RECIPIENT = "bench-recipient"
ACTOR = "bench-actor"
WATCH = "coder.notification.v1.NotificationService/WatchNotifications"
ISSUER, AUDIENCE = "https://bench.coder", "coder"


@dataclass
class Series:
    name: str
    received: dict[str, float] = field(default_factory=dict)

    def latencies(self, sent: dict[str, float]) -> list[float]:
        return sorted((self.received[k] - sent[k]) * 1000 for k in self.received if k in sent)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def user(name: str) -> actor_pb2.Actor:
    return actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=name)


def member(name: str, role: str) -> event_pb2.Event:
    payload = identity_events.MemberChanged(
        member=identity.Member(
            organization_id=ORGANIZATION, user_id=name, display_name=name.title(), role=role
        )
    )
    return make_event("identity.member.added", ORGANIZATION, name, payload, actor=user(name))


def assignment(number: int) -> event_pb2.Event:
    task = task_pb2.Task(
        id=new_id(),
        project_id="bench-project",
        organization_id=ORGANIZATION,
        title=f"Task {number}",
        assignee_id=RECIPIENT,
        created_by=ACTOR,
    )
    return make_event(
        "planning.task.created",
        ORGANIZATION,
        task.id,
        planning_events.TaskChanged(task=task),
        actor=user(ACTOR),
    )


async def raw_consumer(
    url: str, queue_name: str, series: Series
) -> aio_pika.abc.AbstractConnection:
    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=64)
    queue = await channel.declare_queue(queue_name, auto_delete=True)
    await queue.bind(exchange_name("planning"), routing_key="planning.task.created")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        event = event_pb2.Event.FromString(message.body)
        series.received[event.id] = time.perf_counter()
        await message.ack()

    await queue.consume(on_message)
    return connection


async def delete_queues(url: str, prefix: str) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for domain in ("planning", "identity", "usage", "notification"):
            name = f"{prefix}-{domain}"
            for queue in (name, retry_queue_name(name), dead_letter_queue_name(name)):
                await channel.queue_delete(queue)


async def run(options: argparse.Namespace) -> tuple[Series, Series, dict[str, float]]:
    from edge import EdgeSettings, create_app
    from edge.server import server_config

    configure_logging("warning")
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE)
    token = key.mint(
        subject=RECIPIENT,
        organization_id=ORGANIZATION,
        issuer=ISSUER,
        audience=AUDIENCE,
        roles=("member",),
        lifetime_seconds=3600,
    )
    prefix = f"bench-notification-{uuid.uuid4().hex[:6]}"
    service = definition(NotificationSettings(consumer_prefix=prefix, dedup_seconds=0))
    directory = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
    settings = Settings(
        data_dir=directory,
        store_url=f"sqlite:///{directory / 'store.db'}",
        bus_url=options.amqp,
        cache_url="memory://",
    )
    service_series, raw_series = Series("notification → WebSocket"), Series("raw broker")
    sent: dict[str, float] = {}
    async with open_resources(settings, [service], verifier=verifier) as resources:
        host = Host([service], resources, readiness_interval=0.5)
        await host.start()
        await host.wait_ready()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        keys_file = directory / "jwks.json"
        keys_file.write_text(json.dumps(jwks([key])))
        edge_settings = EdgeSettings(
            grpc_target=f"127.0.0.1:{host.port}",
            port=port,
            jwks_file=keys_file,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )
        server = uvicorn.Server(
            server_config(create_app(edge_settings), edge_settings, log_level="warning")
        )
        serving = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
            await asyncio.sleep(0.02)
        publisher = AmqpBus(options.amqp)
        await publisher.start()
        raw = await raw_consumer(options.amqp, f"{prefix}-raw", raw_series)
        try:
            await publisher.publish([member(ACTOR, "owner"), member(RECIPIENT, "member")])
            await asyncio.sleep(1.0)  # the directory knows both
            url = f"ws://127.0.0.1:{port}/ws?access_token={token}"
            async with connect(url, max_queue=None) as socket_:
                frame = {"type": "subscribe", "id": "inbox", "method": WATCH, "request": {}}
                await socket_.send(json.dumps(frame))
                started = json.loads(await socket_.recv())
                assert started["data"]["started"], started

                async def read() -> None:
                    async for text in socket_:
                        data = json.loads(text).get("data", {})
                        notification = data.get("notification")
                        if notification:
                            service_series.received[notification["eventId"]] = time.perf_counter()

                reader = asyncio.create_task(read())
                profiler = cProfile.Profile() if options.profile else None
                if profiler is not None:
                    profiler.enable()
                total = int(options.rate * options.seconds)
                batch = max(1, options.rate // 100)  # one publish every 10 ms
                begin = time.perf_counter()
                for number in range(0, total, batch):
                    events = [assignment(n) for n in range(number, min(total, number + batch))]
                    moment = time.perf_counter()
                    for event in events:
                        sent[event.id] = moment
                    await publisher.publish(events)
                    wait = begin + (number + batch) / options.rate - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                deadline = time.perf_counter() + 30
                while len(service_series.received) < total and time.perf_counter() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(options.profile)
                reader.cancel()
        finally:
            await raw.close()
            await publisher.close()
            server.should_exit = True
            await serving
            await host.stop(0.5)
            await delete_queues(options.amqp, prefix)
    return service_series, raw_series, sent


def report(
    service: Series, raw: Series, sent: dict[str, float], options: argparse.Namespace
) -> bool:
    print(
        f"{len(sent)} events at {options.rate}/s for {options.seconds}s "
        f"(organization {ORGANIZATION}, one recipient with an open WebSocket)\n"
    )
    print(f"{'path':32} {'received':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}")
    rows = {}
    for series in (raw, service):
        latencies = series.latencies(sent)
        rows[series.name] = latencies
        print(
            f"{series.name:32} {len(latencies):>9} {percentile(latencies, 0.5):>8.1f} "
            f"{percentile(latencies, 0.99):>8.1f} {latencies[-1]:>8.1f} "
            f"{statistics.fmean(latencies):>8.1f}"
        )
    goal = 2 * percentile(rows[raw.name], 0.99) + 20
    got = percentile(rows[service.name], 0.99)
    complete = len(rows[service.name]) == len(sent)
    print(
        f"\ngoal: notification p99 <= 2 x broker p99 + 20 ms = {goal:.1f} ms; "
        f"got {got:.1f} ms -> {'met' if got <= goal and complete else 'NOT met'}"
    )
    return got <= goal and complete


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=500, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile of the publishing phase to FILE"
    )
    options = parser.parse_args()
    # scripts/bench/edge.py shadows the `edge` package while this folder leads sys.path.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    service, raw, sent = asyncio.run(run(options))
    sys.exit(0 if report(service, raw, sent, options) else 1)


if __name__ == "__main__":
    main()
