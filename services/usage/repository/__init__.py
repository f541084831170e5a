"""Every storage query of the usage service, one module per concern (the same names as
`services/usage/service/`): the ledger the consumer writes (`ingest`), prices, limits (quotas
and budgets) and the reports read from the ledger.

All containers are partitioned by organization id. The `usage` container holds the ledger —
records, buckets, counters and alerts — and the service's outbox, because recording an event,
its aggregates and the alerts it raises is one atomic batch of one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.bus import OutboxRelay
from services.kit.store import ContainerSpec, DocumentStore
from services.usage.repository.ingest import USAGE, UsageLedger
from services.usage.repository.limits import BUDGETS, QUOTAS, LimitsRepository
from services.usage.repository.pricing import PRICES, PricesRepository
from services.usage.repository.reports import ReportsRepository

CONTAINERS = (
    ContainerSpec(
        USAGE,
        # One sort key for every listing (see `_ledger.slot`): each index costs on each of
        # the many writes; the other filters narrow what its ranges already select.
        indexes=("/slot",),
        outbox=True,
    ),
    ContainerSpec(QUOTAS, indexes=("/createTime",)),
    ContainerSpec(BUDGETS, indexes=("/createTime",)),
    ContainerSpec(PRICES, indexes=("/meter", "/effectiveFrom")),
)


@dataclass(frozen=True, slots=True)
class UsageRepositories:
    """The service's repositories over one process's store."""

    ledger: UsageLedger
    limits: LimitsRepository
    prices: PricesRepository
    reports: ReportsRepository

    @classmethod
    def open(
        cls, store: DocumentStore, relay: OutboxRelay | None, *, retention_seconds: int
    ) -> UsageRepositories:
        return cls(
            ledger=UsageLedger(store, relay, retention_seconds=retention_seconds),
            limits=LimitsRepository(store, relay),
            prices=PricesRepository(store, relay),
            reports=ReportsRepository(store, relay),
        )


__all__ = ["CONTAINERS", "UsageRepositories"]
