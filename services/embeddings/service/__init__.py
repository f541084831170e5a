"""The embeddings service's domain: collections, documents, search and indexing jobs."""

from __future__ import annotations

from dataclasses import dataclass

from services.embeddings._models import LocalModels
from services.embeddings._providers import Embedders
from services.embeddings._settings import EmbeddingsSettings
from services.embeddings.repository import EmbeddingsRepository
from services.embeddings.service.collections import CollectionService
from services.embeddings.service.documents import DocumentService
from services.embeddings.service.indexes import Indexes
from services.embeddings.service.indexing import Indexer
from services.embeddings.service.jobs import JobService
from services.embeddings.service.search import SearchService
from services.kit import Clock, Peers


@dataclass(frozen=True, slots=True)
class EmbeddingsDomain:
    """The service's parts, built once per process."""

    collections: CollectionService
    documents: DocumentService
    search: SearchService
    jobs: JobService
    indexes: Indexes | None
    models: LocalModels

    @classmethod
    def build(
        cls,
        repository: EmbeddingsRepository,
        settings: EmbeddingsSettings,
        peers: Peers,
        clock: Clock,
        *,
        in_process_index: bool,
    ) -> EmbeddingsDomain:
        """`in_process_index`: embedded mode (one process owns the store) searches its own
        index; distributed mode searches Cosmos DB."""
        models = LocalModels(settings)
        embedders = Embedders(models, peers)
        indexes = Indexes(repository, settings) if in_process_index else None
        collections = CollectionService(repository, models, indexes, settings, clock)
        indexer = Indexer(repository, models, indexes, clock)
        return cls(
            collections=collections,
            documents=DocumentService(repository, collections, indexer, embedders, indexes, clock),
            search=SearchService(repository, collections, embedders, indexes),
            jobs=JobService(repository, collections, indexer, embedders, clock),
            indexes=indexes,
            models=models,
        )
