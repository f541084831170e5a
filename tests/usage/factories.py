"""Factories of the usage tests: usage events as producers publish them, and the calls and
waits the tests repeat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.usage.v1 import events_pb2, resources_pb2
from coder.usage.v1 import usage_service_pb2 as api
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from services.kit import Clock, Resources
from services.kit.bus import make_event
from services.kit.store import F, Query
from tests.fixtures.tokens import auth
from tests.fixtures.waiting import eventually

COMPLETION = "ai.completion.completed"


def completion(
    organization_id: str,
    clock: Clock,
    *,
    user: str = "user-1",
    project: str = "",
    model: str = "gpt-4o-mini",
    provider: str = "openai",
    input_tokens: int | str = 100,
    output_tokens: int | str = 20,
    cost: str = "0.0001",
    at: datetime | None = None,
    event_type: str = COMPLETION,
    **payload: Any,
) -> event_pb2.Event:
    """An `ai.completion.completed` event as the AI service publishes it."""
    quantities = {"input_tokens": str(input_tokens), "output_tokens": str(output_tokens)}
    quantities.update(payload.pop("quantities", {}))
    usage = events_pb2.UsageRecorded(
        organization_id=organization_id,
        user_id=user,
        project_id=project,
        model=model,
        provider=provider,
        quantities=quantities,
        cost=cost,
        **payload,
    )
    if at is not None:
        usage.occur_time.FromDatetime(at)
    return event(event_type, organization_id, clock, usage, actor=user)


def event(
    event_type: str,
    organization_id: str,
    clock: Clock,
    data: Message,
    *,
    actor: str = "user-1",
) -> event_pb2.Event:
    return make_event(
        event_type,
        organization_id,
        "completion",
        data,
        actor=actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=actor),
        source="coder.ai",
        clock=clock,
    )


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


async def publish(resources: Resources, events: Sequence[event_pb2.Event]) -> None:
    await resources.bus.publish(events)


async def records_stored(resources: Resources, organization_id: str) -> int:
    """How many usage records the organization's ledger holds."""
    container = resources.store.container("usage")
    query = Query().where(F("kind") == "record", F("docType").defined(False))
    return await container.count(query, partition=organization_id)


async def recorded(
    resources: Resources, organization_id: str, count: int, *, within: float = 10.0
) -> None:
    """Wait until `count` records are stored for the organization."""

    async def enough() -> bool:
        return await records_stored(resources, organization_id) >= count

    await eventually(enough, within=within)


async def query(stub: UsageServiceStub, token: str, **fields: Any) -> api.QueryUsageResponse:
    response: api.QueryUsageResponse = await stub.QueryUsage(
        api.QueryUsageRequest(**fields), metadata=auth(token)
    )
    return response


def totals(response: api.QueryUsageResponse) -> dict[tuple[str, ...], Decimal]:
    """Rows by (meter, *dimension values in group_by order), value as a Decimal."""
    found: dict[tuple[str, ...], Decimal] = {}
    for row in response.rows:
        key = (row.meter, *row.dimensions.values())
        found[key] = found.get(key, Decimal(0)) + Decimal(row.value)
    return found


def meter_total(response: api.QueryUsageResponse, meter: str) -> Decimal:
    return sum((Decimal(r.value) for r in response.rows if r.meter == meter), Decimal(0))


async def create_quota(stub: UsageServiceStub, token: str, **fields: Any) -> resources_pb2.Quota:
    fields.setdefault("name", "tokens")
    fields.setdefault("meter", "ai.completion.tokens")
    fields.setdefault("scope", resources_pb2.SCOPE_ORGANIZATION)
    fields.setdefault("period", resources_pb2.PERIOD_MONTH)
    fields.setdefault("enforcement", resources_pb2.ENFORCEMENT_HARD)
    response: api.CreateQuotaResponse = await stub.CreateQuota(
        api.CreateQuotaRequest(quota=resources_pb2.Quota(**fields)), metadata=auth(token)
    )
    return response.quota


async def create_budget(stub: UsageServiceStub, token: str, **fields: Any) -> resources_pb2.Budget:
    fields.setdefault("name", "spend")
    fields.setdefault("scope", resources_pb2.SCOPE_ORGANIZATION)
    fields.setdefault("period", resources_pb2.PERIOD_MONTH)
    fields.setdefault("enforcement", resources_pb2.ENFORCEMENT_SOFT)
    response: api.CreateBudgetResponse = await stub.CreateBudget(
        api.CreateBudgetRequest(budget=resources_pb2.Budget(**fields)), metadata=auth(token)
    )
    return response.budget


async def create_price(
    stub: UsageServiceStub, token: str, meter: str, *tiers: tuple[str, str], **fields: Any
) -> resources_pb2.Price:
    """A price of `meter` with tiers given as (up_to, unit_price); one ("", p) is flat."""
    fields.setdefault("unit", resources_pb2.PRICE_UNIT_PER_UNIT)
    price = resources_pb2.Price(
        meter=meter,
        tiers=[resources_pb2.PriceTier(up_to=up_to, unit_price=unit) for up_to, unit in tiers],
        **fields,
    )
    response: api.CreatePriceResponse = await stub.CreatePrice(
        api.CreatePriceRequest(price=price), metadata=auth(token)
    )
    return response.price


async def check(stub: UsageServiceStub, token: str, **fields: Any) -> api.CheckQuotaResponse:
    fields.setdefault("category", "ai.completion")
    response: api.CheckQuotaResponse = await stub.CheckQuota(
        api.CheckQuotaRequest(**fields), metadata=auth(token)
    )
    return response
