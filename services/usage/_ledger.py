"""What the usage ledger holds, as the domain computes with it: buckets of aggregated usage,
counters of quotas, budgets and price tiers, recorded events and alerts, each with the key
that names its stored document.

- A **bucket** aggregates one category's meters over one hour, day or month for one
  combination of dimension values (model, provider, project, user …). Queries read buckets.
- A **counter** is a running total of one measure (a meter, or money spent) for one scope
  value (the organization, a project, a user) over one period: what quotas and budgets are
  checked against and price tiers are filled from. Quotas sharing a measure, scope and period
  share a counter.
- A **record** is one usage event as recorded; its key is the event id, which is what makes
  recording idempotent (a redelivered event finds its record).
- An **alert** key names one threshold of one limit in one period for one scope value: at most
  one alert is ever raised under it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from coder.common.v1 import actor_pb2
from coder.usage.v1 import resources_pb2
from services.kit import time_text
from services.usage import _money
from services.usage._meters import BY_CATEGORY, MAX, UNIQUE_COUNT, Category, Meter
from services.usage._periods import Granularity

SPEND = "spend"
"""The measure of budgets: the sum of an event's charges."""

ORGANIZATION = "organization"

SCOPE_NAMES = {
    resources_pb2.SCOPE_ORGANIZATION: ORGANIZATION,
    resources_pb2.SCOPE_PROJECT: "project",
    resources_pb2.SCOPE_USER: "user",
}


@lru_cache(maxsize=16_384)
def _digest(dimensions: tuple[tuple[str, str], ...]) -> str:
    encoded = json.dumps(dict(dimensions), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


@lru_cache(maxsize=4096)
def bucket_time(start: datetime) -> str:
    """The stored text of a bucket's start (few distinct values, asked for on every event)."""
    return time_text(start)


@dataclass(frozen=True, slots=True)
class BucketKey:
    """One category's usage in one bucket for one combination of dimension values."""

    granularity: Granularity
    start: datetime
    category: str
    dimensions: tuple[tuple[str, str], ...]
    id: str = field(init=False, compare=False, repr=False)
    """The stored document's id."""

    def __post_init__(self) -> None:
        dims = _digest(self.dimensions)
        identifier = f"b:{self.granularity.value}:{bucket_time(self.start)}:{self.category}:{dims}"
        object.__setattr__(self, "id", identifier)

    @property
    def slot(self) -> str:
        return slot(self.granularity, self.start)


def slot(kind: Granularity | str, order: datetime | str) -> str:
    """The ledger's one sort key, `<kind>|<order>`: buckets of a size by start (`hour|…`,
    `day|…`), records by when the usage happened (`record|…`), alerts by when they were raised
    (`alert|…`). One indexed field serves every listing of the container, since each index is
    paid on every write of the busy ledger."""
    prefix = kind.value if isinstance(kind, Granularity) else kind
    return f"{prefix}|{order if isinstance(order, str) else bucket_time(order)}"


RECORD_SLOT = "record"
ALERT_SLOT = "alert"


@dataclass(frozen=True, slots=True)
class CounterKey:
    """A running total of `measure` (a meter id or `SPEND`) for one scope value and period."""

    measure: str
    scope: str
    scope_value: str
    granularity: Granularity
    start: datetime

    @property
    def id(self) -> str:
        return (
            f"c:{self.measure}:{self.scope}:{self.scope_value}:"
            f"{self.granularity.value}:{bucket_time(self.start)}"
        )


def alert_key(
    limit_id: str,
    scope_value: str,
    period_start: datetime,
    level: resources_pb2.AlertLevel.ValueType,
) -> str:
    """The document id of the alert `level` of a limit in a period, for one scope value."""
    name = resources_pb2.AlertLevel.Name(level).removeprefix("ALERT_LEVEL_").lower()
    return f"a:{limit_id}:{scope_value}:{time_text(period_start)}:{name}"


def record_key(event_id: str) -> str:
    return f"r:{event_id}"


@dataclass(slots=True)
class Bucket:
    """Aggregated usage under a `BucketKey`. `etag` is None until the bucket is stored."""

    key: BucketKey
    events: int = 0
    values: dict[str, Decimal] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    etag: str | None = None

    def add(
        self, contributions: Mapping[str, Decimal | str], charges: Mapping[str, Decimal]
    ) -> None:
        """Count one event: its meters' contributions and charges."""
        self.events += 1
        meters = BY_CATEGORY[self.key.category].meters
        for meter in meters:
            contribution = contributions.get(meter.id)
            if contribution is not None:
                self._merge_value(meter, contribution)
        for meter_id, amount in charges.items():
            self.amounts[meter_id] = _money.add(self.amounts.get(meter_id, _money.ZERO), amount)

    def merge(self, other: Bucket) -> None:
        """Fold another bucket's aggregates into this one (for queries)."""
        self.events += other.events
        for meter in BY_CATEGORY[other.key.category].meters:
            if meter.aggregation == UNIQUE_COUNT:
                if meter.id in other.members:
                    self.members.setdefault(meter.id, set()).update(other.members[meter.id])
            elif meter.id in other.values:
                self._merge_value(meter, other.values[meter.id])
        for meter_id, amount in other.amounts.items():
            self.amounts[meter_id] = _money.add(self.amounts.get(meter_id, _money.ZERO), amount)

    def _merge_value(self, meter: Meter, contribution: Decimal | str) -> None:
        if meter.aggregation == UNIQUE_COUNT:
            self.members.setdefault(meter.id, set()).add(str(contribution))
            return
        assert isinstance(contribution, Decimal)
        current = self.values.get(meter.id)
        if current is None:
            self.values[meter.id] = contribution
        elif meter.aggregation == MAX:
            self.values[meter.id] = max(current, contribution)
        else:
            self.values[meter.id] = _money.add(current, contribution)

    def value(self, meter: Meter) -> Decimal | None:
        """The meter's aggregate in this bucket; None when no event carried it."""
        if meter.aggregation == UNIQUE_COUNT:
            members = self.members.get(meter.id)
            return Decimal(len(members)) if members else None
        return self.values.get(meter.id)

    def spend(self) -> Decimal:
        return _money.total(list(self.amounts.values()))


@dataclass(slots=True)
class Counter:
    """The running total under a `CounterKey`; `etag` None until stored."""

    key: CounterKey
    value: Decimal = _money.ZERO
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """One usage event as the ledger records it: parsed, validated and metered."""

    event_id: str
    event_type: str
    organization_id: str
    actor: actor_pb2.Actor
    category: Category
    occur_time: datetime
    dimensions: dict[str, str]
    """Every dimension of the category; empty when the event names none."""
    quantities: dict[str, Decimal]
    cost: Decimal
    currency: str
    attributes: dict[str, str]
    contributions: dict[str, Decimal | str]
    """Each meter's contribution (see `Meter.value`), by meter id; meters without one absent."""

    def dimension_key(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, self.dimensions[name]) for name in self.category.dimensions)
