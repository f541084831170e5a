"""A real Host (Planning + Ops) on SQLite and the in-process bus, and the edge in front of it on
a real uvicorn server, once per session; an HTTP client and a token factory."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from edge import EdgeSettings, create_app
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
from services.planning import SERVICE
from tests.planning.factories import TokenFactory

ISSUER = "coder"
AUDIENCE = "coder-api"
BODY_LIMIT = 64 * 1024


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def verifier(signing_key: SigningKey) -> TokenVerifier:
    return TokenVerifier(KeySource(jwks=jwks([signing_key])), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
async def resources(
    tmp_path_factory: pytest.TempPathFactory, verifier: TokenVerifier
) -> AsyncIterator[Resources]:
    data_dir = tmp_path_factory.mktemp("edge")
    settings = Settings(
        data_dir=data_dir,
        store_url=f"sqlite:///{data_dir / 'edge.db'}",
        bus_url="memory://",
        cache_url="memory://",
    )
    async with open_resources(settings, [SERVICE], verifier=verifier) as opened:
        yield opened


@pytest.fixture(scope="session")
async def host(resources: Resources) -> AsyncIterator[Host]:
    server = Host([SERVICE], resources, port=0, readiness_interval=0.2)
    await server.start()
    await server.wait_ready()
    yield server
    await server.stop(grace=0)


@pytest.fixture(scope="session")
def edge_settings(host: Host) -> EdgeSettings:
    return EdgeSettings(
        grpc_target=f"127.0.0.1:{host.port}",
        body_limit_bytes=BODY_LIMIT,
        heartbeat_seconds=0.2,
        deadline_seconds=10.0,
    )


def free_socket() -> socket.socket:
    # The protocol must be named: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says IPPROTO_TCP, and without it every response waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serving(settings: EdgeSettings, verifier: TokenVerifier | None) -> AsyncIterator[str]:
    """The edge on a real uvicorn server; yields its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, verifier=verifier),
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="session")
async def base_url(edge_settings: EdgeSettings, verifier: TokenVerifier) -> AsyncIterator[str]:
    async with serving(edge_settings, verifier) as url:
        yield url


@pytest.fixture(scope="session")
async def client(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="session")
def token(signing_key: SigningKey) -> TokenFactory:
    return TokenFactory(signing_key, ISSUER, AUDIENCE)


@pytest.fixture
def org() -> str:
    return f"org-{new_id().lower()}"


@pytest.fixture
def bearer(token: TokenFactory, org: str) -> dict[str, str]:
    """Authorization of a member of the test's own organization."""
    return {"authorization": f"Bearer {token(org=org)}"}


@pytest.fixture(scope="session")
def descriptor_set() -> Path:
    return EdgeSettings().descriptor_set
