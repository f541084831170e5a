"""A PROVIDER_AI_SERVICE collection embeds through the AI Service's CreateEmbeddings (a peer
call with the caller's token), which meters it; the embeddings service then reports no usage
of its own. The AI Service talks to a local server speaking OpenAI's embeddings API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from coder.ai.v1 import ai_service_pb2_grpc
from coder.ai.v1 import resources_pb2 as ai_resources
from coder.embeddings.v1 import embeddings_service_pb2_grpc, resources_pb2
from coder.usage.v1 import usage_service_pb2_grpc
from services import embeddings, prompt, usage
from services.ai import definition
from services.kit.bus import Subscription
from tests.ai.conftest import SETTINGS, KeyRing
from tests.ai.factories import Registry
from tests.ai.providers import LocalProvider, local_provider
from tests.conftest import HostFactory
from tests.embeddings.factories import Stub, create_collection, document, ids_of, search, upsert
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import TokenFactory, auth
from tests.usage.factories import meter_total, query, recorded


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[LocalProvider]:
    async with local_provider() as served:
        yield served


@pytest.fixture(scope="module")
async def host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    services = [
        embeddings.SERVICE,
        definition(SETTINGS, credentials=KeyRing()),
        usage.SERVICE,
        prompt.SERVICE,
    ]
    async with service_host(services) as started:
        yield started


async def test_an_ai_service_collection_embeds_through_the_ai_service(
    host: ServiceHost, provider: LocalProvider, token: TokenFactory, org: str
) -> None:
    ai = ai_service_pb2_grpc.AiServiceStub(host.channel)
    registry = Registry(ai, auth(token(org, ("admin",), "admin-1")), provider)
    local = await registry.provider()
    await registry.model(
        "embed-small",
        local,
        capabilities=[ai_resources.CAPABILITY_EMBEDDINGS],
        prices=("0.02", "0", "0"),
    )
    recorder = EventRecorder()
    for domain, usage_type in (
        ("ai", "ai.embedding.completed"),
        ("embeddings", "embeddings.embedding.completed"),
    ):
        await host.resources.bus.subscribe(
            Subscription(f"embeddings-provider-{domain}", domain, (usage_type,), recorder.record)
        )
    stub: Stub = embeddings_service_pb2_grpc.EmbeddingsServiceStub(host.channel)
    member = token(org, ("member",), "member-1")
    collection = await create_collection(
        stub,
        member,
        provider=resources_pb2.PROVIDER_AI_SERVICE,
        model="embed-small",
        dimensions=8,
    )
    reply = await upsert(
        stub, member, collection.id, document("a", "one two"), document("b", "three four five six")
    )
    assert [r.document.chunk_count for r in reply.results] == [1, 1]
    assert reply.embedded_tokens == 6  # as the provider reported them
    assert [s.body["input"] for s in provider.seen("embed-small")] == [
        ["one two", "three four five six"]
    ]
    found = await search(stub, member, collection.id, "seven", k=2)
    assert sorted(ids_of(found)) == ["a", "b"]
    metered = await recorder.settle(org, 2)  # the upsert's call and the query's
    assert [e.type for e in metered] == ["ai.embedding.completed"] * 2


async def test_usage_tracking_meters_the_local_models_tokens(
    host: ServiceHost, token: TokenFactory, org: str
) -> None:
    stub: Stub = embeddings_service_pb2_grpc.EmbeddingsServiceStub(host.channel)
    member = token(org, ("member",), "member-2")
    collection = await create_collection(stub, member, "local")
    reply = await upsert(stub, member, collection.id, document("a", "Tokens are metered."))
    await recorded(host.resources, org, 1)
    usage_stub = usage_service_pb2_grpc.UsageServiceStub(host.channel)
    found = await query(
        usage_stub, token(org, ("admin",), "admin-1"), category="embeddings.embedding"
    )
    assert meter_total(found, "embeddings.embedding.input_tokens") == reply.embedded_tokens
    assert meter_total(found, "embeddings.embedding.requests") == 1


async def test_a_model_the_ai_service_no_longer_has_fails_the_precondition_not_the_lookup(
    host: ServiceHost, token: TokenFactory, org: str
) -> None:
    # The collection is there; what is missing is the AI Service's model, so the answer is not
    # a 404 for the collection the caller just created.
    stub: Stub = embeddings_service_pb2_grpc.EmbeddingsServiceStub(host.channel)
    member = token(org, ("member",), "member-3")
    collection = await create_collection(
        stub,
        member,
        provider=resources_pb2.PROVIDER_AI_SERVICE,
        model="never-registered",
        dimensions=8,
    )
    error = await rpc_error(
        search(stub, member, collection.id, "anything", k=2), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert "never-registered" in (error.details() or "")
    assert error_reason(error) == "MODEL_NOT_FOUND"
