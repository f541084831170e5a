"""Indexing documents into a collection: compare, chunk, embed, store, keep the index in step.

For each document, by its source id:
1. the same content hash and the same metadata and tags: nothing is done (UNCHANGED);
2. the same content, other metadata or tags: its chunks are stored again under a new generation
   with their vectors and the new labels, nothing is embedded (METADATA_UPDATED);
3. otherwise: chunked and embedded (all the batch's chunks in one run of the model), its chunks
   written under a new generation, then the document naming that generation committed with its
   events, then the older generation's chunks deleted (INDEXED).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from coder.events.v1 import event_pb2
from services.embeddings._chunking import ChunkText, chunk
from services.embeddings._filters import metadata_violations
from services.embeddings._index import CollectionIndex
from services.embeddings._mapping import (
    StoredChunk,
    StoredCollection,
    StoredDocument,
    content_hash,
    document_key,
    labels_hash,
    struct_dict,
)
from services.embeddings._models import Embedder, LocalModels, check_vectors
from services.embeddings.events import EmbeddingsEvents
from services.embeddings.repository import EmbeddingsRepository
from services.embeddings.service.indexes import Indexes, put
from services.kit import (
    Aborted,
    Clock,
    DocumentExists,
    EtagMismatch,
    FieldViolation,
    InvalidArgument,
    new_id,
    time_text,
)

INDEXED = api.UPSERT_OUTCOME_INDEXED
UNCHANGED = api.UPSERT_OUTCOME_UNCHANGED
METADATA_UPDATED = api.UPSERT_OUTCOME_METADATA_UPDATED


@dataclass(frozen=True, slots=True)
class Target:
    """The collection documents are indexed into, as indexing needs it."""

    partition: str
    collection: StoredCollection
    embedder: Embedder
    events: EmbeddingsEvents

    @property
    def id(self) -> str:
        return self.collection.id


@dataclass(slots=True)
class _Plan:
    given: resources_pb2.DocumentInput
    previous: StoredDocument | None
    outcome: api.UpsertOutcome.ValueType
    metadata: dict[str, object]
    chunks: list[ChunkText]


@dataclass(frozen=True, slots=True)
class Indexed:
    """What indexing a batch did."""

    results: list[api.UpsertResult]
    embedded_tokens: int
    embedded_chunks: int


def check_inputs(documents: Sequence[resources_pb2.DocumentInput]) -> None:
    """InvalidArgument for repeated ids and metadata the filters cannot read."""
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    for position, given in enumerate(documents):
        if given.id in seen:
            violations.append(FieldViolation(f"documents[{position}].id", "repeated in the batch"))
        seen.add(given.id)
        violations.extend(metadata_violations(given.metadata, f"documents[{position}].metadata"))
    if violations:
        raise InvalidArgument("the documents are not valid", violations=violations)


class Indexer:
    """Indexes batches of documents into a collection."""

    def __init__(
        self,
        repository: EmbeddingsRepository,
        models: LocalModels,
        indexes: Indexes | None,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._models = models
        self._indexes = indexes
        self._clock = clock

    async def index(
        self, target: Target, documents: Sequence[resources_pb2.DocumentInput]
    ) -> Indexed:
        plans = await self._plan(target, documents)
        embedding = [p for p in plans if p.outcome == INDEXED]
        texts = [c.text for p in embedding for c in p.chunks]
        embedded = await target.embedder.embed(texts)
        dimensions = target.collection.dimensions
        check_vectors(embedded.vectors, len(texts), dimensions, target.collection.model)
        results: list[api.UpsertResult] = []
        offset = 0
        for plan in plans:
            if plan.outcome == UNCHANGED:
                assert plan.previous is not None
                results.append(api.UpsertResult(document=plan.previous.proto(), outcome=UNCHANGED))
                continue
            if plan.outcome == INDEXED:
                count = len(plan.chunks)
                vectors = embedded.vectors[offset : offset + count]
                tokens = sum(embedded.counts[offset : offset + count])
                offset += count
                chunks = [
                    StoredChunk(c.index, c.text, c.heading_path, c.start, c.end, c.tokens, v)
                    for c, v in zip(plan.chunks, vectors, strict=True)
                ]
            else:
                assert plan.previous is not None
                chunks = [
                    StoredChunk.of(body, dimensions)
                    for body in await self._repository.chunks(target.partition, plan.previous)
                ]
                tokens = 0
            stored = await self._store(target, plan, chunks, tokens)
            results.append(api.UpsertResult(document=stored.proto(), outcome=plan.outcome))
        return Indexed(results, embedded.tokens, len(texts))

    async def _plan(
        self, target: Target, documents: Sequence[resources_pb2.DocumentInput]
    ) -> list[_Plan]:
        previous = await asyncio.gather(
            *(
                self._repository.document(target.partition, document_key(target.id, given.id))
                for given in documents
            )
        )
        collection = target.collection
        tokenize = self._models.get(collection.model if collection.local else "").tokenize
        plans: list[_Plan] = []
        for given, before in zip(documents, previous, strict=True):
            metadata = struct_dict(given.metadata)
            same_content = before is not None and before.content_hash == content_hash(
                given.title, given.content
            )
            same_labels = before is not None and before.labels_hash == labels_hash(
                metadata, list(given.tags)
            )
            if same_content and same_labels:
                plans.append(_Plan(given, before, UNCHANGED, metadata, []))
            elif same_content:
                plans.append(_Plan(given, before, METADATA_UPDATED, metadata, []))
            else:
                pieces = chunk(
                    given.content,
                    tokenize,
                    max_tokens=collection.max_tokens,
                    overlap=collection.overlap_tokens,
                    markdown=collection.markdown,
                )
                plans.append(_Plan(given, before, INDEXED, metadata, pieces))
        return plans

    async def _store(
        self, target: Target, plan: _Plan, chunks: list[StoredChunk], tokens: int
    ) -> StoredDocument:
        given = plan.given
        document = StoredDocument(
            collection_id=target.id,
            id=given.id,
            title=given.title,
            metadata=plan.metadata,
            tags=list(given.tags),
            content_hash=content_hash(given.title, given.content),
            labels_hash=labels_hash(plan.metadata, list(given.tags)),
            chunk_count=len(chunks),
            token_count=sum(c.tokens for c in chunks),
            generation=new_id(),
            update_time=time_text(self._clock.now()),
        )
        distributed = self._indexes is None
        await self._repository.write_chunks(
            target.partition, [c.document(document, with_array=distributed) for c in chunks]
        )
        events: list[event_pb2.Event] = [
            target.events.document_indexed(document.proto(with_etag=False), tokens)
        ]
        if tokens and target.collection.local:
            events.append(target.events.embedded(target.id, target.collection.model, tokens))
        try:
            stored = await self._repository.commit_document(
                target.partition, document, plan.previous, events
            )
        except (EtagMismatch, DocumentExists):
            raise Aborted(
                f"document {given.id!r} was indexed by another call meanwhile; send it again",
                reason="DOCUMENT_CHANGED",
            ) from None
        await self._repository.delete_chunks(
            target.partition, document.key, keep=document.generation
        )
        if self._indexes is not None:

            def change(index: CollectionIndex) -> None:
                put(index, stored, chunks)

            await self._indexes.update(target.partition, target.id, change)
        return stored
