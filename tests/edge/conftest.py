"""A real Host (Planning + Ops) on SQLite and the in-process bus, and the edge in front of it on
a real uvicorn server, once per session; an HTTP client and a token factory. For sign-in: a
second Host with Identity + Planning, a real OIDC provider process, and an edge in front."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from edge import EdgeSettings, create_app
from edge.server import server_config
from services import identity
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
from tests.fixtures.oidc_provider import oidc_provider_process
from tests.fixtures.tokens import AUDIENCE, ISSUER, TokenFactory
from tests.identity.conftest import identity_settings
from tests.kit.cache.conftest import REDIS_URL, _redis_unreachable

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
        # These suites call the API as fast as they can as one user; rate limits have their
        # own tests (test_auth_limits.py).
        api_user_limit=1_000_000,
        api_organization_limit=1_000_000,
        api_ip_limit=1_000_000,
    )


def free_socket() -> socket.socket:
    # The protocol must be named: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says IPPROTO_TCP, and without it every response waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serving(
    settings: EdgeSettings, verifier: TokenVerifier | None, **options: Any
) -> AsyncIterator[str]:
    """The edge on a real uvicorn server, configured as every edge is (`server_config`, with
    `options` on top); yields its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = server_config(
        create_app(settings, verifier=verifier),
        settings,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
        **options,
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


# --- sign-in: identity + planning behind an edge with /auth, and a real OIDC provider --------

OIDC_CLIENT_ID = "coder-edge-tests"
OIDC_CLIENT_SECRET = "edge-secret"
UI_URL = "http://ui.test"


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    """A real OpenID Connect provider (oidc-provider-mock) in its own process."""
    with oidc_provider_process() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def forging_key() -> SigningKey:
    """A key the sign-in host trusts besides identity's own, to mint tokens whose claims
    are wrong in exactly one way (identity would never sign them)."""
    return SigningKey.generate()


@pytest.fixture(scope="session")
async def identity_host(
    tmp_path_factory: pytest.TempPathFactory, forging_key: SigningKey, oidc_issuer: str
) -> AsyncIterator[Host]:
    """Identity + Planning in one Host; identity attaches its key ring to the verifier, so
    the tokens it issues verify in process."""
    data_dir = tmp_path_factory.mktemp("edge-auth")
    providers = json.dumps({"mock": {"issuer": oidc_issuer, "client_id": OIDC_CLIENT_ID}})
    definitions = [
        identity.definition(identity_settings(oidc_providers=providers)),
        SERVICE,
    ]
    verifier = TokenVerifier(
        KeySource(jwks=jwks([forging_key]), min_refresh_seconds=0),
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    settings = Settings(
        data_dir=data_dir,
        store_url=f"sqlite:///{data_dir / 'auth.db'}",
        bus_url="memory://",
        cache_url="memory://",
    )
    async with open_resources(settings, definitions, verifier=verifier) as opened:
        server = Host(definitions, opened, port=0, readiness_interval=0.2)
        await server.start()
        await server.wait_ready()
        yield server
        await server.stop(grace=0)


def auth_edge_settings(identity_host: Host, oidc_issuer: str, **overrides: Any) -> EdgeSettings:
    """Edge settings in front of the sign-in host: the test client's loopback address is a
    trusted proxy, so each test picks its client IP with X-Forwarded-For; Secure cookies
    (tests send them by hand)."""
    providers = {
        "mock": {
            "discoveryUrl": f"{oidc_issuer}/.well-known/openid-configuration",
            "clientId": OIDC_CLIENT_ID,
            "clientSecret": OIDC_CLIENT_SECRET,
        }
    }
    values: dict[str, Any] = {
        "grpc_target": f"127.0.0.1:{identity_host.port}",
        "deadline_seconds": 10.0,
        "trusted_proxies": "127.0.0.1/32",
        "ui_url": UI_URL,
        "oidc_providers": json.dumps(providers),
    }
    values.update(overrides)
    return EdgeSettings(**values)


@pytest.fixture(scope="session")
async def auth_base_url(identity_host: Host, oidc_issuer: str) -> AsyncIterator[str]:
    """The edge in front of the sign-in host, verifying tokens with identity's GetJwks."""
    async with serving(auth_edge_settings(identity_host, oidc_issuer), None) as url:
        yield url


@pytest.fixture
def client_ip() -> str:
    """An address of the test's own, so per-IP limits of one test leave the others alone."""
    number = int(new_id()[-6:], 36) % (1 << 24)
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


@pytest.fixture
async def auth_client(auth_base_url: str, client_ip: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"x-forwarded-for": client_ip, "user-agent": "edge-tests/1.0"}
    async with httpx.AsyncClient(base_url=auth_base_url, headers=headers, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The real Redis of the kit's cache tests (`CODER_TEST_REDIS_URL`); skipped on a laptop
    without one, a failure under CI."""
    problem = _redis_unreachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return REDIS_URL
