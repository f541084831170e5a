"""The in-process indexes of the collections this process has used (embedded mode).

A collection's index is built from the store the first time the process needs it, then kept
in step with the writes this process makes (one process owns an embedded store). The HNSW graph
of a collection that passes the size threshold is built on a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from services.embeddings._index import CollectionIndex, IndexedChunk, MetricName
from services.embeddings._mapping import StoredChunk, StoredDocument
from services.embeddings._settings import EmbeddingsSettings
from services.embeddings.repository import EmbeddingsRepository

Key = tuple[str, str]


class Indexes:
    """One CollectionIndex per (organization, collection), loaded on first use."""

    def __init__(self, repository: EmbeddingsRepository, settings: EmbeddingsSettings) -> None:
        self._repository = repository
        self._settings = settings
        self._loaded: dict[Key, CollectionIndex] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._builds: set[asyncio.Future[None]] = set()

    def _lock(self, key: Key) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def get(
        self, partition: str, collection_id: str, dimensions: int, metric: MetricName
    ) -> CollectionIndex:
        key = (partition, collection_id)
        found = self._loaded.get(key)
        if found is not None:
            return found
        async with self._lock(key):
            found = self._loaded.get(key)
            if found is None:
                found = await self._load(partition, collection_id, dimensions, metric)
                self._loaded[key] = found
                self._graph_if_due(found)
            return found

    async def update(
        self, partition: str, collection_id: str, change: Callable[[CollectionIndex], None]
    ) -> None:
        """Apply a committed write to the collection's index, if this process holds it (one
        it does not hold is read from the store, write included, when first used)."""
        key = (partition, collection_id)
        async with self._lock(key):
            index = self._loaded.get(key)
            if index is not None:
                change(index)
                self._graph_if_due(index)

    def drop(self, partition: str, collection_id: str) -> None:
        self._loaded.pop((partition, collection_id), None)

    async def _load(
        self, partition: str, collection_id: str, dimensions: int, metric: MetricName
    ) -> CollectionIndex:
        index = CollectionIndex(
            dimensions,
            metric,
            hnsw_threshold=self._settings.hnsw_threshold,
            exact_limit=self._settings.exact_limit,
        )
        documents = {
            stored.key: stored
            async for stored in self._repository.documents(partition, collection_id)
        }
        chunks: dict[str, list[StoredChunk]] = {key: [] for key in documents}
        async for page in self._repository.collection_chunks(partition, collection_id):
            for body in page:
                owner = documents.get(body["documentKey"])
                if owner is not None and body["generation"] == owner.generation:
                    chunks[owner.key].append(StoredChunk.of(body, dimensions))
        for key, owner in documents.items():
            found = sorted(chunks[key], key=lambda chunk: chunk.index)
            put(index, owner, found)
        return index

    def _graph_if_due(self, index: CollectionIndex) -> None:
        if not index.needs_graph():
            return
        build = asyncio.get_running_loop().run_in_executor(None, index.build_graph)
        self._builds.add(build)
        build.add_done_callback(self._builds.discard)

    async def settle(self) -> None:
        """Wait for the HNSW graphs being built (tests and benchmarks)."""
        while self._builds:
            await asyncio.gather(*list(self._builds))


def put(index: CollectionIndex, owner: StoredDocument, chunks: list[StoredChunk]) -> None:
    """A document's current chunks into an index."""
    indexed: list[IndexedChunk] = [chunk.indexed(owner) for chunk in chunks]
    vectors = (
        np.stack([chunk.vector for chunk in chunks])
        if chunks
        else np.zeros((0, index.dimensions), dtype=np.float32)
    )
    index.put(owner.indexed(), indexed, vectors)
