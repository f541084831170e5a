"""Prices: usage is charged, exactly, by the price in effect when it happened — the
organization's own, else the platform default — per unit, thousand, million or minute, in
graduated tiers over the month's running total."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import grpc
import pytest

from coder.usage.v1 import events_pb2, resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import ManualClock, Resources
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.usage.factories import (
    completion,
    create_price,
    event,
    publish,
    query,
    recorded,
    stamp,
    totals,
)

PER_THOUSAND = resources_pb2.PRICE_UNIT_PER_THOUSAND
PER_MILLION = resources_pb2.PRICE_UNIT_PER_MILLION
PER_MINUTE = resources_pb2.PRICE_UNIT_PER_MINUTE


def amounts(response: api.QueryUsageResponse) -> dict[tuple[str, ...], Decimal]:
    found: dict[tuple[str, ...], Decimal] = {}
    for row in response.rows:
        key = (row.meter, *row.dimensions.values())
        found[key] = found.get(key, Decimal(0)) + Decimal(row.amount)
    return found


class TestCharges:
    async def test_a_price_per_million_tokens(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await create_price(
            stub,
            token(org, ("admin",)),
            "ai.completion.input_tokens",
            ("", "0.15"),
            unit=PER_MILLION,
        )
        await publish(
            resources,
            [
                completion(org, clock, input_tokens=1234, output_tokens=0, cost="0"),
                completion(org, clock, input_tokens=1, output_tokens=0, cost="0"),
            ],
        )
        await recorded(resources, org, 2)
        found = await query(stub, token(org))
        assert amounts(found)[("ai.completion.input_tokens",)] == Decimal("0.00018525")
        assert found.total_amount == "0.00018525"

    async def test_tiers_are_graduated_over_the_months_running_total(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await create_price(
            stub,
            token(org, ("admin",)),
            "ai.completion.input_tokens",
            ("1000", "2"),
            ("3000", "1"),
            ("", "0.5"),
            unit=PER_THOUSAND,
        )
        users = ["ann", "bob", "ann", "cyd"]
        sizes = [600, 600, 2000, 1000]
        for count, (user, size) in enumerate(zip(users, sizes, strict=True), start=1):
            # One at a time, so each event is charged after the one before.
            await publish(
                resources,
                [completion(org, clock, user=user, input_tokens=size, output_tokens=0, cost="0")],
            )
            await recorded(resources, org, count)
        by_user = amounts(await query(stub, token(org), group_by=["user"]))
        # 4,200 tokens: 1,000 at 2/k + 2,000 at 1/k + 1,200 at 0.5/k = 4.6, split by user in
        # the order the tiers filled.
        total = sum(v for k, v in by_user.items() if k[0] == "ai.completion.input_tokens")
        assert total == Decimal("4.6")
        assert by_user[("ai.completion.input_tokens", "cyd")] == Decimal("0.5")

    async def test_a_price_per_minute_of_seconds(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await create_price(
            stub, token(org, ("admin",)), "mcp.execution.duration", ("", "0.06"), unit=PER_MINUTE
        )
        usage = events_pb2.UsageRecorded(
            user_id="ann",
            quantities={"duration_seconds": "90"},
            attributes={"server": "github", "tool": "search"},
        )
        await publish(resources, [event("mcp.tool.executed", org, clock, usage)])
        await recorded(resources, org, 1)
        found = await query(stub, token(org), category="mcp.execution", group_by=["tool"])
        assert amounts(found)[("mcp.execution.duration", "search")] == Decimal("0.09")
        assert totals(found)[("mcp.execution.executions", "search")] == 1

    async def test_the_default_passes_costs_through_and_an_override_replaces_it(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await publish(resources, [completion(org, clock, cost="0.5")])
        await recorded(resources, org, 1)
        assert (await query(stub, token(org))).total_amount == "0.5"
        await create_price(stub, token(org, ("admin",)), "ai.completion.cost", ("", "1.2"))
        await publish(resources, [completion(org, clock, cost="0.5")])
        await recorded(resources, org, 2)
        assert (await query(stub, token(org))).total_amount == "1.1"

    async def test_effective_dates_pick_the_price_of_the_moment_of_use(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        now = clock.now()
        await create_price(
            stub,
            token(org, ("admin",)),
            "ai.completion.cost",
            ("", "3"),
            effective_from=stamp(now + timedelta(hours=1)),
            effective_until=stamp(now + timedelta(hours=2)),
        )
        await publish(
            resources,
            [
                completion(org, clock, cost="1", user="before", at=now + timedelta(minutes=30)),
                completion(org, clock, cost="1", user="during", at=now + timedelta(minutes=90)),
                completion(org, clock, cost="1", user="after", at=now + timedelta(minutes=150)),
            ],
        )
        await recorded(resources, org, 3)
        by_user = amounts(
            await query(
                stub,
                token(org),
                group_by=["user"],
                meters=["ai.completion.cost"],
                end_time=stamp(now + timedelta(hours=3)),
            )
        )
        assert by_user == {
            ("ai.completion.cost", "before"): 1,
            ("ai.completion.cost", "during"): 3,
            ("ai.completion.cost", "after"): 1,
        }


class TestPriceRules:
    @pytest.mark.parametrize(
        ("price", "field"),
        [
            (resources_pb2.Price(meter="ai.completion.nope"), "price.meter"),
            (resources_pb2.Price(meter="ai.completion.max_latency"), "price.meter"),
            (resources_pb2.Price(meter="ai.completion.tokens", unit=PER_MINUTE), "price.unit"),
            (resources_pb2.Price(meter="ai.completion.tokens", currency="EUR"), "price.currency"),
        ],
    )
    async def test_bad_prices_name_the_field(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        org: str,
        price: resources_pb2.Price,
        field: str,
    ) -> None:
        if not price.unit:
            price.unit = resources_pb2.PRICE_UNIT_PER_UNIT
        price.tiers.add(unit_price="1")
        error = await rpc_error(
            stub.CreatePrice(
                api.CreatePriceRequest(price=price), metadata=auth(token(org, ("admin",)))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert field in violated_fields(error)

    @pytest.mark.parametrize(
        ("tiers", "field"),
        [
            ([("100", "1"), ("50", "1"), ("", "1")], "price.tiers[1].up_to"),
            ([("100", "1"), ("200", "1")], "price.tiers[1].up_to"),
            ([("", "1"), ("", "1")], "price.tiers[0].up_to"),
        ],
    )
    async def test_tiers_must_rise_and_end_open(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        org: str,
        tiers: list[tuple[str, str]],
        field: str,
    ) -> None:
        error = await rpc_error(
            create_price(stub, token(org, ("admin",)), "ai.completion.tokens", *tiers),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert field in violated_fields(error)

    async def test_no_price_takes_effect_in_the_past(
        self, stub: UsageServiceStub, token: TokenFactory, org: str, clock: ManualClock
    ) -> None:
        now = clock.now()
        error = await rpc_error(
            create_price(
                stub,
                token(org, ("admin",)),
                "ai.completion.tokens",
                ("", "1"),
                effective_from=stamp(now - timedelta(hours=1)),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "price.effective_from" in violated_fields(error)
        error = await rpc_error(
            create_price(
                stub,
                token(org, ("admin",)),
                "ai.completion.tokens",
                ("", "1"),
                effective_from=stamp(now + timedelta(hours=2)),
                effective_until=stamp(now + timedelta(hours=1)),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "price.effective_until" in violated_fields(error)

    async def test_only_a_price_not_yet_in_effect_can_be_deleted(
        self, stub: UsageServiceStub, token: TokenFactory, org: str, clock: ManualClock
    ) -> None:
        admin = token(org, ("admin",))
        now = clock.now()
        current = await create_price(stub, admin, "ai.completion.tokens", ("", "1"))
        future = await create_price(
            stub,
            admin,
            "ai.completion.tokens",
            ("", "2"),
            effective_from=stamp(now + timedelta(days=1)),
        )
        error = await rpc_error(
            stub.DeletePrice(api.DeletePriceRequest(price_id=current.id), metadata=auth(admin)),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "PRICE_IN_EFFECT"
        error = await rpc_error(
            stub.DeletePrice(
                api.DeletePriceRequest(price_id="default-ai.completion.cost"), metadata=auth(admin)
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "PRICE_IS_DEFAULT"
        await stub.DeletePrice(api.DeletePriceRequest(price_id=future.id), metadata=auth(admin))
        listed = await stub.ListPrices(api.ListPricesRequest(), metadata=auth(token(org)))
        assert [p.id for p in listed.prices] == [current.id]
        assert {p.meter for p in listed.platform_defaults} == {
            "ai.completion.cost",
            "ai.embedding.cost",
        }
        default = await stub.GetPrice(
            api.GetPriceRequest(price_id="default-ai.completion.cost"), metadata=auth(token(org))
        )
        assert default.price.platform_default

    async def test_members_cannot_set_prices(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        await rpc_error(
            create_price(stub, token(org, ("member",)), "ai.completion.tokens", ("", "1")),
            grpc.StatusCode.PERMISSION_DENIED,
        )
