"""Quotas and budgets as the ledger and CheckQuota use them: which usage a limit counts, the
counter it is checked against, its thresholds and its state.

A limit counts one measure (a quota: one meter; a budget: money spent) for a scope over a
calendar period. Its thresholds are reached in order — warning, critical, then the limit
itself — and each raises one alert per period and scope value. A budget also forecasts: once a
quarter of the period has passed, spending at its rate so far that would end the period past
the amount raises a forecast alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

from coder.usage.v1 import resources_pb2
from services.usage import _money
from services.usage._ledger import SCOPE_NAMES, SPEND, CounterKey
from services.usage._meters import METERS
from services.usage._periods import Granularity, floor, following

DEFAULT_WARNING_PERCENT = 80
DEFAULT_CRITICAL_PERCENT = 95

FORECAST_AFTER = Decimal("0.25")
"""Share of a period that must have passed before a budget's projection can raise an alert:
a rate measured over the first minutes of a month says little about its end."""

GRANULARITIES = {
    resources_pb2.PERIOD_HOUR: Granularity.HOUR,
    resources_pb2.PERIOD_DAY: Granularity.DAY,
    resources_pb2.PERIOD_MONTH: Granularity.MONTH,
}

Level: TypeAlias = resources_pb2.AlertLevel.ValueType
State: TypeAlias = resources_pb2.LimitState.ValueType


@dataclass(frozen=True, slots=True)
class Limit:
    """A quota or budget, parsed."""

    kind: resources_pb2.LimitKind.ValueType
    id: str
    name: str
    measure: str
    """The meter id (quotas) or `SPEND` (budgets)."""
    scope: resources_pb2.Scope.ValueType
    scope_id: str
    granularity: Granularity
    limit: Decimal
    warning_percent: int
    critical_percent: int
    enforcement: resources_pb2.Enforcement.ValueType
    currency: str

    @property
    def is_budget(self) -> bool:
        return self.kind == resources_pb2.LIMIT_KIND_BUDGET

    @property
    def hard(self) -> bool:
        return self.enforcement == resources_pb2.ENFORCEMENT_HARD

    @property
    def meter(self) -> str:
        return "" if self.is_budget else self.measure

    def counts(self, category: str) -> bool:
        """Whether usage of `category` counts toward this limit (budgets count all spend)."""
        return self.is_budget or METERS[self.measure].category == category

    def scope_value(self, dimensions: Mapping[str, str]) -> str | None:
        """The scope value usage with these dimensions counts under, or None when it does not
        count: another project or user than a named one, or none at all for a per-project or
        per-user limit."""
        if self.scope == resources_pb2.SCOPE_ORGANIZATION:
            return ""
        value = dimensions.get("project" if self.scope == resources_pb2.SCOPE_PROJECT else "user")
        if not value or (self.scope_id and value != self.scope_id):
            return None
        return value

    @property
    def named_scope_value(self) -> str | None:
        """The one scope value of a limit that names it (or the organization); None for a
        per-project or per-user limit."""
        if self.scope == resources_pb2.SCOPE_ORGANIZATION:
            return ""
        return self.scope_id or None

    def counter(self, scope_value: str, moment: datetime) -> CounterKey:
        return CounterKey(
            self.measure,
            SCOPE_NAMES[self.scope],
            scope_value,
            self.granularity,
            floor(moment, self.granularity),
        )

    def period(self, moment: datetime) -> tuple[datetime, datetime]:
        start = floor(moment, self.granularity)
        return start, following(start, self.granularity)

    def threshold(self, level: Level) -> Decimal:
        if level == resources_pb2.ALERT_LEVEL_WARNING:
            return _money.percent_of(self.limit, self.warning_percent)
        if level == resources_pb2.ALERT_LEVEL_CRITICAL:
            return _money.percent_of(self.limit, self.critical_percent)
        return self.limit

    def levels_reached(self, used: Decimal) -> list[Level]:
        """The thresholds `used` has reached, lowest first."""
        return [
            level
            for level in (
                resources_pb2.ALERT_LEVEL_WARNING,
                resources_pb2.ALERT_LEVEL_CRITICAL,
                resources_pb2.ALERT_LEVEL_EXCEEDED,
            )
            if used >= self.threshold(level)
        ]

    def state(self, used: Decimal) -> State:
        reached = self.levels_reached(used)
        if not reached:
            return resources_pb2.LIMIT_STATE_OK
        return {
            resources_pb2.ALERT_LEVEL_WARNING: resources_pb2.LIMIT_STATE_WARNING,
            resources_pb2.ALERT_LEVEL_CRITICAL: resources_pb2.LIMIT_STATE_CRITICAL,
            resources_pb2.ALERT_LEVEL_EXCEEDED: resources_pb2.LIMIT_STATE_EXCEEDED,
        }[reached[-1]]

    def refuses(self, used: Decimal, estimate: Decimal | None) -> bool:
        """Whether a HARD limit refuses more work: used up, or the estimate would pass it."""
        if not self.hard:
            return False
        if used >= self.limit:
            return True
        return estimate is not None and _money.add(used, estimate) > self.limit

    def projection(self, used: Decimal, moment: datetime) -> tuple[Decimal, Decimal]:
        """Budgets: the end-of-period amount at the rate so far, and the share of the period
        passed at `moment`."""
        start, end = self.period(moment)
        whole = Decimal(int((end - start).total_seconds() * 1_000_000))
        passed = Decimal(int((min(moment, end) - start).total_seconds() * 1_000_000))
        if passed <= 0:
            return used, _money.ZERO
        share = _money.divide(passed, whole)
        return _money.rounded(_money.divide(_money.multiply(used, whole), passed)), share

    def forecast_exceeded(self, used: Decimal, moment: datetime) -> bool:
        projected, share = self.projection(used, moment)
        return self.is_budget and share >= FORECAST_AFTER and projected >= self.limit

    def status(
        self, scope_value: str, used: Decimal, moment: datetime
    ) -> resources_pb2.LimitStatus:
        """The limit's count in the period of `moment`, for one scope value."""
        start, end = self.period(moment)
        remaining = self.limit - used if used < self.limit else _money.ZERO
        status = resources_pb2.LimitStatus(
            kind=self.kind,
            limit_id=self.id,
            name=self.name,
            meter=self.meter,
            scope_value=scope_value,
            limit=_money.text(self.limit),
            used=_money.text(used),
            remaining=_money.text(remaining),
            state=self.state(used),
            enforcement=self.enforcement,
            currency=self.currency,
        )
        status.period_start.FromDatetime(start)
        status.period_end.FromDatetime(end)
        if self.is_budget:
            status.projected = _money.text(self.projection(used, moment)[0])
        return status


