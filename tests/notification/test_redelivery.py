"""Done when: the same events delivered twice, with the consumer's RabbitMQ connection cut in
between, send each notification once — one inbox entry and one email per assignment.

The notification host consumes through a TCP proxy the test cuts; the events are published
straight to the broker (as the producers' outbox relays do), every one of them twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import grpc
import pytest

from coder.events.v1 import event_pb2
from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1.notification_service_pb2_grpc import NotificationServiceStub
from services.kit import Host, Settings, open_resources
from services.kit.bus import AmqpBus, dead_letter_queue_name, retry_queue_name
from services.notification import NotificationSettings, definition
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.kit.bus.conftest import amqp_proxy, amqp_url, proxied_url
from tests.notification.factories import Mailbox, member_added, task_assigned

__all__ = ["amqp_proxy", "amqp_url"]  # fixtures used by this module

pytestmark = pytest.mark.amqp

ASSIGNMENTS = 300
USERS = [f"user{n}" for n in range(10)]


@pytest.fixture
async def consumer_host(
    amqp_url: str,
    amqp_proxy: TcpProxy,
    tmp_path: Path,
    token: TokenFactory,
    notification_settings: NotificationSettings,
) -> AsyncIterator[tuple[Host, str]]:
    prefix = f"notification-test-{uuid.uuid4().hex[:8]}"
    service = definition(notification_settings.model_copy(update={"consumer_prefix": prefix}))
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'notification.db'}",
        bus_url=proxied_url(amqp_url, amqp_proxy),
        cache_url="memory://",
        bus_retry_delay_ms=100,
    )
    async with open_resources(settings, [service], verifier=token.verifier()) as resources:
        host = Host([service], resources, readiness_interval=0.2)
        await host.start()
        try:
            yield host, prefix
        finally:
            await host.stop(1.0)
            await _delete_queues(amqp_url, prefix)


async def _delete_queues(url: str, prefix: str) -> None:
    connection = await aio_pika.connect(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        for domain in ("planning", "identity", "usage", "notification"):
            queue = f"{prefix}-{domain}"
            for name in (queue, retry_queue_name(queue), dead_letter_queue_name(queue)):
                await channel.queue_delete(name)


async def publish_all(bus: AmqpBus, events: list[event_pb2.Event]) -> None:
    for start in range(0, len(events), 50):
        await bus.publish(events[start : start + 50])


class TestDeliveredTwiceWithACut:
    @pytest.mark.timeout(120)
    async def test_each_notification_once(
        self,
        consumer_host: tuple[Host, str],
        amqp_url: str,
        amqp_proxy: TcpProxy,
        token: TokenFactory,
        mailbox: Mailbox,
    ) -> None:
        host, _ = consumer_host
        organization = f"org-{uuid.uuid4().hex[:8]}"
        rng = random.Random(7)
        people = [member_added(organization, "alice", role="owner")]
        people += [member_added(organization, name) for name in USERS]
        assignees = [rng.choice(USERS) for _ in range(ASSIGNMENTS)]
        assignments = [
            task_assigned(organization, name, title=f"Task {n}") for n, name in enumerate(assignees)
        ]
        expected = Counter(assignees)
        addresses = {f"{name}@example.com" for name in USERS}

        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            stub = NotificationServiceStub(channel)

            async def counts() -> Counter[str]:
                found: Counter[str] = Counter()
                for name in USERS:
                    answer = await stub.GetUnreadCount(
                        api.GetUnreadCountRequest(),
                        metadata=auth(token(organization, ("member",), name)),
                    )
                    found[name] = answer.unread_count
                return found

            # The test's own publisher, not under test: it may wait for a busy broker rather
            # than fail at the default 5 s.
            publisher = AmqpBus(amqp_url, publish_timeout=60)
            await publisher.start()
            try:
                await publisher.publish(people + people)
                alice = token(organization, ("owner",), "alice")

                async def directory_known() -> bool:
                    answer = await stub.GetUnreadCount(
                        api.GetUnreadCountRequest(), metadata=auth(alice)
                    )
                    return bool(answer.unread_count == len(USERS))

                await eventually(directory_known, within=30)
                publishing = asyncio.create_task(publish_all(publisher, assignments + assignments))

                async def a_third_arrived() -> bool:
                    return sum((await counts()).values()) >= ASSIGNMENTS // 3

                await eventually(a_third_arrived, within=60, interval=0.05)
                await amqp_proxy.cut()  # the consumer's connection drops mid-stream
                await asyncio.sleep(1.0)  # the outage lasts a while
                await amqp_proxy.restore()
                await publishing

                async def all_arrived() -> bool:
                    mailed = sum(1 for m in mailbox.messages if m["To"] in addresses)
                    return await counts() == expected and mailed >= ASSIGNMENTS

                await eventually(all_arrived, within=90, interval=0.1)
                await asyncio.sleep(1.0)  # a late duplicate would show up now
            finally:
                await publisher.close()

            assert amqp_proxy.cuts == 1
            assert await counts() == expected
            mailed = Counter(m["To"] for m in mailbox.messages if m["To"] in addresses)
            assert mailed == Counter({f"{u}@example.com": n for u, n in expected.items()})
            subjects = [m["Subject"] for m in mailbox.messages if m["To"] in addresses]
            assert len(subjects) == len(set(subjects)) == ASSIGNMENTS
