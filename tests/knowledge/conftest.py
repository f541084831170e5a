"""A real server hosting the knowledge service on SQLite and the in-process bus, once per
session, with a stub and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coder.knowledge.v1 import knowledge_service_pb2_grpc
from services.kit import Resources
from services.kit.bus import Subscription
from services.knowledge import KnowledgeSettings, definition
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost


@pytest.fixture(scope="session")
async def knowledge_host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    async with service_host([definition(KnowledgeSettings(semantic=False))]) as started:
        yield started


@pytest.fixture(scope="session")
def resources(knowledge_host: ServiceHost) -> Resources:
    return knowledge_host.resources


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every knowledge event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("knowledge-tests", "knowledge", ("knowledge.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
def stub(knowledge_host: ServiceHost) -> knowledge_service_pb2_grpc.KnowledgeServiceStub:
    return knowledge_service_pb2_grpc.KnowledgeServiceStub(knowledge_host.channel)
