"""Choosing a backend by URL, and how an unreachable Redis surfaces."""

from __future__ import annotations

import pytest

from services.kit._errors import Unavailable
from services.kit.cache import (
    MemoryCache,
    MemoryLockManager,
    MemoryRateLimiter,
    RedisCache,
    RedisLockManager,
    RedisRateLimiter,
    open_cache,
)


class TestOpenCache:
    async def test_memory_url_builds_in_process_backends(self) -> None:
        backends = await open_cache("memory://")
        assert isinstance(backends.cache, MemoryCache)
        assert isinstance(backends.limiter, MemoryRateLimiter)
        assert isinstance(backends.locks, MemoryLockManager)
        await backends.close()

    @pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://cache.example:6380/1"])
    async def test_redis_urls_build_redis_backends_without_connecting(self, url: str) -> None:
        backends = await open_cache(url)
        assert isinstance(backends.cache, RedisCache)
        assert isinstance(backends.limiter, RedisRateLimiter)
        assert isinstance(backends.locks, RedisLockManager)
        await backends.close()

    @pytest.mark.parametrize("url", ["memcached://127.0.0.1:11211", "127.0.0.1:6379", ""])
    async def test_other_urls_are_refused(self, url: str) -> None:
        with pytest.raises(ValueError, match="unsupported cache URL"):
            await open_cache(url)


class TestUnreachableRedis:
    async def test_every_port_reports_unavailable(self) -> None:
        # Port 1 refuses connections at once, so this needs no Redis and no waiting.
        backends = await open_cache("redis://127.0.0.1:1/0")
        try:
            with pytest.raises(Unavailable):
                await backends.cache.ping()
            with pytest.raises(Unavailable):
                await backends.cache.get("k")
            with pytest.raises(Unavailable):
                await backends.limiter.hit("k", limit=1, window=1)
            with pytest.raises(Unavailable):
                await backends.locks.acquire("job", ttl=1)
        finally:
            await backends.close()
