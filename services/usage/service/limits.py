"""Quotas, budgets and CheckQuota.

Rules:
- a quota counts a SUM or COUNT meter; a budget counts money spent (every category's charges);
- scope ORGANIZATION names no id; PROJECT and USER name one, or none to count each project or
  user on its own;
- the limit is above zero; thresholds are percents of it, the critical one not below the
  warning one (defaults 80 and 95);
- meter, scope and period are fixed at creation (a different count is a different quota); name,
  limit, thresholds and enforcement can change, and a change applies to the current period at
  once;
- an organization holds at most `MAX_QUOTAS` quotas and `MAX_BUDGETS` budgets: every event is
  checked against all of them in one atomic write.

CheckQuota reads the current period's counters from the cache (see `counters.py`) and refuses
when a HARD limit is used up, or a quota's estimate would take it past its limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from google.protobuf.field_mask_pb2 import FieldMask

from coder.usage.v1 import resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Principal,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    update_paths,
)
from services.usage import _money
from services.usage._limits import (
    DEFAULT_CRITICAL_PERCENT,
    DEFAULT_WARNING_PERCENT,
    Limit,
    budget_limit,
    quota_limit,
)
from services.usage._meters import BY_CATEGORY, COUNT, METERS
from services.usage.repository.limits import LimitsRepository
from services.usage.service.config import ConfigLoader
from services.usage.service.counters import Counters

LimitResource = TypeVar("LimitResource", resources_pb2.Quota, resources_pb2.Budget)

MAX_QUOTAS = 25
MAX_BUDGETS = 10

QUOTA_WRITABLE = ("name", "limit", "warning_percent", "critical_percent", "enforcement")
BUDGET_WRITABLE = ("name", "amount", "warning_percent", "critical_percent", "enforcement")
OUTPUT_ONLY = ("id", "status", "create_time", "update_time", "created_by")


class LimitService:
    """Quotas and budgets of the caller's organization, and checks against them."""

    def __init__(
        self,
        limits: LimitsRepository,
        config: ConfigLoader,
        counters: Counters,
        clock: Clock,
    ) -> None:
        self._limits = limits
        self._config = config
        self._counters = counters
        self._clock = clock

    # --- quotas --------------------------------------------------------------------------------

    async def create_quota(self, quota: resources_pb2.Quota) -> resources_pb2.Quota:
        principal = current_principal()
        stored = _fresh(quota, resources_pb2.Quota(), principal, self._clock.now())
        _check_quota(stored)
        if await self._limits.count_quotas(principal.organization_id) >= MAX_QUOTAS:
            raise FailedPrecondition(
                f"an organization holds at most {MAX_QUOTAS} quotas", reason="TOO_MANY_QUOTAS"
            )
        created = await self._limits.create_quota(principal.organization_id, stored)
        await self._config.changed(principal.organization_id)
        return (await self._with_status([created], quota_limit))[0]

    async def get_quota(self, quota_id: str) -> resources_pb2.Quota:
        quota = await self._quota(current_principal().organization_id, quota_id)
        return (await self._with_status([quota], quota_limit))[0]

    async def list_quotas(
        self, request: api.ListQuotasRequest
    ) -> tuple[list[resources_pb2.Quota], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        quotas, continuation = await self._limits.list_quotas(
            organization_id, page.size, page.continuation
        )
        return await self._with_status(quotas, quota_limit), page.seal(continuation)

    async def update_quota(
        self, changes: resources_pb2.Quota, mask: FieldMask
    ) -> resources_pb2.Quota:
        paths = update_paths(mask, changes, "quota", QUOTA_WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "quota.id", "name the quota to update")
        principal = current_principal()

        async def attempt() -> resources_pb2.Quota:
            current = await self._quota(principal.organization_id, changes.id)
            check_etag(changes.etag, current.etag, "quota")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            _check_quota(updated)
            updated.ClearField("etag")
            updated.update_time.FromDatetime(self._clock.now())
            return await self._limits.replace_quota(
                principal.organization_id, updated, current.etag
            )

        updated = await read_modify_write(changes.etag, attempt)
        await self._config.changed(principal.organization_id)
        return (await self._with_status([updated], quota_limit))[0]

    async def delete_quota(self, quota_id: str, etag: str) -> None:
        organization_id = current_principal().organization_id
        current = await self._quota(organization_id, quota_id)
        check_etag(etag, current.etag, "quota")
        await self._limits.delete_quota(organization_id, quota_id, current.etag)
        await self._config.changed(organization_id)

    async def _quota(self, organization_id: str, quota_id: str) -> resources_pb2.Quota:
        found = await self._limits.get_quota(organization_id, quota_id)
        if found is None:
            raise NotFound(f"quota {quota_id} not found", reason="QUOTA_NOT_FOUND")
        return found

    # --- budgets -------------------------------------------------------------------------------

    async def create_budget(self, budget: resources_pb2.Budget) -> resources_pb2.Budget:
        principal = current_principal()
        stored = _fresh(budget, resources_pb2.Budget(), principal, self._clock.now())
        stored.currency = stored.currency or _money.CURRENCY
        _check_budget(stored)
        if await self._limits.count_budgets(principal.organization_id) >= MAX_BUDGETS:
            raise FailedPrecondition(
                f"an organization holds at most {MAX_BUDGETS} budgets", reason="TOO_MANY_BUDGETS"
            )
        created = await self._limits.create_budget(principal.organization_id, stored)
        await self._config.changed(principal.organization_id)
        return (await self._with_status([created], budget_limit))[0]

    async def get_budget(self, budget_id: str) -> resources_pb2.Budget:
        budget = await self._budget(current_principal().organization_id, budget_id)
        return (await self._with_status([budget], budget_limit))[0]

    async def list_budgets(
        self, request: api.ListBudgetsRequest
    ) -> tuple[list[resources_pb2.Budget], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        budgets, continuation = await self._limits.list_budgets(
            organization_id, page.size, page.continuation
        )
        return await self._with_status(budgets, budget_limit), page.seal(continuation)

    async def update_budget(
        self, changes: resources_pb2.Budget, mask: FieldMask
    ) -> resources_pb2.Budget:
        paths = update_paths(mask, changes, "budget", BUDGET_WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "budget.id", "name the budget to update")
        principal = current_principal()

        async def attempt() -> resources_pb2.Budget:
            current = await self._budget(principal.organization_id, changes.id)
            check_etag(changes.etag, current.etag, "budget")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            _check_budget(updated)
            updated.ClearField("etag")
            updated.update_time.FromDatetime(self._clock.now())
            return await self._limits.replace_budget(
                principal.organization_id, updated, current.etag
            )

        updated = await read_modify_write(changes.etag, attempt)
        await self._config.changed(principal.organization_id)
        return (await self._with_status([updated], budget_limit))[0]

    async def delete_budget(self, budget_id: str, etag: str) -> None:
        organization_id = current_principal().organization_id
        current = await self._budget(organization_id, budget_id)
        check_etag(etag, current.etag, "budget")
        await self._limits.delete_budget(organization_id, budget_id, current.etag)
        await self._config.changed(organization_id)

    async def _budget(self, organization_id: str, budget_id: str) -> resources_pb2.Budget:
        found = await self._limits.get_budget(organization_id, budget_id)
        if found is None:
            raise NotFound(f"budget {budget_id} not found", reason="BUDGET_NOT_FOUND")
        return found

    # --- status and checks ---------------------------------------------------------------------

    async def _with_status(
        self, resources: Sequence[LimitResource], parse: Callable[[LimitResource], Limit]
    ) -> list[LimitResource]:
        """Copies with the current period's status, for those counting one scope value."""
        now = self._clock.now()
        counted = []
        for resource in resources:
            limit = parse(resource)
            scope_value = limit.named_scope_value
            key = None if scope_value is None else limit.counter(scope_value, now)
            counted.append((resource, limit, scope_value, key))
        used = await self._counters.current(
            current_principal().organization_id, [key for *_, key in counted if key is not None]
        )
        shown = []
        for resource, limit, scope_value, key in counted:
            copy = type(resource)()
            copy.CopyFrom(resource)
            if key is not None and scope_value is not None:
                copy.status.CopyFrom(limit.status(scope_value, used[key.id], now))
            shown.append(copy)
        return shown

    async def check_quota(self, request: api.CheckQuotaRequest) -> api.CheckQuotaResponse:
        principal = current_principal()
        category = BY_CATEGORY.get(request.category)
        if category is None:
            raise InvalidArgument(
                f"no usage category {request.category!r}",
                violations=[FieldViolation("category", "see ListMeters for the categories")],
            )
        config = await self._config.load(principal.organization_id)
        now = self._clock.now()
        dimensions = {"user": request.user_id or principal.subject, "project": request.project_id}
        applicable = [
            (limit, scope_value, limit.counter(scope_value, now))
            for limit in config.limits_counting(category.name)
            if (scope_value := limit.scope_value(dimensions)) is not None
        ]
        used = await self._counters.current(
            principal.organization_id, [key for _, _, key in applicable]
        )
        estimate = {name: _money.parse(value) for name, value in request.estimate.items()}
        response = api.CheckQuotaResponse(allowed=True)
        waits: list[float] = []
        for limit, scope_value, key in applicable:
            count = used[key.id]
            response.limits.append(limit.status(scope_value, count, now))
            if limit.refuses(count, _estimate(limit, estimate)):
                response.allowed = False
                response.blocking_limit_ids.append(limit.id)
                waits.append((limit.period(now)[1] - now).total_seconds())
        if waits:
            response.retry_after.FromTimedelta(timedelta(seconds=min(waits)))
        return response


def _estimate(limit: Limit, estimate: dict[str, Decimal]) -> Decimal | None:
    """What the estimate adds to a quota's meter (None when it says nothing about it)."""
    if limit.is_budget or not estimate:
        return None
    meter = METERS[limit.measure]
    value = meter.value(estimate, {})
    # A COUNT meter's work counts one, which reaching the limit already refuses.
    return value if isinstance(value, Decimal) and meter.aggregation != COUNT else None


def _fresh(
    given: LimitResource, stored: LimitResource, principal: Principal, now: datetime
) -> LimitResource:
    """A copy of a new quota or budget as stored: server fields set, output-only cleared."""
    stored.CopyFrom(given)
    stored.ClearField("status")
    stored.ClearField("etag")
    stored.ClearField("create_time")
    stored.ClearField("update_time")
    stored.id = new_id()
    stored.created_by = principal.subject
    stored.create_time.FromDatetime(now)
    stored.update_time.FromDatetime(now)
    stored.warning_percent = stored.warning_percent or DEFAULT_WARNING_PERCENT
    stored.critical_percent = stored.critical_percent or DEFAULT_CRITICAL_PERCENT
    return stored


def _check_quota(quota: resources_pb2.Quota) -> None:
    violations = _required(
        "quota",
        name=quota.name,
        meter=quota.meter,
        scope=quota.scope,
        period=quota.period,
        enforcement=quota.enforcement,
    )
    meter = METERS.get(quota.meter)
    if quota.meter and meter is None:
        violations.append(
            FieldViolation("quota.meter", f"no meter {quota.meter!r}; see ListMeters")
        )
    elif meter is not None and not meter.additive:
        violations.append(
            FieldViolation("quota.meter", f"{quota.meter} is not a SUM or COUNT meter")
        )
    violations += _common_violations("quota", quota.scope, quota.scope_id, quota.limit, "limit")
    violations += _threshold_violations("quota", quota.warning_percent, quota.critical_percent)
    if violations:
        raise InvalidArgument("the quota is invalid", violations=violations)


def _check_budget(budget: resources_pb2.Budget) -> None:
    violations = _required(
        "budget",
        name=budget.name,
        scope=budget.scope,
        period=budget.period,
        enforcement=budget.enforcement,
    )
    violations += _common_violations(
        "budget", budget.scope, budget.scope_id, budget.amount, "amount"
    )
    if budget.currency != _money.CURRENCY:
        violations.append(FieldViolation("budget.currency", "budgets are in USD"))
    violations += _threshold_violations("budget", budget.warning_percent, budget.critical_percent)
    if violations:
        raise InvalidArgument("the budget is invalid", violations=violations)


def _required(resource: str, **values: object) -> list[FieldViolation]:
    """Violations for the required fields left empty (the proto rules skip empty fields, so
    that an update may leave them out)."""
    return [
        FieldViolation(f"{resource}.{name}", "is required")
        for name, value in values.items()
        if not value
    ]


def _common_violations(
    resource: str,
    scope: resources_pb2.Scope.ValueType,
    scope_id: str,
    limit: str,
    limit_field: str,
) -> list[FieldViolation]:
    violations = []
    if scope == resources_pb2.SCOPE_ORGANIZATION and scope_id:
        violations.append(
            FieldViolation(f"{resource}.scope_id", "an ORGANIZATION scope names no id")
        )
    if not limit or _money.parse(limit) <= 0:
        violations.append(FieldViolation(f"{resource}.{limit_field}", "must be above 0"))
    return violations


def _threshold_violations(resource: str, warning: int, critical: int) -> list[FieldViolation]:
    if critical < warning:
        return [FieldViolation(f"{resource}.critical_percent", "must not be below warning_percent")]
    return []
