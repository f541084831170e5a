"""The usage service: meters every domain's usage events, prices them, limits them with quotas
and budgets, and reports them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from coder.usage.v1 import usage_service_pb2_grpc
from services.kit import Resources, ServiceDefinition
from services.kit.bus import Subscription
from services.usage import events
from services.usage._settings import UsageSettings
from services.usage.repository import CONTAINERS, UsageRepositories
from services.usage.service import UsageServices
from services.usage.service.config import ConfigLoader
from services.usage.service.counters import Counters
from services.usage.service.ingest import UsageRecorder
from services.usage.service.limits import LimitService
from services.usage.service.pricing import PriceService
from services.usage.service.reports import ReportService
from services.usage.servicer import UsageServicer


@dataclass(frozen=True, slots=True)
class _Parts:
    repositories: UsageRepositories
    config: ConfigLoader
    counters: Counters


def _parts(resources: Resources, settings: UsageSettings) -> _Parts:
    repositories = UsageRepositories.open(
        resources.store, resources.relay, retention_seconds=settings.retention_seconds
    )
    cache = resources.caches.cache
    return _Parts(
        repositories,
        ConfigLoader(repositories.limits, repositories.prices, cache),
        Counters(repositories.ledger, cache, resources.clock),
    )


def definition(settings: UsageSettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_USAGE_*` environment,
    read when the service is registered (never at import)."""

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the usage servicer, wired to this process's resources, to a server."""
        parts = _parts(resources, settings or UsageSettings())
        repositories, clock = parts.repositories, resources.clock
        services = UsageServices(
            prices=PriceService(repositories.prices, parts.config, clock),
            limits=LimitService(repositories.limits, parts.config, parts.counters, clock),
            reports=ReportService(repositories.ledger, repositories.reports, clock),
        )
        usage_service_pb2_grpc.add_UsageServiceServicer_to_server(UsageServicer(services), server)

    def subscriptions(resources: Resources) -> Sequence[Subscription]:
        """The consumers of every domain's usage events, sharing one recorder."""
        own = settings or UsageSettings()
        parts = _parts(resources, own)
        recorder = UsageRecorder(
            parts.repositories.ledger, parts.config, parts.counters, resources.clock
        )
        return events.subscriptions(
            recorder.record, prefix=own.consumer_prefix, consumers=own.consumers
        )

    return ServiceDefinition(
        domain="usage",
        service_names=("coder.usage.v1.UsageService",),
        containers=CONTAINERS,
        register=register,
        subscriptions=subscriptions,
    )


SERVICE = definition()

__all__ = ["SERVICE", "UsageSettings", "definition"]
