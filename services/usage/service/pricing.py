"""Prices: the organization's own, in place of the platform defaults, from a date on.

Rules:
- a price is for a SUM or COUNT meter (a maximum or a distinct count is no quantity to pay
  for); per-minute prices are for meters counted in seconds;
- tiers rise: every tier but the last ends (`up_to`), each above the previous one; the last has
  no end;
- it takes effect now or later, never in the past — usage already recorded was charged by the
  price in effect then, and stays so; a request up to a minute late (clock skew) takes effect
  now;
- it cannot be changed: a newer price supersedes it, and only a price not yet in effect can be
  deleted. Platform defaults cannot be deleted; an organization's price replaces them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from coder.usage.v1 import resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    check_time_range,
    current_principal,
    new_id,
)
from services.usage import _money
from services.usage._meters import METERS
from services.usage._rating import DEFAULT_PRICES
from services.usage.repository.pricing import PricesRepository
from services.usage.service.config import ConfigLoader

MAX_PRICES = 500
"""Prices one organization may hold (its price history included)."""

CLOCK_SKEW = timedelta(minutes=1)

_DEFAULTS = {price.id: price for price in DEFAULT_PRICES}


class PriceService:
    """Create, read and delete the organization's prices."""

    def __init__(self, prices: PricesRepository, config: ConfigLoader, clock: Clock) -> None:
        self._prices = prices
        self._config = config
        self._clock = clock

    async def create_price(self, price: resources_pb2.Price) -> resources_pb2.Price:
        principal = current_principal()
        organization_id = principal.organization_id
        now = self._clock.now()
        stored = resources_pb2.Price()
        stored.CopyFrom(price)
        stored.ClearField("create_time")
        stored.platform_default = False
        _check_price(stored, now)
        if not stored.HasField("effective_from") or _moment(stored.effective_from) < now:
            # Unset, or late within the clock skew allowed: in effect from now.
            stored.effective_from.FromDatetime(now)
        stored.currency = _money.CURRENCY
        if await self._prices.count_prices(organization_id) >= MAX_PRICES:
            raise FailedPrecondition(
                f"an organization holds at most {MAX_PRICES} prices",
                reason="TOO_MANY_PRICES",
            )
        stored.id = new_id()
        stored.create_time.FromDatetime(now)
        stored.created_by = principal.subject
        created = await self._prices.create_price(organization_id, stored)
        await self._config.changed(organization_id)
        return created

    async def get_price(self, price_id: str) -> resources_pb2.Price:
        default = _DEFAULTS.get(price_id)
        if default is not None:
            return default
        organization_id = current_principal().organization_id
        found = await self._prices.get_price(organization_id, price_id)
        if found is None:
            raise NotFound(f"price {price_id} not found", reason="PRICE_NOT_FOUND")
        return found

    async def list_prices(
        self, request: api.ListPricesRequest
    ) -> tuple[list[resources_pb2.Price], list[resources_pb2.Price], str]:
        """The organization's prices (a page), the platform defaults (first page only) and the
        next page token."""
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        prices, continuation = await self._prices.list_prices(
            organization_id, request.meter, page.size, page.continuation
        )
        defaults = []
        if not request.page_token:
            defaults = [p for p in DEFAULT_PRICES if not request.meter or p.meter == request.meter]
        return prices, defaults, page.seal(continuation)

    async def delete_price(self, price_id: str) -> None:
        if price_id in _DEFAULTS:
            raise FailedPrecondition(
                f"price {price_id} is a platform default; set a price of your own instead",
                reason="PRICE_IS_DEFAULT",
            )
        organization_id = current_principal().organization_id
        found = await self._prices.get_price(organization_id, price_id)
        if found is None:
            raise NotFound(f"price {price_id} not found", reason="PRICE_NOT_FOUND")
        now = self._clock.now()
        if _moment(found.effective_from) <= now:
            raise FailedPrecondition(
                f"price {price_id} has taken effect and usage was charged by it; "
                "set a newer price to end it",
                reason="PRICE_IN_EFFECT",
            )
        await self._prices.delete_price(organization_id, price_id)
        await self._config.changed(organization_id)


def _moment(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def _check_price(price: resources_pb2.Price, now: datetime) -> None:
    violations: list[FieldViolation] = []
    meter = METERS.get(price.meter)
    if meter is None:
        violations.append(
            FieldViolation("price.meter", f"no meter {price.meter!r}; see ListMeters")
        )
    elif not meter.additive:
        violations.append(
            FieldViolation("price.meter", f"{price.meter} is not a SUM or COUNT meter")
        )
    elif price.unit == resources_pb2.PRICE_UNIT_PER_MINUTE and meter.unit != "second":
        violations.append(FieldViolation("price.unit", f"{price.meter} is not counted in seconds"))
    if price.currency not in ("", _money.CURRENCY):
        violations.append(FieldViolation("price.currency", "prices are in USD"))
    violations += _tier_violations(price)
    check_time_range(price, ("effective_from", "effective_until"), "price.")
    violations += _date_violations(price, now)
    if violations:
        raise InvalidArgument("the price is invalid", violations=violations)


def _tier_violations(price: resources_pb2.Price) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    previous = Decimal(0)
    last = len(price.tiers) - 1
    for index, tier in enumerate(price.tiers):
        path = f"price.tiers[{index}].up_to"
        if index == last:
            if tier.up_to:
                violations.append(FieldViolation(path, "the last tier has no end"))
            continue
        if not tier.up_to:
            violations.append(FieldViolation(path, "every tier but the last ends"))
            continue
        up_to = _money.parse(tier.up_to)
        if up_to <= previous:
            violations.append(FieldViolation(path, "must be above the previous tier's end"))
        previous = up_to
    return violations


def _date_violations(price: resources_pb2.Price, now: datetime) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    start = now
    if price.HasField("effective_from"):
        start = _moment(price.effective_from)
        if start < now - CLOCK_SKEW:
            violations.append(
                FieldViolation(
                    "price.effective_from",
                    "must not be in the past: recorded usage keeps its price",
                )
            )
    if price.HasField("effective_until"):
        until = _moment(price.effective_until)
        if until <= max(start, now):
            violations.append(
                FieldViolation("price.effective_until", "must be after effective_from and now")
            )
    return violations
