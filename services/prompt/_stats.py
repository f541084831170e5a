"""Experiment arithmetic: deterministic hash bucketing and Wilson score intervals."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Protocol

BUCKETS = 10_000
"""Buckets a bucketing key hashes into; variants own ranges of them by weight."""


class Weighted(Protocol):
    @property
    def weight(self) -> int: ...


def bucket(experiment_id: str, key: str) -> int:
    """The key's bucket in the experiment, 0 to BUCKETS - 1: the first eight bytes of
    SHA-256(`experiment_id:key`). Salting with the experiment id keeps a key's buckets in two
    experiments independent."""
    digest = hashlib.sha256(f"{experiment_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(experiment_id: str, key: str, variants: Sequence[Weighted]) -> int:
    """Index of the variant whose range of buckets holds the key's bucket; ranges follow the
    variants' order, each as wide as its share of the total weight."""
    total = sum(variant.weight for variant in variants)
    point = bucket(experiment_id, key) * total // BUCKETS
    edge = 0
    for index, variant in enumerate(variants):
        edge += variant.weight
        if point < edge:
            return index
    return len(variants) - 1


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of a success rate (0 to 1 without trials): unlike the normal
    approximation it stays inside [0, 1] and behaves at small counts and extreme rates."""
    if trials == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return lower, upper
