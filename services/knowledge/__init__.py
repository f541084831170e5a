"""The knowledge service: spaces of nested Markdown pages with revisions, tags, backlinks,
comment threads, templates, runbooks and a recycle bin; per-space permissions; import and
export of Markdown; and search."""

from __future__ import annotations

import grpc

from coder.knowledge.v1 import knowledge_service_pb2_grpc
from services.kit import Resources, ServiceDefinition, per_process
from services.knowledge.repository import CONTAINERS, KnowledgeRepository
from services.knowledge.service import KnowledgeDomain
from services.knowledge.servicer import KnowledgeServicer


@per_process
def domain(resources: Resources) -> KnowledgeDomain:
    """The service's parts, built once per process."""
    return KnowledgeDomain(KnowledgeRepository(resources.store, resources.relay), resources.clock)


def register(server: grpc.aio.Server, resources: Resources) -> None:
    """Add the knowledge servicer, wired to this process's resources, to a server."""
    servicer = KnowledgeServicer(domain(resources))
    knowledge_service_pb2_grpc.add_KnowledgeServiceServicer_to_server(servicer, server)


SERVICE = ServiceDefinition(
    domain="knowledge",
    service_names=("coder.knowledge.v1.KnowledgeService",),
    containers=CONTAINERS,
    register=register,
)

__all__ = ["SERVICE", "register"]
