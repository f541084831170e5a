"""The knowledge service: spaces of nested Markdown pages with revisions, tags, backlinks,
comment threads, templates, runbooks and a recycle bin; per-space permissions; import and
export of Markdown; and search, full text and by meaning (through Embeddings)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from coder.knowledge.v1 import knowledge_service_pb2_grpc
from services.kit import Resources, ServiceDefinition, per_process
from services.kit.bus import Subscription
from services.knowledge import events
from services.knowledge._embeddings import EmbeddingsIndex
from services.knowledge._settings import KnowledgeSettings
from services.knowledge.repository import CONTAINERS, KnowledgeRepository
from services.knowledge.service import KnowledgeDomain
from services.knowledge.servicer import KnowledgeServicer


def definition(settings: KnowledgeSettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_KNOWLEDGE_*`
    environment, read when the service is registered (never at import)."""

    @per_process
    def domain(resources: Resources) -> KnowledgeDomain:
        """The service's parts, built once per process."""
        own = settings or KnowledgeSettings()
        repository = KnowledgeRepository(resources.store, resources.relay)
        index = EmbeddingsIndex(repository, resources.peers) if own.semantic else None
        return KnowledgeDomain(repository, resources.clock, resources.caches.cache, index)

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the knowledge servicer, wired to this process's resources, to a server."""
        servicer = KnowledgeServicer(domain(resources))
        knowledge_service_pb2_grpc.add_KnowledgeServiceServicer_to_server(servicer, server)

    def subscriptions(resources: Resources) -> Sequence[Subscription]:
        """The consumer that keeps the semantic index, when there is one."""
        own = settings or KnowledgeSettings()
        index = domain(resources).index
        if index is None:
            return []
        return [events.semantic_index_subscription(own.consumer, index.reindex)]

    return ServiceDefinition(
        domain="knowledge",
        service_names=("coder.knowledge.v1.KnowledgeService",),
        containers=CONTAINERS,
        register=register,
        subscriptions=subscriptions,
    )


SERVICE = definition()

__all__ = ["SERVICE", "KnowledgeSettings", "definition"]
