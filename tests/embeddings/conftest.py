"""A real server hosting the embeddings service on SQLite and the in-process bus, once per
session (the local model loaded once), with a stub and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from coder.embeddings.v1 import embeddings_service_pb2_grpc
from services.embeddings import SERVICE
from services.kit import Resources
from services.kit.bus import Subscription
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost


@pytest.fixture(scope="session")
async def embeddings_host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    async with service_host([SERVICE]) as started:
        yield started


@pytest.fixture(scope="session")
def resources(embeddings_host: ServiceHost) -> Resources:
    return embeddings_host.resources


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every embeddings event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("embeddings-tests", "embeddings", ("embeddings.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
def stub(embeddings_host: ServiceHost) -> embeddings_service_pb2_grpc.EmbeddingsServiceStub:
    return embeddings_service_pb2_grpc.EmbeddingsServiceStub(embeddings_host.channel)
