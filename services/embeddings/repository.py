"""Every storage query of the embeddings service.

Containers (partition key: the organization):
- `embedding_collections`: collections and the claims that keep their names unique;
- `embedding_documents`: one document per indexed source document, and the outbox of the
  service's events (written in the same batch as the document they describe);
- `embedding_chunks`: the chunks with their vectors, their document's labels copied in, and a
  vector index on `/embedding` (Cosmos DB's vector embedding policy; distributed mode only);
- `embedding_jobs`: batch indexing jobs and their progress.

A document's chunks are written before the document that names their `generation` and the
older generation's chunks deleted after it, so a search never sees a document half replaced:
chunks of any other generation than their document's are ignored, and the next indexing of the
document deletes any a crash left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from coder.events.v1 import event_pb2
from services.embeddings._filters import DocFilter
from services.embeddings._mapping import (
    COLLECTION_KIND,
    JobRecord,
    StoredCollection,
    StoredDocument,
    name_claim_id,
)
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    Condition,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Page,
    PatchOp,
    Query,
    VectorIndex,
)

COLLECTIONS = "embedding_collections"
DOCUMENTS = "embedding_documents"
CHUNKS = "embedding_chunks"
JOBS = "embedding_jobs"
VECTOR_PATH = "/embedding"
COSMOS_DIMENSIONS = 384
"""Dimensions of the chunk container's vector embedding policy: Cosmos DB gives a container
fixed vector paths, so distributed collections are those of the local model's 384 (cosine)."""
SCAN_PAGE = 500

CONTAINERS = (
    ContainerSpec(COLLECTIONS, indexes=("/kind", "/name")),
    ContainerSpec(DOCUMENTS, indexes=("/collectionId", "/documentId"), outbox=True),
    ContainerSpec(
        CHUNKS,
        indexes=("/collectionId", "/documentKey", "/generation", "/documentId", "/tags"),
        vector=VectorIndex(VECTOR_PATH, COSMOS_DIMENSIONS, "cosine"),
    ),
    ContainerSpec(JOBS, indexes=("/collectionId", "/state"), outbox=True),
)


