"""An organization's usage configuration — its quotas, budgets and prices — as the ledger and
CheckQuota read it on every event and every check, without a store read each time.

The cache (in-process embedded, Redis distributed) holds one version stamp per organization;
every write of a quota, budget or price sets a new stamp. A process keeps the parsed
configuration of the stamp it last saw, so a read costs one cache lookup, and a change made on
any replica is seen by every replica at its next read. A reader that took the old stamp just
before a change may load the new configuration under it; one that loaded the old configuration
keeps it only until it reads the new stamp.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from services.kit import new_id
from services.kit.cache import Cache
from services.usage._limits import Limit, budget_limit, quota_limit
from services.usage._rating import (
    DEFAULT_RULES,
    PriceRule,
    by_meter,
    price_in_effect,
    rule_of,
)
from services.usage.repository.limits import LimitsRepository
from services.usage.repository.pricing import PricesRepository

DEFAULTS_BY_METER = by_meter(DEFAULT_RULES)


@dataclass(frozen=True, slots=True)
class OrganizationConfig:
    """The quotas, budgets and own prices of one organization."""

    limits: tuple[Limit, ...]
    prices: dict[str, tuple[PriceRule, ...]]

    def price(self, meter: str, moment: datetime) -> PriceRule | None:
        """The meter's price in effect at `moment`: the organization's own, else the
        platform's default, else none (the meter is free)."""
        own = price_in_effect(self.prices.get(meter, ()), moment)
        return own or price_in_effect(DEFAULTS_BY_METER.get(meter, ()), moment)

    def limits_counting(self, category: str) -> list[Limit]:
        """The quotas on this category's meters and every budget."""
        return [limit for limit in self.limits if limit.counts(category)]


def _stamp_key(organization_id: str) -> str:
    return f"usage:config:{organization_id}"


class ConfigLoader:
    """Loads and remembers organizations' configurations; `changed` after every write."""

    def __init__(
        self,
        limits: LimitsRepository,
        prices: PricesRepository,
        cache: Cache,
        *,
        remembered: int = 4096,
    ) -> None:
        self._limits = limits
        self._prices = prices
        self._cache = cache
        self._remembered = remembered
        self._memo: OrderedDict[tuple[str, bytes], OrganizationConfig] = OrderedDict()

    async def load(self, organization_id: str) -> OrganizationConfig:
        stamp = await self._stamp(organization_id)
        key = (organization_id, stamp)
        found = self._memo.get(key)
        if found is not None:
            self._memo.move_to_end(key)
            return found
        config = await self._read(organization_id)
        self._memo[key] = config
        while len(self._memo) > self._remembered:
            self._memo.popitem(last=False)
        return config

    async def changed(self, organization_id: str) -> None:
        """Make every process read the organization's configuration again."""
        await self._cache.set(_stamp_key(organization_id), new_id().encode())

    async def _stamp(self, organization_id: str) -> bytes:
        key = _stamp_key(organization_id)
        stamp = await self._cache.get(key)
        if stamp is not None:
            return stamp
        # No stamp yet (or the cache lost it): start one; whoever sets it first wins.
        await self._cache.set_if_absent(key, new_id().encode())
        return await self._cache.get(key) or b""

    async def _read(self, organization_id: str) -> OrganizationConfig:
        quotas = await self._limits.all_quotas(organization_id)
        budgets = await self._limits.all_budgets(organization_id)
        prices = await self._prices.all_prices(organization_id)
        limits = tuple(quota_limit(q) for q in quotas) + tuple(budget_limit(b) for b in budgets)
        return OrganizationConfig(limits, by_meter(rule_of(p) for p in prices))
