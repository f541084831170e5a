"""Cache, rate limiter, distributed locks and expiring sets, picked by URL (`CODER_CACHE_URL`).

- `memory://` — in-process (embedded mode): state lives in the returned objects.
- `redis://host:6379/0`, `rediss://…` — Redis (distributed mode), shared by all replicas.
  Client options may ride on the URL query (`?socket_timeout=2`), as `redis.asyncio` reads them.

Build the backends once at start-up and pass them to the services that need them:

    backends = await open_cache(settings.cache_url)
    decision = await backends.limiter.hit(f"login:{ip}", limit=5, window=60)
    async with backends.locks.lock(f"plan:{plan_id}", ttl=30) as held:
        await repository.save(plan, fencing=held.fencing)
    await backends.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from services.kit._clock import Clock
from services.kit.cache._api import (
    Cache,
    ExpiringSet,
    Lock,
    LockLost,
    LockManager,
    LockNotAcquired,
    RateDecision,
    RateLimiter,
)
from services.kit.cache._memory import (
    MemoryCache,
    MemoryExpiringSet,
    MemoryLockManager,
    MemoryRateLimiter,
)
from services.kit.cache._redis import (
    RedisCache,
    RedisExpiringSet,
    RedisLockManager,
    RedisRateLimiter,
)

__all__ = [
    "Cache",
    "CacheBackends",
    "ExpiringSet",
    "Lock",
    "LockLost",
    "LockManager",
    "LockNotAcquired",
    "MemoryCache",
    "MemoryExpiringSet",
    "MemoryLockManager",
    "MemoryRateLimiter",
    "RateDecision",
    "RateLimiter",
    "RedisCache",
    "RedisExpiringSet",
    "RedisLockManager",
    "RedisRateLimiter",
    "open_cache",
]

# Defaults a URL query can override: fail fast rather than hang a request on a dead server,
# and probe idle pooled connections so a half-closed one is not handed out.
_REDIS_OPTIONS: dict[str, float] = {
    "socket_connect_timeout": 5.0,
    "socket_timeout": 5.0,
    "health_check_interval": 30.0,
}


@dataclass(frozen=True, slots=True)
class CacheBackends:
    """The cache, limiter, lock manager and expiring sets of one backend, sharing its
    connections."""

    cache: Cache
    limiter: RateLimiter
    locks: LockManager
    sets: ExpiringSet

    async def close(self) -> None:
        """Close the shared connections; the three objects are unusable afterwards."""
        await self.cache.close()


async def open_cache(
    url: str, *, prefix: str = "coder:", clock: Clock | None = None
) -> CacheBackends:
    """Build the backends `url` names. Redis connects lazily: `cache.ping()` checks it, so a
    process can start (and report itself not ready) while Redis is still coming up.

    `prefix` namespaces every Redis key, so deployments can share a server. `clock` drives
    expiry and rate limits of the memory backend (a `ManualClock` in tests); Redis uses its
    own clock so that every replica agrees. Raises ValueError for any other URL scheme.
    """
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return CacheBackends(
            cache=MemoryCache(clock=clock),
            limiter=MemoryRateLimiter(clock=clock),
            locks=MemoryLockManager(clock=clock),
            sets=MemoryExpiringSet(clock=clock),
        )
    if scheme in ("redis", "rediss"):
        client = aioredis.from_url(url, **_REDIS_OPTIONS)
        return CacheBackends(
            cache=RedisCache(client, prefix=prefix),
            limiter=RedisRateLimiter(client, prefix=prefix),
            locks=RedisLockManager(client, prefix=prefix),
            sets=RedisExpiringSet(client, prefix=prefix),
        )
    raise ValueError(
        f"unsupported cache URL scheme {scheme!r}: use memory://, redis:// or rediss://"
    )
