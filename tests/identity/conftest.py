"""A real server hosting identity (and planning, for end-to-end access checks) on SQLite and
the in-process bus, once per session; and a factory of short-lived identity servers on a
ManualClock for the tests that move time."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services import planning
from services.identity import IdentitySettings, definition
from services.kit import (
    Host,
    KeySource,
    ManualClock,
    Resources,
    TokenVerifier,
)
from services.kit.bus import Subscription
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import host_settings, service_host
from tests.fixtures.tokens import AUDIENCE, ISSUER


def identity_settings(**overrides: object) -> IdentitySettings:
    """Test settings: cheap argon2 parameters (the policy, not the cost, is under test), a
    fixed master key, and a small session cap."""
    values: dict[str, object] = {
        "master_key": base64.b64encode(os.urandom(32)).decode(),
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "max_sessions": 3,
    }
    values.update(overrides)
    return IdentitySettings(**values)  # type: ignore[arg-type]


async def publish_jwks(stub: IdentityServiceStub, path: Path) -> str:
    """Write identity's JWKS where the host's verifier reads it (as the edge would serve it)."""
    reply: api.GetJwksResponse = await stub.GetJwks(api.GetJwksRequest())
    await asyncio.to_thread(path.write_text, reply.jwks_json)
    return reply.jwks_json


@dataclass
class IdentityServer:
    """A running server with its stubs."""

    host: Host
    resources: Resources
    identity: IdentityServiceStub
    planning: PlanningServiceStub
    jwks_file: Path


@asynccontextmanager
async def running(
    directory: Path,
    settings: IdentitySettings,
    *,
    clock: ManualClock | None = None,
    events: EventRecorder | None = None,
) -> AsyncIterator[IdentityServer]:
    jwks_file = directory / "jwks.json"
    verifier = TokenVerifier(
        KeySource(path=jwks_file, min_refresh_seconds=0), issuer=ISSUER, audience=AUDIENCE
    )
    definitions = [definition(settings), planning.SERVICE]
    async with service_host(
        definitions, directory, verifier=verifier, clock=clock, settings=host_settings(directory)
    ) as started:
        if events is not None:
            await started.resources.bus.subscribe(
                Subscription("identity-tests", "identity", ("identity.#",), events.record)
            )
        identity = IdentityServiceStub(started.channel)
        await publish_jwks(identity, jwks_file)
        yield IdentityServer(
            started.host,
            started.resources,
            identity,
            PlanningServiceStub(started.channel),
            jwks_file,
        )


@pytest.fixture(scope="session")
def events() -> EventRecorder:
    return EventRecorder()


@pytest.fixture(scope="session")
async def server(
    tmp_path_factory: pytest.TempPathFactory, events: EventRecorder
) -> AsyncIterator[IdentityServer]:
    directory = tmp_path_factory.mktemp("identity")
    async with running(directory, identity_settings(), events=events) as started:
        yield started


@pytest.fixture(scope="session")
def stub(server: IdentityServer) -> IdentityServiceStub:
    return server.identity


TimedServer = Callable[..., AbstractAsyncContextManager[IdentityServer]]


@pytest.fixture
def timed_server(tmp_path: Path) -> TimedServer:
    """`async with timed_server(clock, **settings) as server:` — a server of the test's own
    on a ManualClock (tokens it mints follow that clock, so the session server stays apart)."""

    def start(
        clock: ManualClock, **overrides: object
    ) -> AbstractAsyncContextManager[IdentityServer]:
        return running(tmp_path, identity_settings(**overrides), clock=clock)

    return start


def manual_clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))
