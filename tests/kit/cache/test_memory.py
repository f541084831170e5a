"""What only the in-process backend promises: a size bound, and exact arithmetic on its clock."""

from __future__ import annotations

import asyncio

import pytest

from services.kit._clock import ManualClock
from services.kit.cache import MemoryCache, MemoryLockManager, MemoryRateLimiter


class TestCacheBound:
    async def test_evicts_the_least_recently_used_entry(self) -> None:
        cache = MemoryCache(clock=ManualClock(), max_entries=3)
        for key in ("a", "b", "c"):
            await cache.set(key, key.encode())
        await cache.get("a")  # now "b" is the least recently used

        await cache.set("d", b"d")

        assert await cache.get_many(["a", "b", "c", "d"]) == {"a": b"a", "c": b"c", "d": b"d"}

    def test_needs_room_for_one_entry(self) -> None:
        with pytest.raises(ValueError, match="max_entries"):
            MemoryCache(max_entries=0)


class TestLimiterExactness:
    async def test_retry_after_and_reset_are_exact(self) -> None:
        limiter = MemoryRateLimiter(clock=ManualClock())
        for _ in range(10):
            assert (await limiter.hit("k", limit=10, window=1.0)).allowed

        refused = await limiter.hit("k", limit=10, window=1.0)

        assert not refused.allowed
        assert refused.retry_after == 0.1
        assert refused.reset_after == 1.0

    async def test_steady_rate_does_not_drift(self) -> None:
        clock = ManualClock()
        limiter = MemoryRateLimiter(clock=clock)
        for _ in range(10):
            await limiter.hit("k", limit=10, window=1.0)

        # A thousand float clock steps of 0.1 s: each admits exactly one hit, no more, no less.
        for _ in range(1000):
            clock.advance(0.1)
            assert (await limiter.hit("k", limit=10, window=1.0)).allowed
            assert not (await limiter.hit("k", limit=10, window=1.0)).allowed

    async def test_forgets_the_least_recently_hit_key_beyond_its_bound(self) -> None:
        limiter = MemoryRateLimiter(clock=ManualClock(), max_keys=2)
        for key in ("a", "b", "c"):
            assert (await limiter.hit(key, limit=1, window=60)).allowed

        assert (await limiter.hit("a", limit=1, window=60)).allowed
        assert not (await limiter.hit("c", limit=1, window=60)).allowed


class TestLockWaiters:
    async def test_a_waiter_notices_an_expiry_on_the_clock(self) -> None:
        clock = ManualClock()
        locks = MemoryLockManager(clock=clock)
        first = await locks.acquire("job", ttl=10)
        waiter = asyncio.create_task(locks.acquire("job", ttl=10, wait=5))
        await asyncio.sleep(0.02)
        assert not waiter.done()

        clock.advance(10)

        second = await asyncio.wait_for(waiter, 2)
        assert second.fencing > first.fencing
