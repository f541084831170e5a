"""Prices and how usage is charged by them.

A price applies to one meter from `effective_from` until `effective_until` (or for good). At a
moment, a meter's price is the organization's own price in effect then, else the platform's
default in effect then; among several in effect, the latest `effective_from` wins, so a new
price supersedes the old one without editing it.

Charges are graduated over the calendar month: each tier's unit price applies to the part of
the month's running total (the organization's counter of the meter) that falls in the tier.
An event is charged when it is recorded, for the part of the running total it adds, so the
charges of a month add up to the tiered price of its total whatever the grouping of a report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from coder.usage.v1 import resources_pb2
from services.usage import _money

UNIT_DIVISORS: dict[int, Decimal] = {
    resources_pb2.PRICE_UNIT_PER_UNIT: Decimal(1),
    resources_pb2.PRICE_UNIT_PER_THOUSAND: Decimal(1_000),
    resources_pb2.PRICE_UNIT_PER_MILLION: Decimal(1_000_000),
    resources_pb2.PRICE_UNIT_PER_MINUTE: Decimal(60),
}
"""Meter units one unit price buys: a price per minute buys 60 seconds."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: Decimal | None
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class PriceRule:
    """A price as charging uses it: parsed once."""

    id: str
    meter: str
    divisor: Decimal
    tiers: tuple[Tier, ...]
    effective_from: datetime
    effective_until: datetime | None
    platform_default: bool

    def in_effect(self, moment: datetime) -> bool:
        if moment < self.effective_from:
            return False
        return self.effective_until is None or moment < self.effective_until

    def charge(self, before: Decimal, quantity: Decimal) -> Decimal:
        """The charge of `quantity` added to a month whose running total was `before`,
        rounded to the stored scale."""
        if quantity <= 0:
            return _money.ZERO
        after = _money.add(before, quantity)
        lower = _money.ZERO
        amount = _money.ZERO
        for tier in self.tiers:
            upper = tier.up_to
            low = max(before, lower)
            high = after if upper is None else min(after, upper)
            if high > low:
                amount = _money.add(amount, _money.multiply(high - low, tier.unit_price))
            if upper is None or upper >= after:
                break
            lower = upper
        return _money.rounded(_money.divide(amount, self.divisor))


def _moment(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def rule_of(price: resources_pb2.Price) -> PriceRule:
    """The charging form of a stored (validated) price."""
    tiers = tuple(
        Tier(_money.parse(tier.up_to) if tier.up_to else None, _money.parse(tier.unit_price))
        for tier in price.tiers
    )
    return PriceRule(
        id=price.id,
        meter=price.meter,
        divisor=UNIT_DIVISORS[price.unit],
        tiers=tiers,
        effective_from=_moment(price.effective_from) if price.HasField("effective_from") else EPOCH,
        effective_until=(
            _moment(price.effective_until) if price.HasField("effective_until") else None
        ),
        platform_default=price.platform_default,
    )


def price_in_effect(rules: Sequence[PriceRule], moment: datetime) -> PriceRule | None:
    """Among one meter's prices, the one in effect at `moment`: the latest to take effect."""
    best: PriceRule | None = None
    for rule in rules:
        if rule.in_effect(moment) and (best is None or rule.effective_from > best.effective_from):
            best = rule
    return best


def _default(meter: str) -> resources_pb2.Price:
    price = resources_pb2.Price(
        id=f"default-{meter}",
        meter=meter,
        unit=resources_pb2.PRICE_UNIT_PER_UNIT,
        tiers=[resources_pb2.PriceTier(unit_price="1")],
        currency=_money.CURRENCY,
        platform_default=True,
        created_by="platform",
    )
    price.effective_from.FromDatetime(EPOCH)
    price.create_time.FromDatetime(EPOCH)
    return price


DEFAULT_PRICES: tuple[resources_pb2.Price, ...] = (
    _default("ai.completion.cost"),
    _default("ai.embedding.cost"),
)
"""The platform's prices: what providers charged is passed through at cost, one dollar per
dollar. Organizations override them (a markup, or a price per token instead)."""

DEFAULT_RULES: tuple[PriceRule, ...] = tuple(rule_of(price) for price in DEFAULT_PRICES)


def by_meter(rules: Iterable[PriceRule]) -> dict[str, tuple[PriceRule, ...]]:
    grouped: dict[str, list[PriceRule]] = {}
    for rule in rules:
        grouped.setdefault(rule.meter, []).append(rule)
    return {meter: tuple(found) for meter, found in grouped.items()}
