"""Redis cache, rate limiter and locks for distributed mode (`redis://`, `rediss://`).

The three share one `redis.asyncio` client, and with it one connection pool. Anything that
reads and then writes runs as a Lua script (`register_script`: one round trip, EVALSHA after
the first call), so it is atomic across every replica of every service. Time-based decisions
use the Redis server's clock, the only clock all replicas agree on; `ttl` expiry is Redis's
own. Keys are `<prefix>cache:<key>`, `<prefix>rate:<key>` and `<prefix>lock:{<name>}`, the
braces making a lock and its fencing counter one hash slot should the server be a cluster.

A lost or timed-out connection surfaces as the kit's `Unavailable`, so a caller gets a
retryable UNAVAILABLE instead of INTERNAL.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from services.kit._errors import Unavailable
from services.kit.cache._api import RateDecision, check_ttl
from services.kit.cache._gcra import MICROS, gcra_params
from services.kit.cache._locks import Attempt, LockManagerBase

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _unavailable_on_outage(
    method: Callable[_P, Awaitable[_R]],
) -> Callable[_P, Coroutine[Any, Any, _R]]:
    @functools.wraps(method)
    async def translated(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return await method(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise Unavailable(
                f"cache backend unreachable: {exc}", reason="CACHE_UNAVAILABLE"
            ) from exc

    return translated


def _millis(ttl: float) -> int:
    # Rounded up, and at least 1 ms, so an entry never lives shorter than asked.
    return max(1, math.ceil(ttl * 1000))


def _as_bytes(value: bytes | str | None) -> bytes | None:
    # The client is built without decode_responses, but a URL may switch it on.
    return value.encode() if isinstance(value, str) else value


# Creates the counter with its expiry, or adds to an existing one and keeps its expiry.
# KEYS[1] counter; ARGV[1] amount; ARGV[2] ttl in ms, 0 for none.
_INCR = """
local created = redis.call('EXISTS', KEYS[1]) == 0
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and ARGV[2] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return total
"""


class RedisCache:
    """`Cache` on Redis strings. It owns the client: `close` closes the shared pool."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._redis = client
        self._prefix = f"{prefix}cache:"
        self._incr = client.register_script(_INCR)

    @_unavailable_on_outage
    async def get(self, key: str) -> bytes | None:
        return _as_bytes(await self._redis.get(self._prefix + key))

    @_unavailable_on_outage
    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        check_ttl(ttl)
        px = None if ttl is None else _millis(ttl)
        await self._redis.set(self._prefix + key, value, px=px)

    @_unavailable_on_outage
    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        check_ttl(ttl)
        px = None if ttl is None else _millis(ttl)
        return bool(await self._redis.set(self._prefix + key, value, px=px, nx=True))

    @_unavailable_on_outage
    async def delete(self, key: str) -> bool:
        return bool(await self._redis.delete(self._prefix + key))

    @_unavailable_on_outage
    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}  # MGET with no keys is a syntax error
        values = await self._redis.mget([self._prefix + key for key in wanted])
        found: dict[str, bytes] = {}
        for key, value in zip(wanted, values, strict=True):
            raw = _as_bytes(value)
            if raw is not None:
                found[key] = raw
        return found

    @_unavailable_on_outage
    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        check_ttl(ttl)
        px = 0 if ttl is None else _millis(ttl)
        try:
            total = await self._incr(keys=[self._prefix + key], args=[amount, px])
        except ResponseError as exc:
            raise ValueError(f"cache key {key!r} does not hold an integer: {exc}") from exc
        return int(total)

    @_unavailable_on_outage
    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


