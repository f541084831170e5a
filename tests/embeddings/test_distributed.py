"""Distributed mode: the service on Cosmos DB (the Cosmos DB test server) keeps no index of
its own. Chunks carry their vector as the JSON array the container's vector embedding policy
names, collections must fit that policy, and search is Cosmos DB's VectorDistance — which the
test server lacks, so that case is skipped there with the gap named. Hybrid search, which would
need a full-text policy, is refused rather than answered by the vector leg alone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import grpc
import pytest

from coder.embeddings.v1 import embeddings_service_pb2_grpc, resources_pb2
from services.embeddings import SERVICE
from services.embeddings.repository import CHUNKS
from services.kit.store import Query
from tests.conftest import HostFactory
from tests.embeddings.factories import Stub, create_collection, document, search, upsert
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.hosts import ServiceHost, host_settings
from tests.fixtures.tokens import TokenFactory
from tests.kit.store.conftest import COSMOS_KEY, cosmos_endpoint

__all__ = ["cosmos_endpoint"]  # fixture used by this module

pytestmark = pytest.mark.cosmos


@pytest.fixture(scope="module")
async def cosmos_host(
    service_host: HostFactory, cosmos_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceHost]:
    address = cosmos_endpoint.removeprefix("http://").rstrip("/")
    url = f"cosmos://{address}/embeddings-{uuid.uuid4().hex[:8]}?tls=false&key={quote(COSMOS_KEY)}"
    directory: Path = tmp_path_factory.mktemp("cosmos-host")
    async with service_host([SERVICE], settings=host_settings(directory, store_url=url)) as host:
        yield host


@pytest.fixture
def stub(cosmos_host: ServiceHost) -> Stub:
    return embeddings_service_pb2_grpc.EmbeddingsServiceStub(cosmos_host.channel)


async def test_chunks_carry_the_vector_array_the_policy_indexes(
    stub: Stub, cosmos_host: ServiceHost, token: TokenFactory, org: str
) -> None:
    member = token(org)
    collection = await create_collection(stub, member)
    page = document("p", "Cosmos DB indexes this vector.", metadata={"team": "data"})
    await upsert(stub, member, collection.id, page)
    again = await upsert(stub, member, collection.id, page)
    assert again.results[0].outcome == 2  # UPSERT_OUTCOME_UNCHANGED
    chunks = cosmos_host.resources.store.container(CHUNKS)
    assert chunks.spec.vector is not None and chunks.spec.vector.dimensions == 384
    (stored,) = (await chunks.query(Query(), partition=org)).items
    assert len(stored["embedding"]) == 384
    assert stored["meta"] == {"team": "data"} and stored["documentId"] == "p"


async def test_collections_must_fit_the_vector_policy(
    stub: Stub, token: TokenFactory, org: str
) -> None:
    error = await rpc_error(
        create_collection(
            stub,
            token(org),
            provider=resources_pb2.PROVIDER_AI_SERVICE,
            model="text-embedding-3-small",
            dimensions=1536,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
    )
    assert error_reason(error) == "VECTOR_POLICY_MISMATCH"


async def test_hybrid_search_and_several_tags_any_are_refused(
    stub: Stub, token: TokenFactory, org: str
) -> None:
    member = token(org)
    collection = await create_collection(stub, member)
    error = await rpc_error(
        search(stub, member, collection.id, "x", hybrid=True), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert error_reason(error) == "HYBRID_UNAVAILABLE"
    filter = resources_pb2.Filter(tags_any=["a", "b"])
    error = await rpc_error(
        search(stub, member, collection.id, "x", filter=filter), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert violated_fields(error) == {"filter.tags_any"}


async def test_vector_search_runs_on_cosmos_db() -> None:
    pytest.skip(
        "cosmosdb-server has no VectorDistance: the query (SELECT TOP @k c, VectorDistance(c"
        ".embedding, @v) ... ORDER BY VectorDistance(...), filter in the WHERE) runs on Azure"
        " Cosmos DB only"
    )
