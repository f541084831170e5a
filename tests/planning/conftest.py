"""A real server hosting the planning service on SQLite and the in-process bus, once per
session, with a channel, a stub, a token factory and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from coder.planning.v1 import planning_service_pb2_grpc
from services.kit import (
    Host,
    KeySource,
    Resources,
    Settings,
    SigningKey,
    TokenVerifier,
    jwks,
    new_id,
    open_resources,
)
from services.kit.bus import Subscription
from services.planning import SERVICE
from tests.planning.factories import EventRecorder, TokenFactory

ISSUER = "coder"
AUDIENCE = "coder-api"


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("planning")


@pytest.fixture(scope="session")
async def resources(signing_key: SigningKey, data_dir: Path) -> AsyncIterator[Resources]:
    settings = Settings(
        data_dir=data_dir,
        store_url=f"sqlite:///{data_dir / 'x.db'}",
        bus_url="memory://",
        cache_url="memory://",
    )
    verifier = TokenVerifier(KeySource(jwks=jwks([signing_key])), issuer=ISSUER, audience=AUDIENCE)
    async with open_resources(settings, [SERVICE], verifier=verifier) as opened:
        yield opened


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every planning event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("planning-tests", "planning", ("planning.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
async def host(resources: Resources, events: EventRecorder) -> AsyncIterator[Host]:
    server = Host([SERVICE], resources, port=0, readiness_interval=0.2)
    await server.start()
    await server.wait_ready()
    yield server
    await server.stop(grace=0)


@pytest.fixture(scope="session")
async def channel(host: Host) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as opened:
        yield opened


@pytest.fixture(scope="session")
def stub(channel: grpc.aio.Channel) -> planning_service_pb2_grpc.PlanningServiceStub:
    return planning_service_pb2_grpc.PlanningServiceStub(channel)


@pytest.fixture(scope="session")
def token(signing_key: SigningKey) -> TokenFactory:
    return TokenFactory(signing_key, ISSUER, AUDIENCE)


@pytest.fixture
def org() -> str:
    """An organization of the test's own, so listings see only what the test made."""
    return f"org-{new_id().lower()}"
