"""What only the Redis backend promises: its key layout under the prefix, and isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from services.kit.cache import open_cache
from tests.kit.cache.conftest import Harness

pytestmark = pytest.mark.redis


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url)
    yield client
    await client.aclose()


class TestKeyLayout:
    async def test_cache_keys_sit_under_the_prefix_with_their_ttl(
        self, redis_harness: Harness, raw: aioredis.Redis
    ) -> None:
        await redis_harness.cache.set("user:1", b"v", ttl=30)

        key = f"{redis_harness.prefix}cache:user:1"
        assert await raw.get(key) == b"v"
        assert 0 < await raw.pttl(key) <= 30_000

    async def test_limiter_and_lock_keys_sit_under_the_prefix(
        self, redis_harness: Harness, raw: aioredis.Redis
    ) -> None:
        await redis_harness.limiter.hit("ip:1", limit=5, window=60)
        held = await redis_harness.locks.acquire("job", ttl=30)

        prefix = redis_harness.prefix
        assert await raw.exists(f"{prefix}rate:ip:1") == 1
        assert await raw.get(f"{prefix}lock:{{job}}") == held.token.encode()
        assert await raw.get(f"{prefix}lock:{{job}}:fence") == str(held.fencing).encode()

    async def test_a_set_is_a_sorted_set_that_expires_with_its_last_member(
        self, redis_harness: Harness, raw: aioredis.Redis
    ) -> None:
        await redis_harness.sets.add("revoked", "a", ttl=10)
        await redis_harness.sets.add("revoked", "b", ttl=30)

        key = f"{redis_harness.prefix}set:revoked"
        assert await raw.zcard(key) == 2
        assert 20_000 < await raw.pttl(key) <= 30_000

    async def test_fencing_counter_outlives_the_lock(
        self, redis_harness: Harness, raw: aioredis.Redis
    ) -> None:
        held = await redis_harness.locks.acquire("job", ttl=30)
        await held.release()

        prefix = redis_harness.prefix
        assert await raw.exists(f"{prefix}lock:{{job}}") == 0
        assert await raw.pttl(f"{prefix}lock:{{job}}:fence") == -1  # never expires


class TestPrefixIsolation:
    async def test_another_prefix_sees_nothing(
        self, redis_harness: Harness, redis_url: str, raw: aioredis.Redis
    ) -> None:
        other_prefix = f"{redis_harness.prefix}other:"
        other = await open_cache(redis_url, prefix=other_prefix)
        try:
            await redis_harness.cache.set("k", b"mine")
            await redis_harness.locks.acquire("job", ttl=30)

            assert await other.cache.get("k") is None
            await other.locks.acquire("job", ttl=30)
        finally:
            await other.close()
            keys = [key async for key in raw.scan_iter(match=f"{other_prefix}*")]
            await raw.delete(*keys)
