"""A real server hosting the secret service on SQLite, the in-process bus and cache, with a
clock the tests move and a local key ring, once per session; stubs for callers of each kind,
a recorder of the events it publishes, and the scan that fails the session if any log line
held a value the tests stored."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import grpc
import pytest

from coder.secret.v1.secret_service_pb2_grpc import SecretServiceStub
from services.kit import KeySource, ManualClock, Resources, Settings, TokenVerifier, jwks
from services.kit.bus import Subscription
from services.secret import SecretSettings, definition
from services.secret._envelope import Envelope
from services.secret._keys import LocalKeyRing
from services.secret._teams import IdentityTeams
from services.secret.repository import SecretRepositories
from services.secret.service import SecretDomain
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.log_scan import LogScan
from tests.fixtures.tokens import AUDIENCE, ISSUER, TokenFactory, auth
from tests.secret.factories import Secrets

START = datetime(2026, 3, 14, 10, 30, tzinfo=UTC)
SETTINGS = SecretSettings(sweep_seconds=3600)


@pytest.fixture(scope="package", autouse=True)
def log_scan() -> Iterator[LogScan]:
    """Every log line of these tests; at their end, none may hold a value a test stored.
    Package-scoped: other packages' tests (run later in the same worker) log their own
    values, which may well share a string with a secret here."""
    with LogScan().installed() as scan:
        yield scan
    scan.assert_clean()


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="session")
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture(scope="session")
def key_ring(master_key: bytes) -> LocalKeyRing:
    return LocalKeyRing([master_key])


def domain_verifier(token: TokenFactory) -> TokenVerifier:
    """Accepts the factory's tokens and delegated tokens bound to a domain, as a service's."""
    return TokenVerifier(
        KeySource(jwks=jwks([token.key])),
        issuer=ISSUER,
        audience=AUDIENCE,
        domain_audiences=True,
    )


@pytest.fixture(scope="session")
async def secret_host(
    service_host: HostFactory,
    token: TokenFactory,
    clock: ManualClock,
    key_ring: LocalKeyRing,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServiceHost]:
    directory = tmp_path_factory.mktemp("secret")
    settings = Settings(
        data_dir=directory,
        store_url=f"sqlite:///{directory / 'store.db'}",
        bus_url="memory://",
        cache_url="memory://",
    )
    service = definition(SETTINGS, key_ring=key_ring)
    async with service_host(
        [service], clock=clock, settings=settings, verifier=domain_verifier(token)
    ) as started:
        yield started


@pytest.fixture(scope="session")
def resources(secret_host: ServiceHost) -> Resources:
    return secret_host.resources


@pytest.fixture(scope="session")
def domain(resources: Resources, key_ring: LocalKeyRing, clock: ManualClock) -> SecretDomain:
    """The service's parts over the host's store, for the sweep the tests drive."""
    return SecretDomain.build(
        SecretRepositories.open(resources.store, resources.relay),
        Envelope(key_ring),
        IdentityTeams(resources.peers, clock),
        clock,
        SETTINGS,
    )


@pytest.fixture(scope="session")
def stub(secret_host: ServiceHost) -> SecretServiceStub:
    return SecretServiceStub(secret_host.channel)


@pytest.fixture
def as_user(
    stub: SecretServiceStub, token: TokenFactory, org: str, log_scan: LogScan
) -> Callable[..., Secrets]:
    """`as_user("user-a", roles=("member",))`: calls as that user of the test's organization."""

    def make(sub: str = "user-a", roles: tuple[str, ...] = ("member",)) -> Secrets:
        return Secrets(stub, auth(token(org=org, roles=roles, sub=sub)), log_scan)

    return make


@pytest.fixture
def member(as_user: Callable[..., Secrets]) -> Secrets:
    return as_user("user-a")


@pytest.fixture
def admin(as_user: Callable[..., Secrets]) -> Secrets:
    return as_user("admin-1", roles=("admin",))


@pytest.fixture(scope="session")
async def published(resources: Resources) -> EventRecorder:
    """Every secret event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("secret-event-tests", "secret", ("secret.#",), recorder.record)
    )
    return recorder


@pytest.fixture
def grpc_channel(secret_host: ServiceHost) -> grpc.aio.Channel:
    return secret_host.channel
