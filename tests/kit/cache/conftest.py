"""Fixtures of the cache conformance suite: one `Harness` per backend, memory and Redis.

Redis is the real server at `CODER_TEST_REDIS_URL`. When it is unreachable the Redis cases
are skipped on a laptop but fail under CI, where a silently skipped backend would hide bugs.
Each test gets its own key prefix, and its keys are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis
import redis.asyncio as aioredis

from services.kit._clock import ManualClock
from services.kit.cache import (
    Cache,
    CacheBackends,
    ExpiringSet,
    LockManager,
    RateLimiter,
    open_cache,
)

REDIS_URL = os.environ.get("CODER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Harness:
    """The backends under test, and a way to let time pass that each of them notices."""

    kind: str
    backends: CacheBackends
    clock: ManualClock | None
    prefix: str

    @property
    def cache(self) -> Cache:
        return self.backends.cache

    @property
    def limiter(self) -> RateLimiter:
        return self.backends.limiter

    @property
    def locks(self) -> LockManager:
        return self.backends.locks

    @property
    def sets(self) -> ExpiringSet:
        return self.backends.sets

    async def elapse(self, seconds: float) -> None:
        """Move the manual clock (memory) or really wait (Redis keeps its own time)."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)


@functools.cache
def _redis_unreachable() -> str | None:
    """Why Redis cannot be used, or None; asked once per run, not once per test."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        return f"Redis at {REDIS_URL} is unreachable: {exc}"
    finally:
        client.close()
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    problem = _redis_unreachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return REDIS_URL


@pytest.fixture
def unique_prefix() -> str:
    return f"test:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_harness(redis_url: str, unique_prefix: str) -> AsyncIterator[Harness]:
    backends = await open_cache(redis_url, prefix=unique_prefix)
    yield Harness("redis", backends, clock=None, prefix=unique_prefix)
    await backends.close()
    raw = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in raw.scan_iter(match=f"{unique_prefix}*")]
        if keys:
            await raw.delete(*keys)
    finally:
        await raw.aclose()


@pytest.fixture
async def memory_harness(unique_prefix: str) -> AsyncIterator[Harness]:
    clock = ManualClock()
    backends = await open_cache("memory://", prefix=unique_prefix, clock=clock)
    yield Harness("memory", backends, clock=clock, prefix=unique_prefix)
    await backends.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Harness:
    """Each conformance test runs once per backend."""
    harness: Harness = request.getfixturevalue(f"{request.param}_harness")
    return harness
