"""The gRPC adapter of the embeddings service: unpack the request, call the domain, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import embeddings_service_pb2_grpc
from services.embeddings.service import EmbeddingsDomain

Context: TypeAlias = grpc.aio.ServicerContext


class EmbeddingsServicer(embeddings_service_pb2_grpc.EmbeddingsServiceServicer):
    """coder.embeddings.v1.EmbeddingsService."""

    def __init__(self, domain: EmbeddingsDomain) -> None:
        self._collections = domain.collections
        self._documents = domain.documents
        self._search = domain.search
        self._jobs = domain.jobs

    # --- collections ---------------------------------------------------------------------------

    async def CreateCollection(
        self, request: api.CreateCollectionRequest, context: Context
    ) -> api.CreateCollectionResponse:
        collection = await self._collections.create(request.collection)
        return api.CreateCollectionResponse(collection=collection)

    async def GetCollection(
        self, request: api.GetCollectionRequest, context: Context
    ) -> api.GetCollectionResponse:
        collection = await self._collections.get(request.collection_id)
        return api.GetCollectionResponse(collection=collection)

    async def ListCollections(
        self, request: api.ListCollectionsRequest, context: Context
    ) -> api.ListCollectionsResponse:
        collections, token = await self._collections.list(request)
        return api.ListCollectionsResponse(collections=collections, next_page_token=token)

    async def DeleteCollection(
        self, request: api.DeleteCollectionRequest, context: Context
    ) -> api.DeleteCollectionResponse:
        await self._collections.delete(request.collection_id, request.etag)
        return api.DeleteCollectionResponse()

    # --- documents -----------------------------------------------------------------------------

    async def UpsertDocuments(
        self, request: api.UpsertDocumentsRequest, context: Context
    ) -> api.UpsertDocumentsResponse:
        return await self._documents.upsert(request.collection_id, request.documents)

    async def GetDocument(
        self, request: api.GetDocumentRequest, context: Context
    ) -> api.GetDocumentResponse:
        document, chunks = await self._documents.get(
            request.collection_id, request.document_id, request.include_chunks
        )
        return api.GetDocumentResponse(document=document, chunks=chunks)

    async def ListDocuments(
        self, request: api.ListDocumentsRequest, context: Context
    ) -> api.ListDocumentsResponse:
        documents, token = await self._documents.list(request)
        return api.ListDocumentsResponse(documents=documents, next_page_token=token)

    async def DeleteDocument(
        self, request: api.DeleteDocumentRequest, context: Context
    ) -> api.DeleteDocumentResponse:
        deleted = await self._documents.delete(request.collection_id, request.document_id)
        return api.DeleteDocumentResponse(deleted=deleted)

    # --- search --------------------------------------------------------------------------------

    async def Search(self, request: api.SearchRequest, context: Context) -> api.SearchResponse:
        return await self._search.search(request)

    # --- jobs ----------------------------------------------------------------------------------

    async def StartIndexJob(
        self, request: api.StartIndexJobRequest, context: Context
    ) -> api.StartIndexJobResponse:
        job = await self._jobs.start(request.collection_id, request.documents)
        return api.StartIndexJobResponse(job=job)

    async def GetJob(self, request: api.GetJobRequest, context: Context) -> api.GetJobResponse:
        return api.GetJobResponse(job=await self._jobs.get(request.job_id))

    async def WatchJob(
        self, request: api.WatchJobRequest, context: Context
    ) -> AsyncIterator[api.WatchJobResponse]:
        async for job in self._jobs.watch(request.job_id):
            yield api.WatchJobResponse(job=job)

    async def CancelJob(
        self, request: api.CancelJobRequest, context: Context
    ) -> api.CancelJobResponse:
        return api.CancelJobResponse(job=await self._jobs.cancel(request.job_id))
