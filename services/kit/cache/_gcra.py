"""GCRA, the rate limiting algorithm both limiter backends run.

Time is in whole microseconds and the spacing between hits (`emission_us`) is an integer, so
the arithmetic is exact: no float drift lets an eleventh hit through a limit of ten, or
refuses the tenth. The Redis backend runs the same steps in Lua (`_redis.py`); Lua numbers
are doubles, exact for integers below 2**53, and epoch microseconds (about 1.8e15) fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.cache._api import RateDecision

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class GcraParams:
    """A validated `hit` request in integer microseconds."""

    limit: int
    cost: int
    emission_us: int
    """Spacing of hits at the steady rate: window / limit."""

    @property
    def tolerance_us(self) -> int:
        """How far ahead of now the arrival time may run: a burst of `limit` hits.

        It is `emission_us * limit` rather than the window itself so that exactly `limit`
        hits fit; it falls short of the window by less than `limit` microseconds.
        """
        return self.emission_us * self.limit


def gcra_params(*, limit: int, window: float, cost: int) -> GcraParams:
    """Check the arguments of `RateLimiter.hit` and convert them; ValueError if unusable."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if not window > 0:
        raise ValueError(f"window must be positive, got {window}")
    if cost < 1:
        raise ValueError(f"cost must be at least 1, got {cost}")
    if cost > limit:
        raise ValueError(f"cost {cost} exceeds limit {limit}: the hit could never be allowed")
    emission_us = round(window * MICROS) // limit
    if emission_us < 1:
        raise ValueError(f"limit {limit} per {window}s is finer than one hit per microsecond")
    return GcraParams(limit=limit, cost=cost, emission_us=emission_us)


def gcra_step(params: GcraParams, tat: int | None, now: int) -> tuple[RateDecision, int | None]:
    """Decide one hit given the key's stored arrival time `tat` (None if none) at `now`.

    Returns the decision and the arrival time to store, or None when the hit is refused
    (a refused hit costs nothing, so a client hammering a closed limit does not extend it).
    """
    tat = now if tat is None or tat < now else tat
    new_tat = tat + params.emission_us * params.cost
    allow_at = new_tat - params.tolerance_us
    if now < allow_at:
        remaining = max(0, (params.tolerance_us - (tat - now)) // params.emission_us)
        decision = RateDecision(
            allowed=False,
            limit=params.limit,
            remaining=remaining,
            reset_after=(tat - now) / MICROS,
            retry_after=(allow_at - now) / MICROS,
        )
        return decision, None
    remaining = (params.tolerance_us - (new_tat - now)) // params.emission_us
    decision = RateDecision(
        allowed=True,
        limit=params.limit,
        remaining=remaining,
        reset_after=(new_tat - now) / MICROS,
        retry_after=0.0,
    )
    return decision, new_tat
