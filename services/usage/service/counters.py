"""Counters as CheckQuota reads them: from the cache first, the ledger next, and from the
buckets when a counter has never been stored (a limit created mid-period counts the period's
usage so far, the same way the ledger seeds the counter when it first writes it).

The ledger publishes every counter it writes to the cache after its batch is stored, so the
cache follows the store. Within a process writes are published in commit order; two replicas
publishing the same counter at once can leave the older value for a moment, until the next
event counted publishes again. CheckQuota may therefore lag the ledger by the events in
flight, never by more than one chunk per replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

from services.kit import Clock
from services.kit.cache import Cache
from services.usage import _money
from services.usage._ledger import ORGANIZATION, SPEND, Bucket, Counter, CounterKey
from services.usage._meters import METERS
from services.usage._periods import cover, following
from services.usage.repository.ingest import UsageLedger

CACHE_GRACE = timedelta(hours=1)
"""How long a counter stays cached after its period ends."""


def cache_key(organization_id: str, counter: CounterKey) -> str:
    return f"usage:counter:{organization_id}:{counter.id}"


def counted(key: CounterKey, buckets: Sequence[Bucket]) -> Decimal:
    """The counter's value as the buckets of its period and scope add up."""
    if key.measure == SPEND:
        return _money.total([bucket.spend() for bucket in buckets])
    meter = METERS[key.measure]
    values = [value for bucket in buckets if (value := bucket.value(meter)) is not None]
    return _money.total(values)


class Counters:
    """Reads counters for CheckQuota and publishes the ledger's writes to the cache."""

    def __init__(self, ledger: UsageLedger, cache: Cache, clock: Clock) -> None:
        self._ledger = ledger
        self._cache = cache
        self._clock = clock

    async def seed(self, organization_id: str, key: CounterKey) -> Decimal:
        """The counter's value from the buckets of its period (for a counter not stored yet)."""
        categories = () if key.measure == SPEND else (METERS[key.measure].category,)
        filters = {key.scope: [key.scope_value]} if key.scope != ORGANIZATION else {}
        buckets = []
        for size, start, end in cover(key.start, following(key.start, key.granularity)):
            buckets += await self._ledger.buckets(
                organization_id, size, start, end, categories, filters
            )
        return counted(key, buckets)

    async def current(self, organization_id: str, keys: Sequence[CounterKey]) -> dict[str, Decimal]:
        """The counters' values by counter id."""
        if not keys:
            return {}
        names = {key.id: cache_key(organization_id, key) for key in keys}
        cached = await self._cache.get_many(names.values())
        values: dict[str, Decimal] = {}
        missing: list[CounterKey] = []
        for key in keys:
            found = cached.get(names[key.id])
            if found is None:
                missing.append(key)
            else:
                values[key.id] = _money.parse(found.decode())
        if missing:
            state = await self._ledger.state(organization_id, (), missing, ())
            for key in missing:
                stored = state.counters.get(key.id)
                value = stored.value if stored else await self.seed(organization_id, key)
                values[key.id] = value
                # If the ledger publishes meanwhile, its value is the newer one: keep it.
                await self._cache.set_if_absent(
                    names[key.id], _money.text(value).encode(), ttl=self._ttl(key)
                )
        return values

    async def publish(self, organization_id: str, counters: Sequence[Counter]) -> None:
        """Cache the values a ledger write has just stored."""
        await asyncio.gather(
            *(
                self._cache.set(
                    cache_key(organization_id, counter.key),
                    _money.text(counter.value).encode(),
                    ttl=self._ttl(counter.key),
                )
                for counter in counters
            )
        )

    async def drop(self, organization_id: str, keys: Iterable[CounterKey]) -> None:
        """Forget the cached values of `keys`: the next read takes them from the store."""
        await asyncio.gather(*(self._cache.delete(cache_key(organization_id, k)) for k in keys))

    def _ttl(self, key: CounterKey) -> float:
        end = following(key.start, key.granularity) + CACHE_GRACE
        return max(60.0, (end - self._clock.now()).total_seconds())