class EmbeddingsRepository(Repository):
    """Reads and writes of collections, documents, chunks and jobs."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._collections = self.entities(COLLECTIONS)
        self._documents = self.entities(DOCUMENTS)
        self._chunks = self.entities(CHUNKS)
        self._jobs = self.entities(JOBS)

    # --- collections ---------------------------------------------------------------------------

    async def create_collection(self, partition: str, document: Document) -> StoredCollection:
        """The collection and its name's claim, in one batch (DocumentExists: name taken)."""
        claim = {
            "id": name_claim_id(document["name"]),
            "kind": "name",
            "collectionId": document["id"],
        }
        written = await self._collections.commit(
            partition, [BatchOp.create(claim), BatchOp.create(document)]
        )
        return StoredCollection.of(written[1])

    async def every_collection(self) -> AsyncIterator[StoredCollection]:
        """Every organization's collections (a platform pass, across partitions: the
        in-process indexes are rebuilt from them at start-up)."""
        container = self._collections.container
        query = Query().where(F("kind") == COLLECTION_KIND).limit(SCAN_PAGE)
        continuation: str | None = None
        while True:
            page = await container.query(query.after(continuation), partition=None)
            for found in page.items:
                yield StoredCollection.of(found)
            continuation = page.continuation
            if not continuation:
                return

    async def collection(self, partition: str, collection_id: str) -> StoredCollection | None:
        document = await self._collections.get(partition, collection_id)
        if document is None or document.get("kind") != COLLECTION_KIND:
            return None
        return StoredCollection.of(document)

    async def page_collections(
        self, partition: str, size: int, continuation: str | None
    ) -> tuple[list[StoredCollection], str | None]:
        query = (
            Query()
            .where(F("kind") == COLLECTION_KIND)
            .order_by("name")
            .limit(size)
            .after(continuation)
        )
        page = await self._collections.page(query, partition)
        return [StoredCollection.of(found) for found in page.items], page.continuation

    async def delete_collection(self, partition: str, collection: StoredCollection) -> None:
        """The collection and its claim (if_match its etag); its documents and chunks after."""
        await self._collections.commit(
            partition,
            [
                BatchOp.delete(collection.id, if_match=collection.etag),
                BatchOp.delete(name_claim_id(collection.name)),
            ],
        )
        for container in (self._chunks, self._documents):
            await self._delete_matching(
                container.name, partition, F("collectionId") == collection.id
            )

    async def running_jobs(self, partition: str, collection_id: str) -> list[JobRecord]:
        query = Query().where(
            F("collectionId") == collection_id, F("state").in_(["queued", "running"])
        )
        return await self._jobs.every(query, partition)

    # --- documents -----------------------------------------------------------------------------

    async def document(self, partition: str, key: str) -> StoredDocument | None:
        found = await self._documents.get(partition, key)
        return StoredDocument.of(found) if found is not None else None

    async def count_documents(self, partition: str, collection_id: str) -> int:
        return await self._documents.count(
            Query().where(F("collectionId") == collection_id), partition
        )

    async def page_documents(
        self, partition: str, collection_id: str, size: int, continuation: str | None
    ) -> Page:
        query = (
            Query()
            .where(F("collectionId") == collection_id)
            .order_by("documentId")
            .limit(size)
            .after(continuation)
        )
        return await self._documents.page(query, partition)

    async def documents(self, partition: str, collection_id: str) -> AsyncIterator[StoredDocument]:
        """Every document of a collection, page by page (for rebuilding an index)."""
        query = Query().where(F("collectionId") == collection_id).limit(SCAN_PAGE)
        continuation: str | None = None
        while True:
            page = await self._documents.page(query.after(continuation), partition)
            for found in page.items:
                yield StoredDocument.of(found)
            continuation = page.continuation
            if not continuation:
                return

    async def write_chunks(self, partition: str, chunks: Sequence[Document]) -> None:
        """A new generation's chunks, before the document that names it is committed."""
        for begin in range(0, len(chunks), MAX_BATCH_OPERATIONS):
            batch = chunks[begin : begin + MAX_BATCH_OPERATIONS]
            await self._chunks.container.batch(partition, [BatchOp.create(c) for c in batch])

    async def commit_document(
        self,
        partition: str,
        document: StoredDocument,
        previous: StoredDocument | None,
        events: Sequence[event_pb2.Event],
    ) -> StoredDocument:
        """The document in place of `previous` (its etag checked) or new, with its events."""
        body = document.document()
        operation = (
            BatchOp.create(body)
            if previous is None
            else BatchOp.replace(body, if_match=previous.etag)
        )
        written = await self._documents.commit(partition, [operation], events)
        return StoredDocument.of(written[0])

    async def delete_document(
        self, partition: str, document: StoredDocument, events: Sequence[event_pb2.Event]
    ) -> None:
        await self._documents.commit(
            partition, [BatchOp.delete(document.key, if_match=document.etag)], events
        )
        await self.delete_chunks(partition, document.key, keep=None)

    async def delete_chunks(self, partition: str, key: str, *, keep: str | None) -> None:
        """A document's chunks of every generation but `keep` (all of them for None)."""
        conditions: list[Condition] = [F("documentKey") == key]
        if keep is not None:
            conditions.append(F("generation") != keep)
        await self._delete_matching(CHUNKS, partition, *conditions)

    async def chunks(self, partition: str, document: StoredDocument) -> list[Document]:
        """The chunks of the document's current generation, in order."""
        query = Query().where(
            F("documentKey") == document.key, F("generation") == document.generation
        )
        found = await self._chunks.every(query, partition)
        return sorted(found, key=lambda chunk: chunk["index"])

    async def collection_chunks(
        self, partition: str, collection_id: str
    ) -> AsyncIterator[list[Document]]:
        """Every chunk of a collection, a page at a time (for rebuilding an index)."""
        query = Query().where(F("collectionId") == collection_id).limit(SCAN_PAGE)
        continuation: str | None = None
        while True:
            page = await self._chunks.page(query.after(continuation), partition)
            yield page.items
            continuation = page.continuation
            if not continuation:
                return

    async def nearest_chunks(
        self,
        partition: str,
        collection_id: str,
        vector: Sequence[float],
        k: int,
        filter: DocFilter,
    ) -> list[tuple[Document, float]]:
        """The k chunks closest to `vector` that meet `conditions` (Cosmos DB VectorDistance
        in a parameterized query, `SELECT TOP @k ... ORDER BY VectorDistance(c.embedding, @v)`)."""
        conditions = [F("collectionId") == collection_id, *filter.conditions()]
        return await self._chunks.container.nearest(
            partition, vector, k, where=Query().where(*conditions)
        )

    async def _delete_matching(self, name: str, partition: str, *conditions: Condition) -> None:
        container = self.entities(name)
        query = Query().where(*conditions).limit(MAX_BATCH_OPERATIONS)
        while True:
            page = await container.page(query, partition)
            if not page.items:
                return
            await container.container.batch(
                partition, [BatchOp.delete(found["id"]) for found in page.items]
            )

    # --- jobs ----------------------------------------------------------------------------------

    async def create_job(
        self, partition: str, document: JobRecord, events: Sequence[event_pb2.Event]
    ) -> JobRecord:
        written = await self._jobs.commit(partition, [BatchOp.create(document)], events)
        return written[0]

    async def job(self, partition: str, job_id: str) -> JobRecord | None:
        return await self._jobs.get(partition, job_id)

    async def update_job(
        self, partition: str, job_id: str, changes: dict[str, object]
    ) -> JobRecord:
        """Set fields of a job (at most ten at once: one patch)."""
        ops = [PatchOp("set", f"/{name}", value) for name, value in changes.items()]
        return await self._jobs.container.patch(partition, job_id, ops)
