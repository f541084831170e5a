"""Search: k-nearest chunks to the query's embedding among those the filter passes, hybrid
search fusing BM25 over the same chunks by reciprocal rank, a similarity threshold and
highlights.

Embedded mode searches the collection's in-process index (exact over the filtered rows when
the filter is selective, HNSW otherwise; see `_index`). Distributed mode asks Cosmos DB
(`VectorDistance` over the chunk container's vector index, the filter in the same query).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from services.embeddings._filters import DocFilter, from_proto
from services.embeddings._index import CollectionIndex, IndexedChunk, Scored, fuse
from services.embeddings._mapping import (
    StoredChunk,
    StoredCollection,
    StoredDocument,
    chunk_proto,
)
from services.embeddings._providers import Embedders
from services.embeddings._text import spans, words
from services.embeddings.repository import EmbeddingsRepository
from services.embeddings.service.collections import CollectionService
from services.embeddings.service.indexes import Indexes
from services.kit import FailedPrecondition, current_principal

DEFAULT_K = 10
RRF_CONSTANT = 60


def leg_size(k: int) -> int:
    """Candidates each leg of a hybrid search contributes to the fusion."""
    return min(max(4 * k, 50), 400)


@dataclass(frozen=True, slots=True)
class _Hit:
    chunk: IndexedChunk
    title: str
    metadata: dict[str, Any]
    tags: Sequence[str]
    score: float
    vector_score: float
    vector_rank: int
    text_rank: int


class SearchService:
    """Searches of the organization's collections."""

    def __init__(
        self,
        repository: EmbeddingsRepository,
        collections: CollectionService,
        embedders: Embedders,
        indexes: Indexes | None,
    ) -> None:
        self._repository = repository
        self._collections = collections
        self._embedders = embedders
        self._indexes = indexes

    async def search(self, request: api.SearchRequest) -> api.SearchResponse:
        partition = current_principal().organization_id
        collection = await self._collections.require(partition, request.collection_id)
        filter = from_proto(request.filter)
        k = request.k or DEFAULT_K
        hybrid = request.mode == api.SEARCH_MODE_HYBRID
        embedder = self._embedders.for_collection(
            collection.provider, collection.model, collection.dimensions
        )
        query = (await embedder.embed([request.query])).vectors[0]
        minimum = request.min_score if request.HasField("min_score") else None
        if self._indexes is None:
            if hybrid:
                raise FailedPrecondition(
                    "hybrid search needs the embedded index; distributed mode searches by "
                    "vector only (Cosmos DB's full-text policy is not set up by this service)",
                    reason="HYBRID_UNAVAILABLE",
                )
            hits = await self._cosmos(partition, collection, query, k, filter, minimum)
            strategy = "cosmos"
        else:
            index = await self._indexes.get(
                partition, collection.id, collection.dimensions, collection.metric
            )
            hits, strategy = await asyncio.to_thread(
                _embedded, index, query, request.query, k, filter, minimum, hybrid
            )
        terms = frozenset(words(request.query)) if request.highlight else frozenset()
        return api.SearchResponse(hits=[_proto(hit, terms) for hit in hits], strategy=strategy)

    async def _cosmos(
        self,
        partition: str,
        collection: StoredCollection,
        query: np.ndarray,
        k: int,
        filter: DocFilter,
        minimum: float | None,
    ) -> list[_Hit]:
        found = await self._repository.nearest_chunks(
            partition, collection.id, [float(x) for x in query], k, filter
        )
        owners: dict[str, StoredDocument | None] = {}
        hits: list[_Hit] = []
        for body, score in found:
            key = body["documentKey"]
            if key not in owners:
                owners[key] = await self._repository.document(partition, key)
            owner = owners[key]
            if owner is None or owner.generation != body["generation"]:
                continue  # a generation being replaced, or one a crash left behind
            if minimum is not None and score < minimum:
                continue
            chunk = StoredChunk.of(body, collection.dimensions).indexed(owner)
            hits.append(
                _Hit(chunk, owner.title, owner.metadata, owner.tags, score, score, len(hits) + 1, 0)
            )
        return hits


def _passes(score: float, minimum: float | None, metric: str) -> bool:
    if minimum is None:
        return True
    return score <= minimum if metric == "euclidean" else score >= minimum


def _embedded(
    index: CollectionIndex,
    query: np.ndarray,
    text: str,
    k: int,
    filter: DocFilter,
    minimum: float | None,
    hybrid: bool,
) -> tuple[list[_Hit], str]:
    """The hits from the in-process index (run on a worker thread)."""
    with index.lock:
        return _embedded_locked(index, query, text, k, filter, minimum, hybrid)


def _embedded_locked(
    index: CollectionIndex,
    query: np.ndarray,
    text: str,
    k: int,
    filter: DocFilter,
    minimum: float | None,
    hybrid: bool,
) -> tuple[list[_Hit], str]:
    vector, strategy = index.search(query, leg_size(k) if hybrid else k, filter)
    vector = [hit for hit in vector if _passes(hit.score, minimum, index.metric)]
    by_row = {hit.row: hit for hit in vector}
    if not hybrid:
        return [
            _hit(index, hit.row, hit.score, hit, rank, 0) for rank, hit in enumerate(vector, 1)
        ], strategy
    text_leg = index.bm25(text, leg_size(k), filter)
    fused = fuse([vector, text_leg], k, RRF_CONSTANT)
    return [
        _hit(index, row, score, by_row.get(row), ranks[0], ranks[1]) for row, score, ranks in fused
    ], strategy


def _hit(
    index: CollectionIndex,
    row: int,
    score: float,
    vector: Scored | None,
    vector_rank: int,
    text_rank: int,
) -> _Hit:
    document = index.document_of(row)
    return _Hit(
        index.chunk(row),
        document.title,
        document.metadata,
        sorted(document.tags),
        score,
        vector.score if vector is not None else 0.0,
        vector_rank,
        text_rank,
    )


def _proto(hit: _Hit, terms: frozenset[str]) -> resources_pb2.SearchHit:
    message = resources_pb2.SearchHit(
        chunk=chunk_proto(hit.chunk),
        title=hit.title,
        tags=hit.tags,
        score=hit.score,
        vector_score=hit.vector_score,
        vector_rank=hit.vector_rank,
        text_rank=hit.text_rank,
        highlights=[
            resources_pb2.Highlight(start=start, end=end)
            for start, end in spans(hit.chunk.text, terms)
        ],
    )
    message.metadata.update(hit.metadata)
    return message


__all__ = ["SearchService"]
