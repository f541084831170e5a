"""The AI service: providers and models of an organization, chat completions (unary and
streamed) with routing, fallback, retries, context fitting, a response cache, rate limits and
a quota check, and embeddings; every completion metered through Usage Tracking."""

from __future__ import annotations

import grpc

from coder.ai.v1 import ai_service_pb2_grpc
from services.ai._settings import AiSettings
from services.ai.repository import CONTAINERS, AiRepository
from services.ai.service import AiDomain, Completions, ModelRegistry, ProviderRegistry
from services.ai.service.clients import ClientPool
from services.ai.service.credentials import CachedCredentials, Credentials, SecretCredentials
from services.ai.service.guards import Guards
from services.ai.service.responses import ResponseCache
from services.ai.service.routing import Router
from services.ai.servicer import AiServicer
from services.kit import Resources, ServiceDefinition


def definition(
    settings: AiSettings | None = None, credentials: Credentials | None = None
) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_AI_*` environment, read
    when the service is registered (never at import); `credentials` to Secret Management."""

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the AI servicer, wired to this process's resources, to a server."""
        own = settings or AiSettings()
        repository = AiRepository(resources.store, resources.relay)
        clock, cache = resources.clock, resources.caches.cache
        providers = ProviderRegistry(repository, clock)
        completions = Completions(
            repository=repository,
            router=Router(repository, cache, clock),
            guards=Guards(resources.caches.limiter, resources.peers, own),
            responses=ResponseCache(cache, own.cache_ttl_seconds),
            credentials=CachedCredentials(
                credentials or SecretCredentials(resources.peers, clock),
                clock,
                own.credential_ttl_seconds,
            ),
            clients=ClientPool(),
            peers=resources.peers,
            clock=clock,
            settings=own,
        )
        domain = AiDomain(providers, ModelRegistry(repository, providers, clock), completions)
        ai_service_pb2_grpc.add_AiServiceServicer_to_server(AiServicer(domain), server)

    return ServiceDefinition(
        domain="ai",
        service_names=("coder.ai.v1.AiService",),
        containers=CONTAINERS,
        register=register,
    )


SERVICE = definition()

__all__ = ["SERVICE", "AiSettings", "definition"]
