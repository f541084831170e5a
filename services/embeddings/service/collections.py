"""Collections: create with the model's defaults filled in, read, list, delete."""

from __future__ import annotations

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from services.embeddings._mapping import StoredCollection, collection_document
from services.embeddings._models import DEFAULT_MODEL, LocalModels
from services.embeddings._settings import EmbeddingsSettings
from services.embeddings.repository import COSMOS_DIMENSIONS, EmbeddingsRepository
from services.embeddings.service.indexes import Indexes
from services.kit import (
    AlreadyExists,
    Clock,
    DocumentExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    check_etag,
    current_principal,
    new_id,
    time_text,
)

AI_DEFAULT_MAX_TOKENS = 512
MAX_TOKENS_LIMIT = 8192


class CollectionService:
    """The organization's collections."""

    def __init__(
        self,
        repository: EmbeddingsRepository,
        models: LocalModels,
        indexes: Indexes | None,
        settings: EmbeddingsSettings,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._models = models
        self._indexes = indexes
        self._settings = settings
        self._clock = clock

    async def require(self, partition: str, collection_id: str) -> StoredCollection:
        found = await self._repository.collection(partition, collection_id)
        if found is None:
            raise NotFound(f"no collection {collection_id!r}", reason="COLLECTION_NOT_FOUND")
        return found

    async def create(self, given: resources_pb2.Collection) -> resources_pb2.Collection:
        partition = current_principal().organization_id
        collection = await self._completed(given)
        collection.id = new_id()
        document = collection_document(collection, time_text(self._clock.now()))
        try:
            stored = await self._repository.create_collection(partition, document)
        except DocumentExists:
            raise AlreadyExists(
                f"a collection named {collection.name!r} exists", reason="COLLECTION_NAME_TAKEN"
            ) from None
        return stored.proto()

    async def _completed(self, given: resources_pb2.Collection) -> resources_pb2.Collection:
        """The collection with its defaults (provider, model, dimensions, metric, chunk size)
        and its settings checked against the model."""
        collection = resources_pb2.Collection()
        collection.CopyFrom(given)
        violations: list[FieldViolation] = []
        if collection.provider == resources_pb2.PROVIDER_UNSPECIFIED:
            collection.provider = resources_pb2.PROVIDER_LOCAL
        if collection.metric == resources_pb2.METRIC_UNSPECIFIED:
            collection.metric = resources_pb2.METRIC_COSINE
        chunking = collection.chunking
        if collection.provider == resources_pb2.PROVIDER_LOCAL:
            collection.model = collection.model or DEFAULT_MODEL
            model = self._models.get(collection.model)
            dimensions = await self._models.dimensions(collection.model)
            if collection.dimensions and collection.dimensions != dimensions:
                violations.append(
                    FieldViolation("collection.dimensions", f"{collection.model} has {dimensions}")
                )
            collection.dimensions = dimensions
            limit = model.max_input - 2
        else:
            if not collection.model:
                violations.append(FieldViolation("collection.model", "name the AI Service model"))
            if not collection.dimensions:
                violations.append(
                    FieldViolation("collection.dimensions", "give the model's dimensions")
                )
            limit = MAX_TOKENS_LIMIT
        if not chunking.max_tokens:
            chunking.max_tokens = (
                limit
                if collection.provider == resources_pb2.PROVIDER_LOCAL
                else AI_DEFAULT_MAX_TOKENS
            )
        if chunking.max_tokens > limit:
            violations.append(
                FieldViolation("collection.chunking.max_tokens", f"at most {limit} for this model")
            )
        if chunking.overlap_tokens >= chunking.max_tokens:
            violations.append(
                FieldViolation("collection.chunking.overlap_tokens", "less than max_tokens")
            )
        if violations:
            raise InvalidArgument("the collection is not valid", violations=violations)
        if self._indexes is None:
            self._check_distributed(collection)
        return collection

    def _check_distributed(self, collection: resources_pb2.Collection) -> None:
        """Cosmos DB's vector index has one path of fixed dimensions and distance function."""
        wanted = COSMOS_DIMENSIONS
        if collection.dimensions != wanted or collection.metric != resources_pb2.METRIC_COSINE:
            raise FailedPrecondition(
                f"distributed collections have {wanted} dimensions and the cosine metric "
                "(the chunk container's vector embedding policy)",
                reason="VECTOR_POLICY_MISMATCH",
            )

    async def get(self, collection_id: str) -> resources_pb2.Collection:
        partition = current_principal().organization_id
        collection = await self.require(partition, collection_id)
        count = await self._repository.count_documents(partition, collection_id)
        return collection.proto(count)

    async def list(
        self, request: api.ListCollectionsRequest
    ) -> tuple[list[resources_pb2.Collection], str]:
        partition = current_principal().organization_id
        page_request = PageRequest.of(request, partition)
        found, continuation = await self._repository.page_collections(
            partition, page_request.size, page_request.continuation
        )
        collections = [
            collection.proto(await self._repository.count_documents(partition, collection.id))
            for collection in found
        ]
        return collections, page_request.seal(continuation)

    async def delete(self, collection_id: str, etag: str) -> None:
        partition = current_principal().organization_id
        collection = await self.require(partition, collection_id)
        check_etag(etag, collection.etag, "collection")
        now = time_text(self._clock.now())
        running = [
            job
            for job in await self._repository.running_jobs(partition, collection_id)
            if job.get("leaseUntil", "") >= now
        ]
        if running:
            raise FailedPrecondition(
                f"job {running[0]['id']!r} is indexing into the collection; cancel it first",
                reason="COLLECTION_JOB_RUNNING",
            )
        await self._repository.delete_collection(partition, collection)
        if self._indexes is not None:
            self._indexes.drop(partition, collection_id)
