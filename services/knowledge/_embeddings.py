"""The knowledge base's semantic index, kept in the Embeddings service.

One collection per organization, `knowledge-pages` (local model, Markdown-aware chunking),
created by the first page indexed. Each live page is one document `page:<id>` (title, Markdown
and runbook steps; metadata `spaceId`, `pageId`), upserted when a `knowledge.page.*` event
says it changed and deleted when it is trashed or purged. The consumer reads the page's
current state from the store rather than the event's payload, so redelivered or reordered
events converge on the same index: upserting unchanged content embeds nothing (Embeddings
compares the content hash) and deleting an absent document is a no-op, which makes the
consumer idempotent without an inbox.

Indexing calls carry a token delegated by the event's actor (narrowed to the embeddings
permissions it needs); searches carry the caller's token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TypeVar

import grpc
from google.protobuf import struct_pb2

from coder.embeddings.v1 import embeddings_service_pb2 as embeddings
from coder.embeddings.v1 import resources_pb2
from coder.embeddings.v1.embeddings_service_pb2_grpc import EmbeddingsServiceStub
from coder.events.v1 import event_pb2
from coder.knowledge.v1 import knowledge_pb2
from services.kit import AlreadyExists, NotFound, Peers, domain_error, get_logger
from services.knowledge.repository import KnowledgeRepository

COLLECTION = "knowledge-pages"
INDEXING_SCOPE = (
    "embeddings.collection.read embeddings.collection.write "
    "embeddings.document.write embeddings.document.delete"
)
_log = get_logger("coder.knowledge")
T = TypeVar("T")


async def _answered(call: Awaitable[T]) -> T:
    """The peer's answer; its refusal as the kit's error (code and reason kept)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        raise domain_error(error) from None


def document_id(page_id: str) -> str:
    return f"page:{page_id}"


def page_id_of(document: str) -> str:
    return document.removeprefix("page:")


def indexed_text(page: knowledge_pb2.Page) -> str:
    """What is embedded of a page: its title as a heading, its Markdown, its steps."""
    steps = "".join(f"\n{n}. {step.text}" for n, step in enumerate(page.steps, 1))
    return f"# {page.title}\n\n{page.markdown}\n{steps}".rstrip() + "\n"


class EmbeddingsIndex:
    """Pages in Embeddings: `reindex` for the consumer, `nearest` for SearchPages."""

    def __init__(self, repository: KnowledgeRepository, peers: Peers) -> None:
        self._repository = repository
        self._peers = peers
        self._collections: dict[str, str] = {}

    async def _find(self, stub: EmbeddingsServiceStub, organization_id: str) -> str:
        """The organization's collection id, or empty when it has none yet."""
        if organization_id in self._collections:
            return self._collections[organization_id]
        token = ""
        while True:
            page: embeddings.ListCollectionsResponse = await _answered(
                stub.ListCollections(
                    embeddings.ListCollectionsRequest(page_size=1000, page_token=token)
                )
            )
            for collection in page.collections:
                if collection.name == COLLECTION:
                    self._collections[organization_id] = collection.id
                    return collection.id
            token = page.next_page_token
            if not token:
                return ""

    async def _collection(self, stub: EmbeddingsServiceStub, organization_id: str) -> str:
        """The organization's collection, created when missing (a lost race finds the
        winner's)."""
        found = await self._find(stub, organization_id)
        if found:
            return found
        request = embeddings.CreateCollectionRequest(
            collection=resources_pb2.Collection(
                name=COLLECTION,
                description="Pages of the knowledge base, for search by meaning",
                provider=resources_pb2.PROVIDER_LOCAL,
                chunking=resources_pb2.ChunkingPolicy(markdown=True),
            )
        )
        try:
            created: embeddings.CreateCollectionResponse = await _answered(
                stub.CreateCollection(request)
            )
        except AlreadyExists:
            return await self._find(stub, organization_id)
        self._collections[organization_id] = created.collection.id
        return created.collection.id

    async def reindex(self, event: event_pb2.Event) -> None:
        """Bring the event's page up to date in the index: upserted when live, deleted
        otherwise."""
        organization_id, page_id = event.organization_id, event.subject
        stored = await self._repository.stored_page(organization_id, page_id)
        page = None if stored is None or stored.trashed else stored.page
        stub = await self._peers.stub(
            EmbeddingsServiceStub, on_behalf_of=event, scope=INDEXING_SCOPE
        )
        try:
            await self._apply(stub, organization_id, page_id, page)
        except NotFound:
            # The collection went (deleted through Embeddings): forget it and start again.
            self._collections.pop(organization_id, None)
            await self._apply(stub, organization_id, page_id, page)

    async def _apply(
        self,
        stub: EmbeddingsServiceStub,
        organization_id: str,
        page_id: str,
        page: knowledge_pb2.Page | None,
    ) -> None:
        if page is None:
            collection = await self._find(stub, organization_id)
            if collection:
                await _answered(
                    stub.DeleteDocument(
                        embeddings.DeleteDocumentRequest(
                            collection_id=collection, document_id=document_id(page_id)
                        )
                    )
                )
            return
        metadata = struct_pb2.Struct()
        metadata.update({"spaceId": page.space_id, "pageId": page.id})
        collection = await self._collection(stub, organization_id)
        await _answered(
            stub.UpsertDocuments(
                embeddings.UpsertDocumentsRequest(
                    collection_id=collection,
                    documents=[
                        resources_pb2.DocumentInput(
                            id=document_id(page.id),
                            content=indexed_text(page),
                            title=page.title[:500],
                            metadata=metadata,
                        )
                    ],
                )
            )
        )
        _log.info("knowledge.page_indexed", page_id=page.id, organization_id=organization_id)

    async def nearest(
        self, organization_id: str, text: str, space_ids: Sequence[str], k: int
    ) -> list[str]:
        """Page ids nearest in meaning to `text` among the spaces, best first (a page's best
        chunk ranks it); none while the organization has no collection."""
        stub = await self._peers.stub(EmbeddingsServiceStub)
        collection = await self._find(stub, organization_id)
        if not collection:
            return []
        condition = resources_pb2.Condition(field="spaceId")
        getattr(condition, "in").extend(space_ids)  # `in` is a Python keyword
        try:
            answer: embeddings.SearchResponse = await _answered(
                stub.Search(
                    embeddings.SearchRequest(
                        collection_id=collection,
                        query=text[:10000],
                        k=min(k, 100),
                        filter=resources_pb2.Filter(conditions=[condition]),
                        mode=embeddings.SEARCH_MODE_VECTOR,
                    )
                )
            )
        except NotFound:
            self._collections.pop(organization_id, None)
            return []
        found: dict[str, None] = {}
        for hit in answer.hits:
            found.setdefault(page_id_of(hit.chunk.document_id))
        return list(found)
