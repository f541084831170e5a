"""A real server hosting the AI service with Usage Tracking and Prompt Management beside it
(SQLite, the in-process bus and cache), a local provider speaking OpenAI's and Anthropic's
wire protocols, stubs, and a recorder of the AI service's events.

Provider keys come from `KeyRing`, a stand-in for Secret Management in these tests (the
end-to-end test in tests/integration reads them from the real secret service)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from coder.ai.v1 import ai_service_pb2_grpc
from coder.prompt.v1 import prompt_service_pb2_grpc
from coder.usage.v1 import usage_service_pb2_grpc
from services import prompt, usage
from services.ai import AiSettings, definition
from services.kit import Principal, Resources
from services.kit.bus import Subscription
from tests.ai.factories import Registry
from tests.ai.providers import LocalProvider, local_provider
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import Metadata, TokenFactory, auth

SETTINGS = AiSettings(
    attempt_timeout_seconds=10,
    max_retries=1,
    max_retry_wait_seconds=1,
    cool_down_seconds=30,
    user_tokens_per_minute=50_000,
)


class KeyRing:
    """Provider keys by secret id, with the reads counted per caller."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.reads: list[tuple[str, str, str]] = []

    async def api_key(self, principal: Principal, secret_id: str) -> str:
        self.reads.append((principal.organization_id, principal.subject, secret_id))
        from services.kit import NotFound

        if secret_id not in self.keys:
            raise NotFound(f"secret {secret_id} not found", reason="SECRET_NOT_FOUND")
        return self.keys[secret_id]


@pytest.fixture(scope="session")
def keys() -> KeyRing:
    return KeyRing()


@pytest.fixture(scope="session")
async def provider() -> AsyncIterator[LocalProvider]:
    async with local_provider() as served:
        yield served


@pytest.fixture(scope="session")
async def ai_host(service_host: HostFactory, keys: KeyRing) -> AsyncIterator[ServiceHost]:
    services = [definition(SETTINGS, credentials=keys), usage.SERVICE, prompt.SERVICE]
    async with service_host(services) as started:
        yield started


@pytest.fixture(scope="session")
def resources(ai_host: ServiceHost) -> Resources:
    return ai_host.resources


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every AI event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(Subscription("ai-tests", "ai", ("ai.#",), recorder.record))
    return recorder


@pytest.fixture(scope="session")
def stub(ai_host: ServiceHost) -> ai_service_pb2_grpc.AiServiceStub:
    return ai_service_pb2_grpc.AiServiceStub(ai_host.channel)


@pytest.fixture(scope="session")
def usage_stub(ai_host: ServiceHost) -> usage_service_pb2_grpc.UsageServiceStub:
    return usage_service_pb2_grpc.UsageServiceStub(ai_host.channel)


@pytest.fixture(scope="session")
def prompt_stub(ai_host: ServiceHost) -> prompt_service_pb2_grpc.PromptServiceStub:
    return prompt_service_pb2_grpc.PromptServiceStub(ai_host.channel)


@pytest.fixture
def admin(token: TokenFactory, org: str) -> Metadata:
    return auth(token(org=org, roles=("admin",), sub="admin-1"))


@pytest.fixture
def member(token: TokenFactory, org: str) -> Metadata:
    return auth(token(org=org, roles=("member",), sub="member-1"))


@pytest.fixture
def registry(
    stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata, provider: LocalProvider
) -> Registry:
    return Registry(stub, admin, provider)


@pytest.fixture
def channel(ai_host: ServiceHost) -> grpc.aio.Channel:
    return ai_host.channel


Factory = Callable[..., object]