# A sorted set scored by each member's expiry in milliseconds of the server's clock.
# KEYS[1] the set; ARGV member, ttl ms. GT keeps the later expiry of a member added twice;
# the key itself expires with its last member, so an abandoned set does not linger.
_SET_ADD = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
redis.call('ZADD', KEYS[1], 'GT', string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
"""

# KEYS[1] the set. Returns {member, ms left, member, ms left, ...} of the live members.
_SET_MEMBERS = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local found = redis.call(
  'ZRANGE', KEYS[1], '(' .. string.format('%d', now), '+inf', 'BYSCORE', 'WITHSCORES')
for index = 2, #found, 2 do
  found[index] = string.format('%d', tonumber(found[index]) - now)
end
return found
"""


class RedisExpiringSet:
    """`ExpiringSet` on Redis sorted sets (`<prefix>set:<key>`), expiries by the server's
    clock so every replica agrees on them."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._prefix = f"{prefix}set:"
        self._add = client.register_script(_SET_ADD)
        self._members = client.register_script(_SET_MEMBERS)

    @_unavailable_on_outage
    async def add(self, key: str, member: str, *, ttl: float) -> None:
        check_ttl(ttl)
        await self._add(keys=[self._prefix + key], args=[member, _millis(ttl)])

    @_unavailable_on_outage
    async def members(self, key: str) -> dict[str, float]:
        found = await self._members(keys=[self._prefix + key])
        pairs = zip(found[0::2], found[1::2], strict=True)
        return {_text(member): int(left) / 1000 for member, left in pairs}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# GCRA, the same steps as `_gcra.gcra_step`, in integer microseconds of the server's clock.
# KEYS[1] arrival time; ARGV emission_us, limit, cost.
# Returns {allowed 0/1, remaining, reset_after_us, retry_after_us}. Numbers are formatted
# with %d because Lua's default formatting (%.14g) would round a 16-digit timestamp.
_GCRA = """
local emission = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tolerance = emission * limit
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission * cost
local allow_at = new_tat - tolerance
local function slots(used)
  local free = tolerance - used
  if free < 0 then return 0 end
  return (free - free % emission) / emission
end
if now < allow_at then
  return {0, slots(tat - now), tat - now, allow_at - now}
end
local ttl_ms = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', ttl_ms))
return {1, slots(new_tat - now), new_tat - now, 0}
"""


class RedisRateLimiter:
    """`RateLimiter` keeping one GCRA arrival time per key, expiring when it is no longer
    ahead of now (an absent key and an expired one mean the same: no recent hits)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._prefix = f"{prefix}rate:"
        self._gcra = client.register_script(_GCRA)

    @_unavailable_on_outage
    async def hit(self, key: str, *, limit: int, window: float, cost: int = 1) -> RateDecision:
        params = gcra_params(limit=limit, window=window, cost=cost)
        allowed, remaining, reset_us, retry_us = await self._gcra(
            keys=[self._prefix + key], args=[params.emission_us, params.limit, params.cost]
        )
        return RateDecision(
            allowed=bool(allowed),
            limit=params.limit,
            remaining=int(remaining),
            reset_after=int(reset_us) / MICROS,
            retry_after=int(retry_us) / MICROS,
        )


# KEYS[1] lock (value: owner token); KEYS[2] fencing counter; ARGV token, ttl ms.
# Returns {fencing, 0} when acquired, {0, holder's pttl} when not. Finding its own token means
# an earlier try whose reply was lost did acquire; the counter cannot have moved since, as
# only an acquisition moves it, so it is still this acquisition's fencing token.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {tonumber(redis.call('GET', KEYS[2])), 0}
end
if holder then
  return {0, redis.call('PTTL', KEYS[1])}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {redis.call('INCR', KEYS[2]), 0}
"""

# Compare-and-delete: only the owner's token releases the lock.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Compare-and-expire: only the owner's token extends the lock.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisLockManager(LockManagerBase):
    """`LockManager` on Redis keys holding the owner's token, with a `PX` expiry.

    The fencing counter of a name is a separate key that never expires (were it to restart
    from 1, fencing would stop protecting anything); it costs one small key per lock name.
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._prefix = f"{prefix}lock:"
        self._acquire = client.register_script(_ACQUIRE)
        self._release_script = client.register_script(_RELEASE)
        self._extend_script = client.register_script(_EXTEND)

    def _key(self, name: str) -> str:
        return f"{self._prefix}{{{name}}}"

    @_unavailable_on_outage
    async def _try_acquire(self, name: str, token: str, ttl: float) -> Attempt:
        key = self._key(name)
        fencing, holder_pttl = await self._acquire(
            keys=[key, f"{key}:fence"], args=[token, _millis(ttl)]
        )
        if int(fencing) > 0:
            return Attempt(fencing=int(fencing))
        # PTTL is -1 only for a key someone wrote without expiry: no ttl to report then.
        pttl = int(holder_pttl)
        return Attempt(fencing=None, holder_ttl=pttl / 1000 if pttl >= 0 else None)

    @_unavailable_on_outage
    async def _release(self, name: str, token: str) -> bool:
        return bool(await self._release_script(keys=[self._key(name)], args=[token]))

    @_unavailable_on_outage
    async def _extend(self, name: str, token: str, ttl: float) -> bool:
        result = await self._extend_script(keys=[self._key(name)], args=[token, _millis(ttl)])
        return bool(result)
