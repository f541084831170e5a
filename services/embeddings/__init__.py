"""The embeddings service: collections of documents chunked and embedded by the local model or
through the AI Service, and searched by meaning (filtered k-nearest, hybrid with BM25)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import grpc

from coder.embeddings.v1 import embeddings_service_pb2_grpc
from services.embeddings._settings import EmbeddingsSettings
from services.embeddings.repository import CONTAINERS, EmbeddingsRepository
from services.embeddings.service import EmbeddingsDomain
from services.embeddings.servicer import EmbeddingsServicer
from services.kit import Resources, ServiceDefinition, get_logger, per_process
from services.kit.store import SqliteStore

_log = get_logger("embeddings")


def definition(settings: EmbeddingsSettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_EMBEDDINGS_*`
    environment, read when the service is registered (never at import)."""

    @per_process
    def domain(resources: Resources) -> EmbeddingsDomain:
        """One set of indexes, models and jobs per process."""
        return EmbeddingsDomain.build(
            EmbeddingsRepository(resources.store, resources.relay),
            settings or EmbeddingsSettings(),
            resources.peers,
            resources.clock,
            # An embedded store has one process, which can keep the index; Cosmos DB is
            # shared by replicas and searches itself.
            in_process_index=isinstance(resources.store, SqliteStore),
        )

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the embeddings servicer, wired to this process's resources, to a server."""
        embeddings_service_pb2_grpc.add_EmbeddingsServiceServicer_to_server(
            EmbeddingsServicer(domain(resources)), server
        )

    def tasks(resources: Resources) -> Sequence[Callable[[], Coroutine[Any, Any, None]]]:
        """Rebuild the in-process indexes from the store, then hold the process's models and
        jobs until the host stops."""
        shared = domain(resources)
        repository = EmbeddingsRepository(resources.store, resources.relay)

        async def warm_then_hold() -> None:
            try:
                if shared.indexes is not None:
                    async for collection in repository.every_collection():
                        await shared.indexes.get(
                            collection.organization_id,
                            collection.id,
                            collection.dimensions,
                            collection.metric,
                        )
                    _log.info("embeddings.indexes_rebuilt")
                await asyncio.Event().wait()
            finally:
                await shared.jobs.close()
                shared.models.close()

        return [warm_then_hold]

    return ServiceDefinition(
        domain="embeddings",
        service_names=("coder.embeddings.v1.EmbeddingsService",),
        containers=CONTAINERS,
        register=register,
        tasks=tasks,
    )


SERVICE = definition()

__all__ = ["SERVICE", "EmbeddingsSettings", "definition"]
