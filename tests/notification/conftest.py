"""A real server hosting the notification service on SQLite, the in-process bus and cache,
with a clock the tests move; a real SMTP server (aiosmtpd) it sends email to, once per
session. Tests publish events on the bus as the producing services' relays do."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import grpc
import pytest
from aiosmtpd.controller import Controller

from coder.notification.v1 import notification_service_pb2_grpc
from services.kit import ManualClock, Resources, Settings
from services.kit.bus import Subscription
from services.notification import NotificationSettings, definition
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost
from tests.notification.factories import Mailbox

START = datetime(2026, 3, 14, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """The host's clock: it moves only when a test advances it (quiet hours, retries)."""
    return ManualClock(START)


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox()
    # aiosmtpd's controller cannot bind port 0 itself (it connects to the port to check).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        handler.port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def notification_settings(mailbox: Mailbox) -> NotificationSettings:
    return NotificationSettings(
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_security="none",
        smtp_from="Coder <notifications@coder.test>",
        ui_base_url="https://coder.test",
        sweep_interval_seconds=0.02,
        webhook_base_delay_seconds=10,
        webhook_max_delay_seconds=3600,
        webhook_disable_after=4,
        webhook_max_attempts=8,
        dedup_seconds=300,
        escalation_seconds=600,
    )


@pytest.fixture(scope="session")
async def notification_host(
    service_host: HostFactory,
    clock: ManualClock,
    notification_settings: NotificationSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServiceHost]:
    directory = tmp_path_factory.mktemp("notification")
    settings = Settings(
        data_dir=directory,
        store_url=f"sqlite:///{directory / 'store.db'}",
        bus_url="memory://",
        cache_url="memory://",
        bus_max_retries=2,
        bus_retry_delay_ms=20,
    )
    service = definition(notification_settings)
    async with service_host([service], clock=clock, settings=settings) as started:
        yield started


@pytest.fixture(scope="session")
def resources(notification_host: ServiceHost) -> Resources:
    return notification_host.resources


@pytest.fixture(scope="session")
def stub(
    notification_host: ServiceHost,
) -> notification_service_pb2_grpc.NotificationServiceStub:
    return notification_service_pb2_grpc.NotificationServiceStub(notification_host.channel)


@pytest.fixture
def channel(notification_host: ServiceHost) -> grpc.aio.Channel:
    return notification_host.channel


@pytest.fixture(scope="session")
async def delivered(resources: Resources) -> EventRecorder:
    """Every `notification.message.delivered` event of the session: a delivery is marked done
    in the same batch."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription(
            "notification-delivered-tests",
            "notification",
            ("notification.message.delivered",),
            recorder.record,
        )
    )
    return recorder
