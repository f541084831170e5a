"""A real server hosting the usage service on SQLite, the in-process bus and cache, with a
clock the tests move, once per session; a stub, and a recorder of the alerts it publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest

from coder.usage.v1 import usage_service_pb2_grpc
from services.kit import ManualClock, Resources, Settings
from services.kit.bus import Subscription
from services.usage import SERVICE
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost

START = datetime(2026, 3, 14, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """The host's clock: it moves only when a test advances it (periods, prices' dates)."""
    return ManualClock(START)


@pytest.fixture(scope="session")
async def usage_host(
    service_host: HostFactory, clock: ManualClock, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceHost]:
    directory = tmp_path_factory.mktemp("usage")
    settings = Settings(
        data_dir=directory,
        store_url=f"sqlite:///{directory / 'store.db'}",
        bus_url="memory://",
        cache_url="memory://",
        bus_max_retries=2,
        bus_retry_delay_ms=20,
    )
    async with service_host([SERVICE], clock=clock, settings=settings) as started:
        yield started


@pytest.fixture(scope="session")
def resources(usage_host: ServiceHost) -> Resources:
    return usage_host.resources


@pytest.fixture(scope="session")
def channel(usage_host: ServiceHost) -> grpc.aio.Channel:
    return usage_host.channel


@pytest.fixture(scope="session")
def stub(channel: grpc.aio.Channel) -> usage_service_pb2_grpc.UsageServiceStub:
    return usage_service_pb2_grpc.UsageServiceStub(channel)


@pytest.fixture(scope="session")
async def alerts(resources: Resources) -> EventRecorder:
    """Every usage alert event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("usage-alert-tests", "usage", ("usage.#",), recorder.record)
    )
    return recorder
