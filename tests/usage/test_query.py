"""QueryUsage: a range is read from the fewest whole buckets (months, days, hours at the
edges), and the answer is the same as adding up the events one by one: sums exactly, distinct
users as a set, maxima as maxima; windows, filters and group-by as asked."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest

from coder.events.v1 import event_pb2
from coder.usage.v1 import resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import ManualClock, Resources
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.usage.factories import completion, publish, query, recorded, stamp, totals

FIRST = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
USERS = ("ann", "bob", "cyd", "dee")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-sonnet")


@pytest.fixture(scope="module")
async def history(
    resources: Resources, clock: ManualClock
) -> tuple[str, list[tuple[datetime, str, str, int, int]]]:
    """An organization with 300 completions spread over ten weeks, at random hours."""
    organization = "org-query-history"
    rng = random.Random(7)
    made: list[tuple[datetime, str, str, int, int]] = []
    events: list[event_pb2.Event] = []
    for _ in range(300):
        moment = FIRST + timedelta(minutes=rng.randrange(0, 70 * 24 * 60))
        user, model = rng.choice(USERS), rng.choice(MODELS)
        tokens, latency = rng.randrange(1, 5000), rng.randrange(100, 9000)
        made.append((moment, user, model, tokens, latency))
        events.append(
            completion(
                organization,
                clock,
                user=user,
                model=model,
                input_tokens=tokens,
                output_tokens=0,
                cost="0",
                at=moment,
                quantities={"latency_ms": str(latency)},
            )
        )
    await publish(resources, events)
    await recorded(resources, organization, len(events))
    return organization, made


RANGES = [
    # across two month boundaries, ragged hours at both ends
    (datetime(2026, 1, 20, 13, 0, tzinfo=UTC), datetime(2026, 3, 10, 7, 0, tzinfo=UTC)),
    # inside one day
    (datetime(2026, 2, 3, 2, 0, tzinfo=UTC), datetime(2026, 2, 3, 19, 0, tzinfo=UTC)),
    # exactly one month
    (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    # everything
    (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
]


class TestRanges:
    @pytest.mark.parametrize(("start", "end"), RANGES)
    async def test_a_range_equals_its_events_one_by_one(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        history: tuple[str, list[tuple[datetime, str, str, int, int]]],
        start: datetime,
        end: datetime,
    ) -> None:
        organization, made = history
        inside = [m for m in made if start <= m[0] < end]
        found = await query(
            stub,
            token(organization),
            start_time=stamp(start),
            end_time=stamp(end),
            group_by=["user"],
        )
        rows = totals(found)
        for user in USERS:
            mine = [m for m in inside if m[1] == user]
            assert rows.get(("ai.completion.tokens", user), 0) == sum(m[3] for m in mine)
            assert rows.get(("ai.completion.requests", user), 0) == len(mine)
            if mine:
                assert rows[("ai.completion.max_latency", user)] == max(m[4] for m in mine)
        whole = totals(
            await query(
                stub,
                token(organization),
                start_time=stamp(start),
                end_time=stamp(end),
                meters=["ai.completion.users", "ai.completion.max_latency"],
            )
        )
        # Distinct users across buckets of every size are a set, not a sum of counts.
        assert whole.get(("ai.completion.users",), 0) == len({m[1] for m in inside})
        assert whole.get(("ai.completion.max_latency",), 0) == max(
            (m[4] for m in inside), default=0
        )

    async def test_daily_windows_match_each_day(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        history: tuple[str, list[tuple[datetime, str, str, int, int]]],
    ) -> None:
        organization, made = history
        start, end = datetime(2026, 1, 28, 9, tzinfo=UTC), datetime(2026, 2, 6, 3, tzinfo=UTC)
        found = await query(
            stub,
            token(organization),
            start_time=stamp(start),
            end_time=stamp(end),
            window=resources_pb2.WINDOW_DAY,
            meters=["ai.completion.tokens"],
        )
        expected: dict[datetime, int] = defaultdict(int)
        for moment, *_rest, tokens, _latency in made:
            if start <= moment < end:
                day = max(start, moment.replace(hour=0, minute=0, second=0, microsecond=0))
                expected[day] += tokens
        got = {row.window_start.ToDatetime(tzinfo=UTC): int(row.value) for row in found.rows}
        assert got == dict(expected)
        # Windows are whole days clipped to the range.
        assert found.rows[0].window_start.ToDatetime(tzinfo=UTC) == start
        assert found.rows[0].window_end.ToDatetime(tzinfo=UTC) == datetime(2026, 1, 29, tzinfo=UTC)
        assert all(
            row.window_end.ToDatetime(tzinfo=UTC) <= end
            and row.window_end.seconds - row.window_start.seconds <= 86_400
            for row in found.rows
        )

    async def test_monthly_windows_and_filters(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        history: tuple[str, list[tuple[datetime, str, str, int, int]]],
    ) -> None:
        organization, made = history
        found = await query(
            stub,
            token(organization),
            start_time=stamp(datetime(2026, 1, 1, tzinfo=UTC)),
            end_time=stamp(datetime(2026, 4, 1, tzinfo=UTC)),
            window=resources_pb2.WINDOW_MONTH,
            group_by=["model"],
            user_ids=["ann", "bob"],
            models=["gpt-4o", "claude-sonnet"],
            meters=["ai.completion.tokens"],
        )
        expected: dict[tuple[int, str], int] = defaultdict(int)
        for moment, user, model, tokens, _ in made:
            if user in ("ann", "bob") and model in ("gpt-4o", "claude-sonnet"):
                expected[(moment.month, model)] += tokens
        got = {
            (row.window_start.ToDatetime().month, row.dimensions["model"]): int(row.value)
            for row in found.rows
        }
        assert got == dict(expected)


class TestDefaults:
    async def test_the_default_range_is_the_current_month(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        now = clock.now()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        await publish(
            resources,
            [
                completion(
                    org, clock, at=month + timedelta(minutes=1), input_tokens=3, output_tokens=0
                ),
                completion(
                    org, clock, at=month - timedelta(minutes=1), input_tokens=50, output_tokens=0
                ),
            ],
        )
        await recorded(resources, org, 2)
        found = await query(stub, token(org), meters=["ai.completion.tokens"])
        assert [row.value for row in found.rows] == ["3"]
        assert found.start_time.ToDatetime(tzinfo=UTC) == month
        assert found.currency == "USD"


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"group_by": ["colour"]}, "group_by[0]"),
            ({"meters": ["ai.completion.nothing"]}, "meters[0]"),
            ({"category": "ai.dreams"}, "category"),
            (
                {
                    "start_time": stamp(datetime(2026, 2, 1, tzinfo=UTC)),
                    "end_time": stamp(datetime(2026, 1, 1, tzinfo=UTC)),
                },
                "end_time",
            ),
            (
                {
                    "start_time": stamp(datetime(2025, 1, 1, tzinfo=UTC)),
                    "end_time": stamp(datetime(2026, 3, 1, tzinfo=UTC)),
                },
                "end_time",
            ),
            (
                {
                    "start_time": stamp(datetime(2026, 1, 1, tzinfo=UTC)),
                    "end_time": stamp(datetime(2026, 3, 1, tzinfo=UTC)),
                    "window": resources_pb2.WINDOW_HOUR,
                },
                "end_time",
            ),
        ],
    )
    async def test_bad_queries_name_the_field(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        org: str,
        fields: dict[str, object],
        field: str,
    ) -> None:
        error = await rpc_error(
            stub.QueryUsage(api.QueryUsageRequest(**fields), metadata=auth(token(org))),  # type: ignore[arg-type]
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert field in violated_fields(error)


def test_decimal_totals_are_exact() -> None:
    # Guards the premise of the exactness tests: binary floats would not give this.
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")
