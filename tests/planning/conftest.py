"""A real server hosting the planning service on SQLite and the in-process bus, once per
session, with a stub and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from coder.planning.v1 import planning_service_pb2_grpc
from services.kit import Host, Resources
from services.kit.bus import Subscription
from services.planning import SERVICE
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost


@pytest.fixture(scope="session")
async def planning_host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    async with service_host([SERVICE]) as started:
        yield started


@pytest.fixture(scope="session")
def resources(planning_host: ServiceHost) -> Resources:
    return planning_host.resources


@pytest.fixture(scope="session")
def host(planning_host: ServiceHost) -> Host:
    return planning_host.host


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every planning event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("planning-tests", "planning", ("planning.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
def channel(planning_host: ServiceHost) -> grpc.aio.Channel:
    return planning_host.channel


@pytest.fixture(scope="session")
def stub(channel: grpc.aio.Channel) -> planning_service_pb2_grpc.PlanningServiceStub:
    return planning_service_pb2_grpc.PlanningServiceStub(channel)
