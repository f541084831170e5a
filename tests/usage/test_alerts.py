"""Alerts: each threshold of a quota or budget raises one alert per period and scope value —
stored, listed and published as a `usage.quota.*` / `usage.budget.*` event through the outbox
— and never again for the same period, however the usage arrives."""

from __future__ import annotations

from datetime import timedelta

from coder.usage.v1 import events_pb2, resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import ManualClock, Resources
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import TokenFactory, auth
from tests.usage.factories import (
    completion,
    create_budget,
    create_quota,
    publish,
    recorded,
)


def alert_of(event: object) -> resources_pb2.UsageAlert:
    payload = events_pb2.AlertRaised()
    assert event.data.Unpack(payload)  # type: ignore[attr-defined]
    return payload.alert


class TestQuotaAlerts:
    async def test_each_threshold_alerts_once_per_period(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
        alerts: EventRecorder,
    ) -> None:
        quota = await create_quota(
            stub,
            token(org, ("admin",)),
            name="daily",
            limit="1000",
            period=resources_pb2.PERIOD_DAY,
        )
        steps = [700, 150, 110, 140, 500]  # 700, 850 (warn), 960 (critical), 1100, 1600
        usage = []
        for count, tokens in enumerate(steps, start=1):
            usage.append(completion(org, clock, input_tokens=tokens, output_tokens=0))
            await publish(resources, [usage[-1]])
            await recorded(resources, org, count)
        await publish(resources, usage)  # all delivered again: nothing more is raised

        received = await alerts.settle(org, 3)
        assert [e.type for e in received] == [
            "usage.quota.warning",
            "usage.quota.critical",
            "usage.quota.exceeded",
        ]
        raised = [alert_of(e) for e in received]
        assert [a.used for a in raised] == ["850", "960", "1100"]
        assert [a.event_id for a in raised] == [usage[1].id, usage[2].id, usage[3].id]
        assert all(e.subject == quota.id for e in received)
        assert all(e.actor.id == "user-1" for e in received)
        listed = await stub.ListAlerts(
            api.ListAlertsRequest(limit_id=quota.id), metadata=auth(token(org))
        )
        assert [a.level for a in listed.alerts] == [
            resources_pb2.ALERT_LEVEL_EXCEEDED,
            resources_pb2.ALERT_LEVEL_CRITICAL,
            resources_pb2.ALERT_LEVEL_WARNING,
        ]

        # The next day counts from zero and may alert again.
        clock.advance(24 * 3600)
        await publish(resources, [completion(org, clock, input_tokens=900, output_tokens=0)])
        received = await alerts.settle(org, 4)
        assert received[-1].type == "usage.quota.warning"
        assert (
            alert_of(received[-1]).period_start.ToDatetime() > raised[0].period_start.ToDatetime()
        )

    async def test_one_event_past_several_thresholds_raises_them_all(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
        alerts: EventRecorder,
    ) -> None:
        await create_quota(stub, token(org, ("admin",)), limit="100")
        await publish(resources, [completion(org, clock, input_tokens=250, output_tokens=0)])
        received = await alerts.settle(org, 3)
        assert [e.type for e in received] == [
            "usage.quota.warning",
            "usage.quota.critical",
            "usage.quota.exceeded",
        ]

    async def test_per_user_quotas_alert_for_each_user(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
        alerts: EventRecorder,
    ) -> None:
        await create_quota(
            stub,
            token(org, ("admin",)),
            limit="100",
            scope=resources_pb2.SCOPE_USER,
            warning_percent=50,
            critical_percent=100,
        )
        await publish(
            resources,
            [
                completion(org, clock, user="ann", input_tokens=60, output_tokens=0),
                completion(org, clock, user="bob", input_tokens=70, output_tokens=0),
                completion(org, clock, user="cyd", input_tokens=10, output_tokens=0),
            ],
        )
        received = await alerts.settle(org, 2)
        assert sorted(alert_of(e).scope_value for e in received) == ["ann", "bob"]
        assert {e.type for e in received} == {"usage.quota.warning"}


class TestBudgetAlerts:
    async def test_the_projection_alerts_before_the_amount_is_reached(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
        alerts: EventRecorder,
    ) -> None:
        now = clock.now()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        assert now - month > timedelta(days=8)  # over a quarter of the month has passed
        budget = await create_budget(stub, token(org, ("admin",)), amount="100")
        # 50 spent in the first ~45% of the month projects to ~110 by its end.
        await publish(resources, [completion(org, clock, cost="50")])
        received = await alerts.settle(org, 1)
        assert [e.type for e in received] == ["usage.budget.forecast_exceeded"]
        alert = alert_of(received[0])
        assert alert.limit_id == budget.id and alert.used == "50"
        assert float(alert.projected) > 100
        await publish(resources, [completion(org, clock, cost="45")])
        received = await alerts.settle(org, 3)
        assert [e.type for e in received[1:]] == ["usage.budget.warning", "usage.budget.critical"]


class TestManyAlertsAtOnce:
    async def test_more_alerts_than_one_batch_holds_are_all_raised_once(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
        alerts: EventRecorder,
    ) -> None:
        admin = token(org, ("admin",))
        for n in range(25):
            await create_quota(stub, admin, name=f"q{n}", limit=str(10 + n))
        for n in range(10):
            await create_budget(stub, admin, name=f"b{n}", amount="0.01")
        # One event past every threshold of 35 limits: 25 x 3 + 10 x 4 alerts, with their
        # events 230 operations, far more than one atomic batch.
        usage = completion(org, clock, input_tokens=1000, output_tokens=0, cost="5")
        await publish(resources, [usage])
        received = await alerts.settle(org, 115)
        assert len({(e.subject, e.type) for e in received}) == 115
        await publish(resources, [usage])  # delivered again: nothing more is raised
        assert len(await alerts.settle(org, 115)) == 115
        listed = await stub.ListAlerts(api.ListAlertsRequest(page_size=1000), metadata=auth(admin))
        assert len(listed.alerts) == 115
