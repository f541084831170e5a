"""The usage service's rules, one module per concern: recording events (`ingest`, with the
counters it keeps and CheckQuota reads, `counters`), prices (`pricing`), quotas and budgets
(`limits`), reports (`reports`) and the organization configuration they all read (`config`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.usage.service.limits import LimitService
from services.usage.service.pricing import PriceService
from services.usage.service.reports import ReportService


@dataclass(frozen=True, slots=True)
class UsageServices:
    """The services the gRPC adapter calls."""

    prices: PriceService
    limits: LimitService
    reports: ReportService


__all__ = ["UsageServices"]
