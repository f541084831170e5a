"""One Planning host behind both front doors: the FastAPI edge on a real uvicorn server and
Envoy (started as tests/deploy does), with a stand-in JWKS server for Envoy's jwt_authn. The
edge and Envoy see the same host, the same signing key and the same descriptor set."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from edge import EdgeSettings
from services.deploy import EnvoyOptions
from services.kit import Host, SigningKey, jwks
from tests.deploy.conftest import running_envoy, running_planning_host, stand_in
from tests.edge.conftest import serving
from tests.fixtures.tokens import AUDIENCE, ISSUER, TokenFactory


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
async def planning_host(
    signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Host]:
    async with running_planning_host(signing_key, tmp_path_factory.mktemp("parity")) as host:
        yield host


@pytest.fixture(scope="session")
def token(signing_key: SigningKey) -> TokenFactory:
    return TokenFactory(signing_key, ISSUER, AUDIENCE)


@pytest.fixture(scope="session")
async def jwks_url(signing_key: SigningKey) -> AsyncIterator[str]:
    """A stand-in for the edge's `/.well-known/jwks.json` (the edge under test issues no
    tokens here): Envoy fetches the test key from it."""
    document = jwks([signing_key])

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(document)

    async for url in stand_in("jwks", [web.get("/.well-known/jwks.json", keys)]):
        yield url


@pytest.fixture(scope="session")
async def edge_url(planning_host: Host, jwks_url: str) -> AsyncIterator[str]:
    settings = EdgeSettings(
        grpc_target=f"127.0.0.1:{planning_host.port}",
        jwks_url=f"{jwks_url}/.well-known/jwks.json",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        deadline_seconds=10.0,
    )
    async with serving(settings, None) as url:
        yield url


@pytest.fixture(scope="session")
async def envoy_url(
    planning_host: Host, jwks_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    options = EnvoyOptions(embedded_port=planning_host.port, edge_url=jwks_url, ui_url=jwks_url)
    async with running_envoy(tmp_path_factory.mktemp("parity-envoy"), options) as envoy:
        yield envoy.url
