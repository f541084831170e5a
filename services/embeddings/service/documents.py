"""Documents: upsert a batch now, read, list, delete by source id."""

from __future__ import annotations

from collections.abc import Sequence

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from services.embeddings._index import CollectionIndex
from services.embeddings._mapping import StoredChunk, StoredDocument, chunk_proto, document_key
from services.embeddings._providers import Embedders
from services.embeddings.events import EmbeddingsEvents
from services.embeddings.repository import EmbeddingsRepository
from services.embeddings.service.collections import CollectionService
from services.embeddings.service.indexes import Indexes
from services.embeddings.service.indexing import Indexer, Target, check_inputs
from services.kit import Clock, NotFound, PageRequest, current_principal


class DocumentService:
    """The documents of the organization's collections."""

    def __init__(
        self,
        repository: EmbeddingsRepository,
        collections: CollectionService,
        indexer: Indexer,
        embedders: Embedders,
        indexes: Indexes | None,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._collections = collections
        self._indexer = indexer
        self._embedders = embedders
        self._indexes = indexes
        self._clock = clock

    async def upsert(
        self, collection_id: str, documents: Sequence[resources_pb2.DocumentInput]
    ) -> api.UpsertDocumentsResponse:
        principal = current_principal()
        check_inputs(documents)
        collection = await self._collections.require(principal.organization_id, collection_id)
        target = Target(
            principal.organization_id,
            collection,
            self._embedders.for_collection(
                collection.provider, collection.model, collection.dimensions
            ),
            EmbeddingsEvents.acting(principal, self._clock),
        )
        indexed = await self._indexer.index(target, documents)
        return api.UpsertDocumentsResponse(
            results=indexed.results, embedded_tokens=indexed.embedded_tokens
        )

    async def get(
        self, collection_id: str, document_id: str, with_chunks: bool
    ) -> tuple[resources_pb2.Document, list[resources_pb2.Chunk]]:
        partition = current_principal().organization_id
        collection = await self._collections.require(partition, collection_id)
        stored = await self._repository.document(
            partition, document_key(collection_id, document_id)
        )
        if stored is None:
            raise NotFound(f"no document {document_id!r}", reason="DOCUMENT_NOT_FOUND")
        chunks: list[resources_pb2.Chunk] = []
        if with_chunks:
            for body in await self._repository.chunks(partition, stored):
                chunk = StoredChunk.of(body, collection.dimensions)
                chunks.append(chunk_proto(chunk.indexed(stored)))
        return stored.proto(), chunks

    async def list(
        self, request: api.ListDocumentsRequest
    ) -> tuple[list[resources_pb2.Document], str]:
        partition = current_principal().organization_id
        await self._collections.require(partition, request.collection_id)
        page_request = PageRequest.of(request, partition)
        page = await self._repository.page_documents(
            partition, request.collection_id, page_request.size, page_request.continuation
        )
        documents = [StoredDocument.of(found).proto() for found in page.items]
        return documents, page_request.seal(page.continuation)

    async def delete(self, collection_id: str, document_id: str) -> bool:
        principal = current_principal()
        partition = principal.organization_id
        await self._collections.require(partition, collection_id)
        stored = await self._repository.document(
            partition, document_key(collection_id, document_id)
        )
        if stored is None:
            return False
        event = EmbeddingsEvents.acting(principal, self._clock).document_deleted(
            collection_id, document_id
        )
        await self._repository.delete_document(partition, stored, [event])
        if self._indexes is not None:

            def change(index: CollectionIndex) -> None:
                index.remove(document_id)

            await self._indexes.update(partition, collection_id, change)
        return True
