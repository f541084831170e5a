"""In-process cache, rate limiter and locks for embedded mode (`memory://`).

State lives in the objects, so it is shared by whatever holds the same `CacheBackends` and
by nothing else (not by another process). Every operation runs without awaiting anything in
between reading and writing its state, which makes each one atomic on the event loop without
a lock. Time comes from the injected `Clock`, so tests expire entries by moving a
`ManualClock`; expired entries are dropped when next touched, and both the cache and the
limiter are bounded by least-recently-used eviction so a flood of keys cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from services.kit._clock import Clock, SystemClock
from services.kit.cache._api import RateDecision, check_ttl
from services.kit.cache._gcra import MICROS, gcra_params, gcra_step
from services.kit.cache._locks import Attempt, LockManagerBase

DEFAULT_MAX_ENTRIES = 100_000

# What Redis accepts as a counter: optional minus sign, digits, and a signed 64-bit range.
_INTEGER = re.compile(rb"-?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires_at: float | None


class MemoryCache:
    """`Cache` in a bounded LRU dictionary; see the module docstring."""

    def __init__(self, *, clock: Clock | None = None, max_entries: int = DEFAULT_MAX_ENTRIES):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._clock = clock or SystemClock()
        self._max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._live(key)
        return None if entry is None else entry.value

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        check_ttl(ttl)
        self._store(key, _Entry(bytes(value), self._expiry(ttl)))

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        check_ttl(ttl)
        if self._live(key) is not None:
            return False
        self._store(key, _Entry(bytes(value), self._expiry(ttl)))
        return True

    async def delete(self, key: str) -> bool:
        return self._live(key) is not None and self._entries.pop(key, None) is not None

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for key in keys:
            entry = self._live(key)
            if entry is not None:
                found[key] = entry.value
        return found

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        check_ttl(ttl)
        entry = self._live(key)
        if entry is None:
            total, expires_at = amount, self._expiry(ttl)
        else:
            if not _INTEGER.fullmatch(entry.value):
                raise ValueError(f"cache key {key!r} does not hold an integer")
            total, expires_at = int(entry.value) + amount, entry.expires_at
        if not _INT64_MIN <= total <= _INT64_MAX:
            raise ValueError(f"incrementing cache key {key!r} would overflow 64 bits")
        self._store(key, _Entry(str(total).encode(), expires_at))
        return total

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock.monotonic() + ttl

    def _live(self, key: str) -> _Entry | None:
        """The unexpired entry at `key`, marked as just used; drops it if expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def _store(self, key: str, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class MemoryExpiringSet:
    """`ExpiringSet` in dictionaries of member → expiry. Expired members are swept when a set
    has doubled since its last sweep, so an `add` costs amortised O(1) and memory stays
    proportional to the live members."""

    _SWEEP_FLOOR = 1024

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._sets: dict[str, dict[str, float]] = {}
        self._sweep_at: dict[str, int] = {}

    async def add(self, key: str, member: str, *, ttl: float) -> None:
        check_ttl(ttl)
        now = self._clock.monotonic()
        members = self._sets.setdefault(key, {})
        members[member] = max(members.get(member, now), now + ttl)
        if len(members) > self._sweep_at.get(key, self._SWEEP_FLOOR):
            self._sweep(key, now)

    async def members(self, key: str) -> dict[str, float]:
        now = self._clock.monotonic()
        members = self._sets.get(key, {})
        return {member: left for member, at in members.items() if (left := at - now) > 0}

    def _sweep(self, key: str, now: float) -> None:
        live = {m: at for m, at in self._sets[key].items() if at > now}
        self._sets[key] = live
        self._sweep_at[key] = max(self._SWEEP_FLOOR, 2 * len(live))


class MemoryRateLimiter:
    """`RateLimiter` holding each key's GCRA arrival time in a bounded LRU dictionary.

    Evicting a key forgets its recent hits, which can only let a client through early; with
    the default bound that takes 100k other keys hit more recently.
    """

    def __init__(self, *, clock: Clock | None = None, max_keys: int = DEFAULT_MAX_ENTRIES):
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self._clock = clock or SystemClock()
        self._max_keys = max_keys
        self._arrivals: OrderedDict[str, int] = OrderedDict()

    async def hit(self, key: str, *, limit: int, window: float, cost: int = 1) -> RateDecision:
        params = gcra_params(limit=limit, window=window, cost=cost)
        now = round(self._clock.monotonic() * MICROS)
        decision, arrival = gcra_step(params, self._arrivals.get(key), now)
        if arrival is not None:
            self._arrivals[key] = arrival
            self._arrivals.move_to_end(key)
            while len(self._arrivals) > self._max_keys:
                self._arrivals.popitem(last=False)
        return decision


@dataclass(slots=True)
class _Holder:
    token: str
    expires_at: float


class MemoryLockManager(LockManagerBase):
    """`LockManager` for one process; waiters wake as soon as a lock is released.

    Fencing tokens come from one counter for all names: still strictly increasing per name,
    and no per-name state has to outlive the lock itself.
    """

    # Sweeping expired holders only once the table has doubled keeps the cost amortised O(1).
    _SWEEP_FLOOR = 1024

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._holders: dict[str, _Holder] = {}
        self._last_fencing = 0
        self._sweep_at = self._SWEEP_FLOOR
        self._released = asyncio.Event()

    async def _try_acquire(self, name: str, token: str, ttl: float) -> Attempt:
        now = self._clock.monotonic()
        holder = self._holders.get(name)
        if holder is not None and holder.expires_at > now:
            return Attempt(fencing=None, holder_ttl=holder.expires_at - now)
        self._holders[name] = _Holder(token, now + ttl)
        self._last_fencing += 1
        if len(self._holders) > self._sweep_at:
            self._sweep(now)
        return Attempt(fencing=self._last_fencing)

    async def _release(self, name: str, token: str) -> bool:
        holder = self._holders.get(name)
        if holder is None or holder.token != token:
            return False
        del self._holders[name]
        # Wake every waiter: one of them wins the next try, the rest go back to waiting.
        self._released.set()
        self._released = asyncio.Event()
        return holder.expires_at > self._clock.monotonic()

    async def _extend(self, name: str, token: str, ttl: float) -> bool:
        now = self._clock.monotonic()
        holder = self._holders.get(name)
        if holder is None or holder.token != token or holder.expires_at <= now:
            return False
        holder.expires_at = now + ttl
        return True

    async def _wait_for_change(self, name: str, pause: float) -> None:
        # The pause still bounds the wait: an expiry (the clock moving) sends no signal.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), pause)

    def _sweep(self, now: float) -> None:
        expired = [name for name, h in self._holders.items() if h.expires_at <= now]
        for name in expired:
            del self._holders[name]
        self._sweep_at = max(self._SWEEP_FLOOR, 2 * len(self._holders))
