"""What both lock backends share: the held lock, the waiting loop and the context manager.

A backend only says how to try once, release and extend; waiting with backoff, ownership
tokens and the `async with` form are written here once so the two cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.kit.cache._api import Lock, LockLost, LockNotAcquired

_log = logging.getLogger(__name__)

# Polling starts fast so an uncontended hand-over is quick, and backs off so many waiters do
# not hammer the backend; the cap bounds how late a waiter notices a release.
_FIRST_POLL = 0.005
_MAX_POLL = 0.1


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one try: the fencing token if acquired, else the holder's ttl left."""

    fencing: int | None
    holder_ttl: float | None = None


class HeldLock:
    """A lock this process acquired; see `Lock`."""

    __slots__ = ("_fencing", "_manager", "_name", "_token")

    def __init__(self, manager: LockManagerBase, name: str, token: str, fencing: int) -> None:
        self._manager = manager
        self._name = name
        self._token = token
        self._fencing = fencing

    @property
    def name(self) -> str:
        return self._name

    @property
    def token(self) -> str:
        return self._token

    @property
    def fencing(self) -> int:
        return self._fencing

    async def extend(self, ttl: float) -> None:
        _check_positive("ttl", ttl)
        if not await self._manager._extend(self._name, self._token, ttl):
            raise LockLost(
                f"lock {self._name!r} expired or was taken over before it was extended",
                metadata={"lock": self._name},
            )

    async def release(self) -> bool:
        return await self._manager._release(self._name, self._token)

    def __repr__(self) -> str:
        return f"HeldLock(name={self._name!r}, fencing={self._fencing})"


class LockManagerBase(ABC):
    """A `LockManager` built on three backend primitives, each atomic in its backend."""

    @abstractmethod
    async def _try_acquire(self, name: str, token: str, ttl: float) -> Attempt:
        """Take `name` for `token` if nobody holds it; a retry with the same token that
        finds the lock already its own must report it acquired with the same fencing."""

    @abstractmethod
    async def _release(self, name: str, token: str) -> bool:
        """Delete `name` only if `token` holds it."""

    @abstractmethod
    async def _extend(self, name: str, token: str, ttl: float) -> bool:
        """Reset the expiry of `name` to `ttl` from now only if `token` holds it."""

    async def _wait_for_change(self, name: str, pause: float) -> None:
        """Pause before the next try; a backend that can hear releases returns early."""
        await asyncio.sleep(pause)

    async def acquire(self, name: str, *, ttl: float, wait: float = 0) -> Lock:
        """See `LockManager.acquire`."""
        _check_positive("ttl", ttl)
        if wait < 0:
            raise ValueError(f"wait must not be negative, got {wait}")
        token = secrets.token_urlsafe(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        poll = _FIRST_POLL
        while True:
            attempt = await self._try_acquire(name, token, ttl)
            if attempt.fencing is not None:
                return HeldLock(self, name, token, attempt.fencing)
            left = deadline - loop.time()
            if left <= 0:
                raise LockNotAcquired(
                    f"lock {name!r} is held by another owner",
                    retry_after=attempt.holder_ttl,
                    metadata={"lock": name},
                )
            # Jitter spreads waiters that started together; it is not security-relevant.
            pause = poll * random.uniform(0.5, 1.0)  # noqa: S311
            if attempt.holder_ttl is not None:
                pause = min(pause, attempt.holder_ttl)
            await self._wait_for_change(name, min(pause, left))
            poll = min(poll * 2, _MAX_POLL)

    @asynccontextmanager
    async def lock(self, name: str, *, ttl: float, wait: float = 0) -> AsyncIterator[Lock]:
        """See `LockManager.lock`."""
        held = await self.acquire(name, ttl=ttl, wait=wait)
        try:
            yield held
        finally:
            # Not raised: the guarded work has already happened, and turning a finished
            # operation into an error would invite a retry that repeats it. Fencing tokens,
            # not this warning, are what keep an overrun holder's writes out.
            if not await held.release():
                _log.warning("lock %r expired before its holder released it", name)


def _check_positive(what: str, seconds: float) -> None:
    if not seconds > 0:
        raise ValueError(f"{what} must be positive seconds, got {seconds}")