def quota_limit(quota: resources_pb2.Quota) -> Limit:
    return Limit(
        kind=resources_pb2.LIMIT_KIND_QUOTA,
        id=quota.id,
        name=quota.name,
        measure=quota.meter,
        scope=quota.scope,
        scope_id=quota.scope_id,
        granularity=GRANULARITIES[quota.period],
        limit=_money.parse(quota.limit),
        warning_percent=quota.warning_percent or DEFAULT_WARNING_PERCENT,
        critical_percent=quota.critical_percent or DEFAULT_CRITICAL_PERCENT,
        enforcement=quota.enforcement,
        currency="",
    )


def budget_limit(budget: resources_pb2.Budget) -> Limit:
    return Limit(
        kind=resources_pb2.LIMIT_KIND_BUDGET,
        id=budget.id,
        name=budget.name,
        measure=SPEND,
        scope=budget.scope,
        scope_id=budget.scope_id,
        granularity=GRANULARITIES[budget.period],
        limit=_money.parse(budget.amount),
        warning_percent=budget.warning_percent or DEFAULT_WARNING_PERCENT,
        critical_percent=budget.critical_percent or DEFAULT_CRITICAL_PERCENT,
        enforcement=budget.enforcement,
        currency=budget.currency or _money.CURRENCY,
    )
