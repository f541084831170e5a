"""Fixtures every test package shares: a signing key and token factory, hosts of any set of
services, and an organization of the test's own. Helpers by concern live in tests/fixtures/."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from services.kit import ServiceDefinition, SigningKey, new_id
from tests.fixtures.hosts import ServiceHost, host_settings
from tests.fixtures.hosts import service_host as start_service_host
from tests.fixtures.temporal import TemporalDevServer
from tests.fixtures.tokens import TokenFactory

HostFactory = Callable[..., AbstractAsyncContextManager[ServiceHost]]


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def token(signing_key: SigningKey) -> TokenFactory:
    """Mints tokens the hosts of `service_host` accept."""
    return TokenFactory(signing_key)


@pytest.fixture(scope="session")
def service_host(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, token: TokenFactory
) -> HostFactory:
    """`async with service_host([SERVICE, ...]) as host:` — the services on a real gRPC host
    (SQLite, in-process bus and cache unless `settings=` says otherwise), accepting `token`'s
    tokens unless a `verifier=` is given; `temporal=True` points it at the session's Temporal
    dev server (for services with durable workers)."""

    def start(
        definitions: Sequence[ServiceDefinition], *, temporal: bool = False, **options: object
    ) -> AbstractAsyncContextManager[ServiceHost]:
        directory: Path = tmp_path_factory.mktemp("host")
        options.setdefault("verifier", token.verifier())
        if temporal and "settings" not in options:
            server: TemporalDevServer = request.getfixturevalue("temporal_server")
            options["settings"] = host_settings(directory, temporal_url=server.url)
        return start_service_host(definitions, directory, **options)  # type: ignore[arg-type]

    return start


@pytest.fixture
def org() -> str:
    """An organization of the test's own, so listings see only what the test made."""
    return f"org-{new_id().lower()}"


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    """Temporal's dev server for the session (one per xdist worker), started on first use.
    Tests that stop or restart a server start their own `TemporalDevServer`."""
    with TemporalDevServer(tmp_path_factory.mktemp("temporal")) as server:
        yield server
