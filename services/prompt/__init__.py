"""The prompt service: named prompts with immutable versions, labels, shared prompts and their
overrides, sandboxed rendering and A/B experiments."""

from __future__ import annotations

import grpc

from coder.prompt.v1 import prompt_service_pb2_grpc
from services.kit import Resources, ServiceDefinition
from services.prompt.repository import CONTAINERS, PromptRepositories
from services.prompt.service import PromptDomain
from services.prompt.servicer import PromptServicer


def register(server: grpc.aio.Server, resources: Resources) -> None:
    """Add the prompt servicer, wired to this process's resources, to a server."""
    repositories = PromptRepositories(resources.store, resources.relay)
    domain = PromptDomain(repositories, resources.clock, resources.caches.locks)
    prompt_service_pb2_grpc.add_PromptServiceServicer_to_server(PromptServicer(domain), server)


SERVICE = ServiceDefinition(
    domain="prompt",
    service_names=("coder.prompt.v1.PromptService",),
    containers=CONTAINERS,
    register=register,
)

__all__ = ["SERVICE", "register"]
