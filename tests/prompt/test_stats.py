"""Bucketing and Wilson intervals against known values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from services.prompt._stats import BUCKETS, assign, bucket, wilson_interval


@dataclass
class Arm:
    weight: int


class TestBucketing:
    def test_a_key_always_lands_in_the_same_bucket(self) -> None:
        assert bucket("exp-1", "user-1") == bucket("exp-1", "user-1")
        assert 0 <= bucket("exp-1", "user-1") < BUCKETS
        # Salting with the experiment keeps two experiments' buckets independent.
        same = sum(bucket("exp-1", f"u{i}") == bucket("exp-2", f"u{i}") for i in range(1000))
        assert same < 10

    def test_weights_share_the_buckets(self) -> None:
        arms = [Arm(1), Arm(2), Arm(7)]
        counts = Counter(assign("exp", f"key-{i}", arms) for i in range(20000))
        for index, share in enumerate((0.1, 0.2, 0.7)):
            assert abs(counts[index] / 20000 - share) < 0.02


class TestWilson:
    @pytest.mark.parametrize(
        ("successes", "trials", "confidence", "lower", "upper"),
        [
            (81, 263, 0.95, 0.2553, 0.3662),
            (0, 10, 0.95, 0.0, 0.2775),
            (10, 10, 0.95, 0.7225, 1.0),
            (50, 100, 0.99, 0.3753, 0.6247),
        ],
    )
    def test_known_intervals(
        self, successes: int, trials: int, confidence: float, lower: float, upper: float
    ) -> None:
        got = wilson_interval(successes, trials, confidence)
        assert got == pytest.approx((lower, upper), abs=1e-4)

    def test_no_trials_says_nothing(self) -> None:
        assert wilson_interval(0, 0, 0.95) == (0.0, 1.0)
