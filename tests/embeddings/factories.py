"""Factories of the embeddings tests: collections, documents, searches, filters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format, struct_pb2

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from coder.embeddings.v1.embeddings_service_pb2_grpc import EmbeddingsServiceStub
from tests.fixtures.tokens import auth

Stub = EmbeddingsServiceStub


def value(raw: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(raw, message)
    return message


def document(
    id: str,
    content: str,
    *,
    title: str = "",
    metadata: dict[str, Any] | None = None,
    tags: Sequence[str] = (),
) -> resources_pb2.DocumentInput:
    given = resources_pb2.DocumentInput(id=id, content=content, title=title, tags=tags)
    if metadata:
        given.metadata.update(metadata)
    return given


async def create_collection(
    stub: Stub, token: str, name: str = "docs", **fields: Any
) -> resources_pb2.Collection:
    chunking = fields.pop("chunking", None)
    collection = resources_pb2.Collection(name=name, **fields)
    if chunking is not None:
        collection.chunking.CopyFrom(resources_pb2.ChunkingPolicy(**chunking))
    reply: api.CreateCollectionResponse = await stub.CreateCollection(
        api.CreateCollectionRequest(collection=collection), metadata=auth(token)
    )
    return reply.collection


async def upsert(
    stub: Stub, token: str, collection_id: str, *documents: resources_pb2.DocumentInput
) -> api.UpsertDocumentsResponse:
    reply: api.UpsertDocumentsResponse = await stub.UpsertDocuments(
        api.UpsertDocumentsRequest(collection_id=collection_id, documents=documents),
        metadata=auth(token),
    )
    return reply


async def search(
    stub: Stub,
    token: str,
    collection_id: str,
    query: str,
    *,
    k: int = 10,
    filter: resources_pb2.Filter | None = None,
    hybrid: bool = False,
    min_score: float | None = None,
    highlight: bool = False,
) -> api.SearchResponse:
    request = api.SearchRequest(
        collection_id=collection_id,
        query=query,
        k=k,
        mode=api.SEARCH_MODE_HYBRID if hybrid else api.SEARCH_MODE_VECTOR,
        highlight=highlight,
    )
    if filter is not None:
        request.filter.CopyFrom(filter)
    if min_score is not None:
        request.min_score = min_score
    reply: api.SearchResponse = await stub.Search(request, metadata=auth(token))
    return reply


def equals(field: str, raw: Any) -> resources_pb2.Condition:
    return resources_pb2.Condition(field=field, equals=value(raw))


def one_of(field: str, *raw: Any) -> resources_pb2.Condition:
    listed = struct_pb2.ListValue()
    listed.extend(raw)
    condition = resources_pb2.Condition(field=field)
    getattr(condition, "in").CopyFrom(listed)  # `in` is a Python keyword
    return condition


def between(field: str, **bounds: Any) -> resources_pb2.Condition:
    return resources_pb2.Condition(
        field=field,
        range=resources_pb2.Range(**{name: value(raw) for name, raw in bounds.items()}),
    )


def ids_of(reply: api.SearchResponse) -> list[str]:
    return [hit.chunk.document_id for hit in reply.hits]
