"""The suite as a user meets it: every implemented service (the catalog) on one gRPC host, the
edge in front of it on a real port, every backend embedded."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from edge import EdgeSettings, create_app
from edge.server import server_config
from services import catalog
from services.deploy import EnvoyOptions
from services.kit import Host, Resources, Settings, open_resources
from tests.deploy.conftest import running_envoy
from tests.fixtures.temporal import TemporalDevServer


@pytest.fixture(scope="module")
async def resources(
    tmp_path_factory: pytest.TempPathFactory, temporal_server: TemporalDevServer
) -> AsyncIterator[Resources]:
    directory: Path = tmp_path_factory.mktemp("integration")
    settings = Settings(
        data_dir=directory,
        store_url=f"sqlite:///{directory / 'suite.db'}",
        bus_url="memory://",
        cache_url="memory://",
        temporal_url=temporal_server.url,
    )
    async with open_resources(settings, catalog.load_all()) as opened:
        yield opened


@pytest.fixture(scope="module")
async def host(resources: Resources) -> AsyncIterator[Host]:
    served = Host(catalog.load_all(), resources, readiness_interval=0.2)
    await served.start()
    await served.wait_ready()
    yield served
    await served.stop(0.5)


@pytest.fixture(scope="module")
async def edge_url(host: Host) -> AsyncIterator[str]:
    # A TCP socket named as such, so asyncio sets TCP_NODELAY on accepted connections.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = EdgeSettings(
        grpc_target=f"127.0.0.1:{host.port}",
        port=port,
        cookie_secure=False,
        auth_login_limit=1_000,
        api_user_limit=10_000,
        api_organization_limit=10_000,
    )
    server = uvicorn.Server(server_config(create_app(settings), settings, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not task.done(), "the edge stopped while starting"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def browser(edge_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser tab does."""
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
async def envoy_url(
    host: Host, edge_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """Envoy in front of the same host, verifying tokens with the edge's JWKS (which serves
    the identity service's key ring)."""
    options = EnvoyOptions(embedded_port=host.port, edge_url=edge_url, ui_url=edge_url)
    async with running_envoy(tmp_path_factory.mktemp("integration-envoy"), options) as envoy:
        yield envoy.url
