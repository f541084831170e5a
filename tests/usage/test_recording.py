"""Recording: every usage event is counted once by its id, exactly, in the hour, day and month
it happened, broken down by its dimensions; unusable events are dead-lettered, not counted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from google.protobuf import struct_pb2

from coder.usage.v1 import events_pb2, resources_pb2
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import ManualClock, Resources
from services.kit.bus import MemoryBus
from tests.fixtures.tokens import TokenFactory
from tests.fixtures.waiting import eventually
from tests.usage.factories import (
    completion,
    event,
    meter_total,
    publish,
    query,
    recorded,
    records_stored,
    stamp,
    totals,
)


class TestTotals:
    async def test_meters_add_up_exactly_by_dimension(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        events = [
            completion(
                org,
                clock,
                user="ann",
                model="gpt-4o",
                input_tokens=1200,
                output_tokens=300,
                cost="0.0000001",
            ),
            completion(
                org,
                clock,
                user="ann",
                model="gpt-4o-mini",
                input_tokens=10,
                output_tokens=5,
                cost="0.1",
                quantities={"latency_ms": "900"},
            ),
            completion(
                org,
                clock,
                user="bob",
                model="gpt-4o",
                input_tokens=7,
                output_tokens=1,
                cost="0.2",
                quantities={"latency_ms": "1500.5"},
            ),
        ]
        await publish(resources, events)
        await recorded(resources, org, 3)

        by_user = totals(await query(stub, token(org), group_by=["user"]))
        assert by_user[("ai.completion.tokens", "ann")] == 1515
        assert by_user[("ai.completion.tokens", "bob")] == 8
        assert by_user[("ai.completion.requests", "ann")] == 2
        assert by_user[("ai.completion.cost", "ann")] == Decimal("0.1000001")
        assert by_user[("ai.completion.max_latency", "bob")] == Decimal("1500.5")

        overall = await query(stub, token(org))
        assert meter_total(overall, "ai.completion.input_tokens") == 1217
        assert meter_total(overall, "ai.completion.users") == 2
        assert meter_total(overall, "ai.completion.max_latency") == Decimal("1500.5")
        # Costs pass through the default price at one dollar per dollar, to the last digit.
        assert overall.total_amount == "0.3000001"
        by_model = totals(
            await query(
                stub, token(org), group_by=["model"], meters=["ai.completion.output_tokens"]
            )
        )
        assert by_model == {
            ("ai.completion.output_tokens", "gpt-4o"): 301,
            ("ai.completion.output_tokens", "gpt-4o-mini"): 5,
        }

    async def test_the_user_defaults_to_the_events_actor(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        unnamed = completion(org, clock, user="")
        unnamed.actor.id = "carol"
        await publish(resources, [unnamed])
        await recorded(resources, org, 1)
        by_user = totals(await query(stub, token(org), group_by=["user"]))
        assert by_user[("ai.completion.requests", "carol")] == 1

    async def test_late_usage_lands_in_the_hour_it_happened(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        now = clock.now()
        earlier = now - timedelta(days=3, hours=5)
        await publish(
            resources, [completion(org, clock, at=earlier, input_tokens=40, output_tokens=2)]
        )
        await recorded(resources, org, 1)
        hour = earlier.replace(minute=0, second=0, microsecond=0)
        found = await query(
            stub,
            token(org),
            window=resources_pb2.WINDOW_HOUR,
            start_time=stamp(hour - timedelta(hours=2)),
            end_time=stamp(now),
            meters=["ai.completion.tokens"],
        )
        assert [(row.window_start.ToDatetime().hour, row.value) for row in found.rows] == [
            (hour.hour, "42")
        ]


class TestExactlyOnce:
    async def test_an_event_delivered_again_counts_once(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        events = [completion(org, clock, input_tokens=n, output_tokens=0) for n in range(1, 31)]
        # Duplicates inside one delivery burst and across bursts.
        await publish(resources, events + events[:10])
        await recorded(resources, org, 30)
        # Redelivered again, then one new event: the recorder takes deliveries in order, so
        # once the new one is stored every duplicate before it has been dealt with.
        sentinel = completion(org, clock, input_tokens=1000, output_tokens=0)
        await publish(resources, [*events[5:25], sentinel])
        await recorded(resources, org, 31)
        assert await records_stored(resources, org) == 31
        response = await query(stub, token(org))
        assert meter_total(response, "ai.completion.tokens") == sum(range(1, 31)) + 1000
        assert meter_total(response, "ai.completion.requests") == 31


class TestUnusableEvents:
    @pytest.mark.parametrize(
        "spoil",
        [
            "wrong payload type",
            "bad quantity",
            "another organization",
            "control character",
        ],
    )
    async def test_they_are_dead_lettered_and_not_counted(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
        spoil: str,
    ) -> None:
        bus = resources.bus
        assert isinstance(bus, MemoryBus)
        if spoil == "wrong payload type":
            bad = event("ai.completion.completed", org, clock, struct_pb2.Struct())
        elif spoil == "bad quantity":
            bad = completion(org, clock, input_tokens="12e3")
        elif spoil == "another organization":
            bad = completion(org, clock)
            payload = events_pb2.UsageRecorded()
            bad.data.Unpack(payload)
            payload.organization_id = "org-someone-else"
            bad.data.Pack(payload)
        else:
            bad = completion(org, clock, model="gpt\x07")
        good = completion(org, clock, input_tokens=5, output_tokens=0)
        await publish(resources, [bad, good])
        await recorded(resources, org, 1)

        async def dead_lettered() -> bool:
            return any(d.event.id == bad.id for d in bus.dead_letters("usage-ai"))

        await eventually(dead_lettered)
        assert await records_stored(resources, org) == 1
        response = await query(stub, token(org))
        assert meter_total(response, "ai.completion.tokens") == 5
