"""Proto and ledger types ↔ stored documents.

Documents use lowerCamelCase names. Times are the kit's stored time text (fixed width, so
string order is time order); decimals are their canonical text, so nothing is lost to floats;
enums are stored by proto number. Ledger documents carry `kind` (`record`, `bucket`,
`counter`, `alert`), since they share the `usage` container and one atomic batch.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from coder.usage.v1 import resources_pb2
from services.kit import (
    fill_timestamp,
    optional_timestamp_text,
    parse_time_text,
    time_text,
    timestamp_text,
)
from services.kit.store import Document
from services.usage import _money
from services.usage._ledger import (
    ALERT_SLOT,
    RECORD_SLOT,
    Bucket,
    BucketKey,
    Counter,
    CounterKey,
    Usage,
    alert_key,
    bucket_time,
    record_key,
    slot,
)
from services.usage._meters import BY_CATEGORY
from services.usage._periods import Granularity

RECORD = "record"
BUCKET = "bucket"
COUNTER = "counter"
ALERT = "alert"

# --- quotas and budgets ----------------------------------------------------------------------


def quota_document(quota: resources_pb2.Quota) -> Document:
    return {
        "id": quota.id,
        "name": quota.name,
        "meter": quota.meter,
        "scope": int(quota.scope),
        "scopeId": quota.scope_id,
        "period": int(quota.period),
        "limit": quota.limit,
        "warningPercent": quota.warning_percent,
        "criticalPercent": quota.critical_percent,
        "enforcement": int(quota.enforcement),
        "createTime": timestamp_text(quota.create_time),
        "updateTime": timestamp_text(quota.update_time),
        "createdBy": quota.created_by,
    }


def quota_from_document(document: Document) -> resources_pb2.Quota:
    quota = resources_pb2.Quota(
        id=document["id"],
        name=document["name"],
        meter=document["meter"],
        scope=document["scope"],
        scope_id=document["scopeId"],
        period=document["period"],
        limit=document["limit"],
        warning_percent=document["warningPercent"],
        critical_percent=document["criticalPercent"],
        enforcement=document["enforcement"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(quota.create_time, document["createTime"])
    fill_timestamp(quota.update_time, document["updateTime"])
    return quota


def budget_document(budget: resources_pb2.Budget) -> Document:
    return {
        "id": budget.id,
        "name": budget.name,
        "scope": int(budget.scope),
        "scopeId": budget.scope_id,
        "period": int(budget.period),
        "amount": budget.amount,
        "currency": budget.currency,
        "warningPercent": budget.warning_percent,
        "criticalPercent": budget.critical_percent,
        "enforcement": int(budget.enforcement),
        "createTime": timestamp_text(budget.create_time),
        "updateTime": timestamp_text(budget.update_time),
        "createdBy": budget.created_by,
    }


def budget_from_document(document: Document) -> resources_pb2.Budget:
    budget = resources_pb2.Budget(
        id=document["id"],
        name=document["name"],
        scope=document["scope"],
        scope_id=document["scopeId"],
        period=document["period"],
        amount=document["amount"],
        currency=document["currency"],
        warning_percent=document["warningPercent"],
        critical_percent=document["criticalPercent"],
        enforcement=document["enforcement"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(budget.create_time, document["createTime"])
    fill_timestamp(budget.update_time, document["updateTime"])
    return budget


# --- prices ----------------------------------------------------------------------------------


def price_document(price: resources_pb2.Price) -> Document:
    return {
        "id": price.id,
        "meter": price.meter,
        "unit": int(price.unit),
        "tiers": [{"upTo": tier.up_to, "unitPrice": tier.unit_price} for tier in price.tiers],
        "currency": price.currency,
        "effectiveFrom": timestamp_text(price.effective_from),
        "effectiveUntil": optional_timestamp_text(price, "effective_until"),
        "createTime": timestamp_text(price.create_time),
        "createdBy": price.created_by,
    }


def price_from_document(document: Document) -> resources_pb2.Price:
    price = resources_pb2.Price(
        id=document["id"],
        meter=document["meter"],
        unit=document["unit"],
        tiers=[
            resources_pb2.PriceTier(up_to=tier["upTo"], unit_price=tier["unitPrice"])
            for tier in document["tiers"]
        ],
        currency=document["currency"],
        created_by=document["createdBy"],
    )
    fill_timestamp(price.effective_from, document["effectiveFrom"])
    if (until := document["effectiveUntil"]) is not None:
        fill_timestamp(price.effective_until, until)
    fill_timestamp(price.create_time, document["createTime"])
    return price


# --- the ledger ------------------------------------------------------------------------------


def _decimals(values: dict[str, Decimal]) -> dict[str, str]:
    return {name: _money.text(value) for name, value in values.items()}


def record_document(
    usage: Usage,
    charges: dict[str, Decimal],
    amount: Decimal,
    recorded_at: str,
    ttl_seconds: int,
) -> Document:
    return {
        "id": record_key(usage.event_id),
        "kind": RECORD,
        "eventId": usage.event_id,
        "eventType": usage.event_type,
        "category": usage.category.name,
        "occurTime": time_text(usage.occur_time),
        "slot": slot(RECORD_SLOT, time_text(usage.occur_time)),
        "recordTime": recorded_at,
        "dims": dict(usage.dimensions),
        "quantities": _decimals(dict(usage.quantities)),
        "cost": _money.text(usage.cost),
        "currency": usage.currency,
        "attributes": dict(usage.attributes),
        "charges": _decimals(charges),
        "amount": _money.text(amount),
        "ttl": ttl_seconds,
    }


def record_from_document(document: Document) -> resources_pb2.UsageRecord:
    record = resources_pb2.UsageRecord(
        event_id=document["eventId"],
        event_type=document["eventType"],
        category=document["category"],
        dimensions=document["dims"],
        quantities=document["quantities"],
        cost=document["cost"],
        currency=document["currency"],
        charges=document["charges"],
        amount=document["amount"],
    )
    fill_timestamp(record.occur_time, document["occurTime"])
    fill_timestamp(record.record_time, document["recordTime"])
    return record


def bucket_document(bucket: Bucket, ttl_seconds: int | None) -> Document:
    key = bucket.key
    document: Document = {
        "id": key.id,
        "kind": BUCKET,
        "slot": key.slot,
        "granularity": key.granularity.value,
        "start": bucket_time(key.start),
        "category": key.category,
        "dims": dict(key.dimensions),
        "events": bucket.events,
        "values": _decimals(bucket.values),
        "members": {meter: sorted(values) for meter, values in bucket.members.items()},
        "amounts": _decimals(bucket.amounts),
    }
    if ttl_seconds is not None:
        document["ttl"] = ttl_seconds
    return document


def bucket_from_document(document: Document) -> Bucket:
    dims = document["dims"]
    category = BY_CATEGORY[document["category"]]
    key = BucketKey(
        Granularity(document["granularity"]),
        parse_time_text(document["start"]),
        category.name,
        tuple((name, dims.get(name, "")) for name in category.dimensions),
    )
    return Bucket(
        key,
        events=document["events"],
        values={name: _money.parse(value) for name, value in document["values"].items()},
        members={name: set(values) for name, values in document["members"].items()},
        amounts={name: _money.parse(value) for name, value in document["amounts"].items()},
        etag=document.get("_etag"),
    )


def counter_document(counter: Counter, ttl_seconds: int) -> Document:
    key = counter.key
    return {
        "id": key.id,
        "kind": COUNTER,
        "measure": key.measure,
        "scope": key.scope,
        "scopeValue": key.scope_value,
        "granularity": key.granularity.value,
        "start": bucket_time(key.start),
        "value": _money.text(counter.value),
        "ttl": ttl_seconds,
    }


def counter_from_document(key: CounterKey, document: Document) -> Counter:
    return Counter(key, _money.parse(document["value"]), document.get("_etag"))


def alert_document(alert: resources_pb2.UsageAlert, ttl_seconds: int) -> Document:
    return {
        "id": alert_key(alert.limit_id, alert.scope_value, _start(alert), alert.level),
        "kind": ALERT,
        "alertId": alert.id,
        "slot": slot(ALERT_SLOT, alert.id),
        "limitKind": int(alert.kind),
        "limitId": alert.limit_id,
        "limitName": alert.limit_name,
        "level": int(alert.level),
        "scope": int(alert.scope),
        "scopeValue": alert.scope_value,
        "meter": alert.meter,
        "limit": alert.limit,
        "used": alert.used,
        "projected": alert.projected,
        "currency": alert.currency,
        "periodStart": timestamp_text(alert.period_start),
        "periodEnd": timestamp_text(alert.period_end),
        "raiseTime": timestamp_text(alert.raise_time),
        "eventId": alert.event_id,
        "ttl": ttl_seconds,
    }


def _start(alert: resources_pb2.UsageAlert) -> datetime:
    return parse_time_text(timestamp_text(alert.period_start))


def alert_from_document(document: Document) -> resources_pb2.UsageAlert:
    alert = resources_pb2.UsageAlert(
        id=document["alertId"],
        kind=document["limitKind"],
        limit_id=document["limitId"],
        limit_name=document["limitName"],
        level=document["level"],
        scope=document["scope"],
        scope_value=document["scopeValue"],
        meter=document["meter"],
        limit=document["limit"],
        used=document["used"],
        projected=document["projected"],
        currency=document["currency"],
        event_id=document["eventId"],
    )
    fill_timestamp(alert.period_start, document["periodStart"])
    fill_timestamp(alert.period_end, document["periodEnd"])
    fill_timestamp(alert.raise_time, document["raiseTime"])
    return alert
