"""Quotas, budgets and CheckQuota: a HARD limit used up refuses until its period resets, a
SOFT one only reports; limits count per scope, include the period's usage before they were
created, and change at once when updated."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from coder.usage.v1 import resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import ManualClock, Resources
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.usage.factories import (
    check,
    completion,
    create_budget,
    create_quota,
    publish,
    recorded,
)

HARD = resources_pb2.ENFORCEMENT_HARD
SOFT = resources_pb2.ENFORCEMENT_SOFT


async def use(
    resources: Resources, org: str, clock: ManualClock, count: int, **fields: object
) -> None:
    """Record one completion of `fields` and wait until `count` records are stored."""
    await publish(resources, [completion(org, clock, **fields)])  # type: ignore[arg-type]
    await recorded(resources, org, count)


class TestCheckQuota:
    async def test_a_hard_quota_refuses_once_used_up_and_a_soft_one_does_not(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        admin = token(org, ("admin",))
        hard = await create_quota(stub, admin, name="hard", limit="1000", enforcement=HARD)
        soft = await create_quota(
            stub,
            admin,
            name="soft",
            limit="500",
            enforcement=SOFT,
            meter="ai.completion.input_tokens",
        )
        decision = await check(stub, token(org))
        assert decision.allowed
        assert {s.limit_id: s.used for s in decision.limits} == {hard.id: "0", soft.id: "0"}

        await use(resources, org, clock, 1, input_tokens=700, output_tokens=100)
        decision = await check(stub, token(org))
        assert decision.allowed  # the soft quota is past its limit, the hard one is not
        states = {s.limit_id: s.state for s in decision.limits}
        assert states == {
            hard.id: resources_pb2.LIMIT_STATE_WARNING,
            soft.id: resources_pb2.LIMIT_STATE_EXCEEDED,
        }

        await use(resources, org, clock, 2, input_tokens=150, output_tokens=50)
        decision = await check(stub, token(org))
        assert not decision.allowed
        assert list(decision.blocking_limit_ids) == [hard.id]
        status = next(s for s in decision.limits if s.limit_id == hard.id)
        assert (status.used, status.remaining) == ("1000", "0")
        end_of_month = status.period_end.ToDatetime(tzinfo=clock.now().tzinfo)
        assert decision.retry_after.ToTimedelta() == end_of_month - clock.now()

    async def test_an_estimate_that_would_pass_the_limit_is_refused(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await create_quota(stub, token(org, ("admin",)), limit="1000")
        await use(resources, org, clock, 1, input_tokens=900, output_tokens=0)
        assert (await check(stub, token(org), estimate={"input_tokens": "50"})).allowed
        refused = await check(stub, token(org), estimate={"input_tokens": "150"})
        assert not refused.allowed

    async def test_each_user_counts_separately_and_a_named_project_alone(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        admin = token(org, ("admin",))
        per_user = await create_quota(stub, admin, scope=resources_pb2.SCOPE_USER, limit="100")
        apollo = await create_quota(
            stub, admin, scope=resources_pb2.SCOPE_PROJECT, scope_id="apollo", limit="500"
        )
        await use(
            resources,
            org,
            clock,
            1,
            user="ann",
            project="apollo",
            input_tokens=120,
            output_tokens=0,
        )
        ann = await check(stub, token(org, sub="ann"), project_id="apollo")
        bob = await check(stub, token(org, sub="bob"), project_id="apollo")
        elsewhere = await check(stub, token(org, sub="bob"), project_id="gemini")
        assert not ann.allowed and list(ann.blocking_limit_ids) == [per_user.id]
        assert bob.allowed
        assert {s.limit_id: s.used for s in bob.limits} == {per_user.id: "0", apollo.id: "120"}
        assert [s.limit_id for s in elsewhere.limits] == [per_user.id]
        # A caller may ask for another user, as the AI service does for the user it serves.
        assert not (await check(stub, token(org, sub="bob"), user_id="ann")).allowed

    async def test_the_count_starts_again_each_period(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await create_quota(
            stub, token(org, ("admin",)), limit="100", period=resources_pb2.PERIOD_DAY
        )
        await use(resources, org, clock, 1, input_tokens=100, output_tokens=0)
        assert not (await check(stub, token(org))).allowed
        clock.advance(24 * 3600)
        decision = await check(stub, token(org))
        assert decision.allowed
        assert decision.limits[0].used == "0"

    async def test_a_new_quota_counts_the_periods_usage_so_far(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        await use(resources, org, clock, 1, input_tokens=300, output_tokens=0)
        quota = await create_quota(stub, token(org, ("admin",)), limit="1000")
        assert quota.status.used == "300"
        await use(resources, org, clock, 2, input_tokens=50, output_tokens=0)
        assert (await check(stub, token(org))).limits[0].used == "350"

    async def test_a_hard_budget_refuses_every_category(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        budget = await create_budget(stub, token(org, ("admin",)), amount="1.5", enforcement=HARD)
        await use(resources, org, clock, 1, cost="1.5")
        for category in ("ai.completion", "ai.embedding", "mcp.execution"):
            decision = await check(stub, token(org), category=category)
            assert not decision.allowed, category
            assert list(decision.blocking_limit_ids) == [budget.id]

    async def test_an_unknown_category_is_invalid(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            check(stub, token(org), category="ai.dreams"), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"category"}


class TestQuotas:
    async def test_update_applies_at_once_and_fixed_fields_stay_fixed(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        admin = token(org, ("admin",))
        quota = await create_quota(stub, admin, limit="100")
        await use(resources, org, clock, 1, input_tokens=100, output_tokens=0)
        assert not (await check(stub, token(org))).allowed
        updated = await stub.UpdateQuota(
            api.UpdateQuotaRequest(
                quota=resources_pb2.Quota(id=quota.id, limit="250", etag=quota.etag),
                update_mask=FieldMask(paths=["limit"]),
            ),
            metadata=auth(admin),
        )
        assert updated.quota.limit == "250"
        assert updated.quota.status.remaining == "150"
        assert (await check(stub, token(org))).allowed

        error = await rpc_error(
            stub.UpdateQuota(
                api.UpdateQuotaRequest(
                    quota=resources_pb2.Quota(id=quota.id, meter="ai.completion.requests"),
                    update_mask=FieldMask(paths=["meter"]),
                ),
                metadata=auth(admin),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"update_mask"}
        await rpc_error(
            stub.UpdateQuota(
                api.UpdateQuotaRequest(
                    quota=resources_pb2.Quota(id=quota.id, name="x", etag=quota.etag),
                ),
                metadata=auth(admin),
            ),
            grpc.StatusCode.ABORTED,
        )

    async def test_delete_removes_it_from_checks(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        quota = await create_quota(stub, admin, limit="10")
        await stub.DeleteQuota(api.DeleteQuotaRequest(quota_id=quota.id), metadata=auth(admin))
        assert list((await check(stub, token(org))).limits) == []
        error = await rpc_error(
            stub.GetQuota(api.GetQuotaRequest(quota_id=quota.id), metadata=auth(token(org))),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "QUOTA_NOT_FOUND"

    async def test_list_pages_newest_first_with_status(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        made = [await create_quota(stub, admin, name=f"q{n}", limit="10") for n in range(3)]
        first = await stub.ListQuotas(api.ListQuotasRequest(page_size=2), metadata=auth(admin))
        second = await stub.ListQuotas(
            api.ListQuotasRequest(page_size=2, page_token=first.next_page_token),
            metadata=auth(admin),
        )
        names = [q.name for q in [*first.quotas, *second.quotas]]
        assert names == ["q2", "q1", "q0"]
        assert not second.next_page_token
        assert all(q.status.limit == "10" for q in first.quotas)
        assert made[0].warning_percent == 80 and made[0].critical_percent == 95

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"meter": "ai.completion.nope"}, "quota.meter"),
            ({"meter": "ai.completion.users"}, "quota.meter"),
            ({"scope_id": "someone"}, "quota.scope_id"),
            ({"limit": "0"}, "quota.limit"),
            ({"warning_percent": 90, "critical_percent": 50}, "quota.critical_percent"),
            ({"limit": "1e3"}, "quota.limit"),
        ],
    )
    async def test_bad_quotas_name_the_field(
        self,
        stub: UsageServiceStub,
        token: TokenFactory,
        org: str,
        fields: dict[str, object],
        field: str,
    ) -> None:
        fields.setdefault("limit", "10")
        error = await rpc_error(
            create_quota(stub, token(org, ("admin",)), **fields), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert field in violated_fields(error)

    async def test_an_organization_holds_a_bounded_number(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        for n in range(25):
            await create_quota(stub, admin, name=f"q{n}", limit="10")
        error = await rpc_error(
            create_quota(stub, admin, limit="10"), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert error_reason(error) == "TOO_MANY_QUOTAS"

    async def test_members_check_and_read_but_do_not_set_quotas(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        quota = await create_quota(stub, token(org, ("admin",)), limit="10")
        member, viewer = token(org, ("member",)), token(org, ("viewer",))
        await rpc_error(create_quota(stub, member, limit="10"), grpc.StatusCode.PERMISSION_DENIED)
        await stub.GetQuota(api.GetQuotaRequest(quota_id=quota.id), metadata=auth(viewer))
        assert (await check(stub, viewer)).allowed


class TestBudgets:
    async def test_status_shows_spend_and_the_end_of_period_projection(
        self,
        stub: UsageServiceStub,
        resources: Resources,
        token: TokenFactory,
        org: str,
        clock: ManualClock,
    ) -> None:
        admin = token(org, ("admin",))
        await use(resources, org, clock, 1, cost="12.5")
        budget = await create_budget(stub, admin, amount="100")
        got = await stub.GetBudget(api.GetBudgetRequest(budget_id=budget.id), metadata=auth(admin))
        status = got.budget.status
        assert status.used == "12.5" and status.currency == "USD"
        start = status.period_start.ToDatetime(tzinfo=clock.now().tzinfo)
        end = status.period_end.ToDatetime(tzinfo=clock.now().tzinfo)
        passed = (clock.now() - start) / (end - start)
        assert Decimal(status.projected) == pytest.approx(Decimal("12.5") / Decimal(passed))
        assert budget.currency == "USD"

    async def test_bad_budgets_name_the_field(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            create_budget(stub, token(org, ("admin",)), amount="10", currency="EUR"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "budget.currency" in violated_fields(error)
        error = await rpc_error(
            create_budget(stub, token(org, ("admin",)), amount="0"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "budget.amount" in violated_fields(error)

    async def test_update_and_delete(
        self, stub: UsageServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        budget = await create_budget(stub, admin, amount="10")
        updated = await stub.UpdateBudget(
            api.UpdateBudgetRequest(budget=resources_pb2.Budget(id=budget.id, amount="20")),
            metadata=auth(admin),
        )
        assert updated.budget.amount == "20" and updated.budget.name == budget.name
        listed = await stub.ListBudgets(api.ListBudgetsRequest(), metadata=auth(admin))
        assert [b.amount for b in listed.budgets] == ["20"]
        await stub.DeleteBudget(api.DeleteBudgetRequest(budget_id=budget.id), metadata=auth(admin))
        assert not (await stub.ListBudgets(api.ListBudgetsRequest(), metadata=auth(admin))).budgets
