"""The cache, rate limiter and lock ports, and the errors they raise.

Two backends implement every port: in-process (`_memory.py`, embedded mode) and Redis
(`_redis.py`, distributed mode). Both pass the same conformance suite, so a service written
against these protocols behaves the same on a laptop and in production.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from services.kit._errors import Aborted


class LockNotAcquired(Aborted):
    """Another holder has the lock and it did not come free within `wait`.

    ABORTED rather than FAILED_PRECONDITION: contention is a transient concurrency conflict
    that a retry resolves on its own (the holder releases, or its lock expires), whereas
    FAILED_PRECONDITION tells a client not to retry until it has fixed the system's state.
    `retry_after` carries the holder's remaining ttl when the backend knows it, so the error
    interceptor can send it on as RetryInfo.
    """

    default_reason = "LOCK_NOT_ACQUIRED"


class LockLost(Aborted):
    """The caller's lock expired or was taken over, so it can no longer be extended.

    Work guarded by the lock may now overlap with another holder's; the caller should stop
    and retry from a fresh read (the fencing token lets storage reject the stale writes).
    """

    default_reason = "LOCK_LOST"


def check_ttl(ttl: float | None) -> None:
    """Refuse a ttl that is not a positive number of seconds (None, meaning none, is fine)."""
    if ttl is not None and not ttl > 0:
        raise ValueError(f"ttl must be positive seconds or None, got {ttl}")


class Cache(Protocol):
    """A byte-value cache with per-key expiry, namespaced by the prefix it was built with.

    Keys are plain strings chosen by the caller; the backend adds its prefix, so two
    deployments sharing one Redis keep apart. `ttl` is in seconds and must be positive;
    `None` means the entry lives until deleted (or evicted by the memory backend's size bound).
    """

    async def get(self, key: str) -> bytes | None:
        """The value stored at `key`, or None if absent or expired."""
        ...

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store `value` at `key`, replacing any value and expiry it had."""
        ...

    async def set_if_absent(self, key: str, value: bytes, *, ttl: float | None = None) -> bool:
        """Store `value` only if `key` holds nothing; True if this call stored it."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove `key`; True if it held a value."""
        ...

    async def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """The values of those `keys` that are present, by key; missing keys are left out."""
        ...

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        """Add `amount` to the integer counter at `key` (absent counts as 0); the new value.

        `ttl` applies only when this call creates the counter: an existing counter keeps its
        expiry, so `incr(k, ttl=60)` counts within a fixed 60-second window. The value is
        stored as ASCII digits, so `get` reads it back as `b"3"`. Raises ValueError if the
        key holds something that is not an integer.
        """
        ...

    async def ping(self) -> None:
        """Return if the backend answers; raise `Unavailable` if it does not."""
        ...

    async def close(self) -> None:
        """Release the backend's connections (the Redis pool is shared with the limiter
        and locks built alongside, so close it once, through `CacheBackends.close`)."""
        ...


class ExpiringSet(Protocol):
    """Named sets of string members, each member with its own expiry, shared by every holder
    of the same backend (every replica of every service, on Redis).

    Made for state that many processes mirror and that only matters for a while, such as the
    revoked sessions a token verifier must know of until their last token has expired: a
    process loads the live members at start-up and whenever it resynchronises.
    """

    async def add(self, key: str, member: str, *, ttl: float) -> None:
        """Put `member` in the set `key` until `ttl` seconds from now; a member already there
        keeps the later of its two expiries."""
        ...

    async def members(self, key: str) -> dict[str, float]:
        """The live members of `key`, each with the seconds it has left."""
        ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of one `RateLimiter.hit`, with what an HTTP 429 reply needs.

    - `allowed`: the hit fits and was counted; a refused hit is not counted.
    - `limit`: hits the window admits (the `RateLimit-Policy` quota).
    - `remaining`: hits still admissible right now after this one (`RateLimit` r=).
    - `reset_after`: seconds until the full `limit` is available again (`RateLimit` t=).
    - `retry_after`: seconds until this same hit would be allowed; 0 when allowed
      (`Retry-After`, rounded up to whole seconds on the wire).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


class RateLimiter(Protocol):
    """Admits at most `limit` units of cost per `window` seconds per key.

    Implemented as GCRA (generic cell rate algorithm): a key's state is one timestamp, the
    "theoretical arrival time". Hits may burst up to `limit` at once, then are admitted at
    the steady rate of one per `window / limit` seconds, so there is no boundary effect as
    with fixed windows (twice the limit across a window edge) and no per-hit log to store.
    """

    async def hit(self, key: str, *, limit: int, window: float, cost: int = 1) -> RateDecision:
        """Count a hit of `cost` units against `key` if it fits, atomically.

        Raises ValueError if `limit < 1`, `window <= 0`, `cost < 1` or `cost > limit` (such a
        hit could never be allowed, which is a caller's bug rather than a rate decision).
        """
        ...


class Lock(Protocol):
    """One acquisition of a named lock.

    The lock expires `ttl` seconds after acquisition (or the last `extend`), so a holder that
    crashes cannot block others for ever. Because it can expire under a slow holder, writes it
    guards should carry `fencing` and the store should reject a fencing token lower than one
    it has already seen.
    """

    @property
    def name(self) -> str:
        """The lock's name, as passed to `acquire`."""
        ...

    @property
    def token(self) -> str:
        """A random value unique to this acquisition; proves ownership on release/extend."""
        ...

    @property
    def fencing(self) -> int:
        """Strictly greater than the fencing token of every earlier acquisition of this name."""
        ...

    async def extend(self, ttl: float) -> None:
        """Make the lock expire `ttl` seconds from now; raise `LockLost` if no longer held."""
        ...

    async def release(self) -> bool:
        """Give the lock up; True if it was still held by this acquisition.

        False means it had expired (and may now belong to someone else, whose lock is left
        untouched). Releasing twice is harmless.
        """
        ...


class LockManager(Protocol):
    """Hands out named, expiring, mutually exclusive locks."""

    async def acquire(self, name: str, *, ttl: float, wait: float = 0) -> Lock:
        """Take the lock `name` for `ttl` seconds.

        If it is held, keep trying for up to `wait` seconds (real time: it bounds how long
        the caller blocks), then raise `LockNotAcquired`. `wait=0` tries once.
        """
        ...

    def lock(self, name: str, *, ttl: float, wait: float = 0) -> AbstractAsyncContextManager[Lock]:
        """`async with locks.lock("job:1", ttl=30) as held:` acquires, then releases on exit."""
        ...
