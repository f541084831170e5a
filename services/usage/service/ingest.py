"""Recording usage events: the consumer's work, exactly once per event id.

The bus delivers up to its prefetch of events at once to concurrent handler calls; each call
hands its event to the `UsageRecorder` and waits until it is stored. The recorder gathers what
arrived meanwhile and records it per organization in chunks, each chunk one atomic write of
the ledger (see `repository/ingest.py`):

1. drop the events this process knows it recorded; take the buckets, counters and alerts the
   chunk changes from what it last wrote (`_Known`), reading only the others, and seed
   counters never stored;
2. apply the events in order: charge them (tiered by the month's running total), add them to
   their hour and day buckets and to every counter that counts them, and raise an alert for
   each threshold a limit has reached in the period without an alert yet;
3. write it all — records, buckets, counters, alerts and the alert events' outbox — in one
   batch, conditional on the etags it started from. The records are created, so an event
   recorded before (a redelivery, a republished event) fails the batch, as does losing a race
   to another replica (a changed etag, a document created meanwhile) or remembering a document
   that has since expired: the chunk is then read afresh from the store — events already
   recorded dropped — and applied again. The handler
   is acknowledged only after its chunk is stored.

Step 1 makes the common case one write per chunk and no read; step 3's conditions make it
safe, since what this process remembers can only be stale, never wrong, and a stale etag is
refused by the store.

A chunk too large for one batch is halved. A chunk that fails for another reason is retried
event by event, so one bad event fails alone and the bus retries (then dead-letters) only it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from coder.usage.v1 import resources_pb2
from services.kit import Clock, DocumentExists, DocumentNotFound, EtagMismatch, get_logger
from services.kit.bus import next_event_id
from services.usage import _money
from services.usage._ledger import (
    ORGANIZATION,
    Bucket,
    BucketKey,
    Counter,
    CounterKey,
    Usage,
    alert_key,
)
from services.usage._limits import Limit
from services.usage._periods import STORED, Granularity, floor
from services.usage._rating import PriceRule
from services.usage.events import UsageEvents
from services.usage.repository.ingest import LedgerState, LedgerWrite, RecordedUsage, UsageLedger
from services.usage.service.config import ConfigLoader, OrganizationConfig
from services.usage.service.counters import Counters

_log = get_logger("coder.usage")

BUCKET_SIZES = STORED
CONFLICT_ATTEMPTS = 10
"""Re-reads after losing a race to another writer before the delivery is failed (and retried
by the bus)."""
LINGER = 0.005
"""Longest wait for more deliveries before recording a chunk (see `UsageRecorder._linger`)."""
MAX_FLUSH = 256
"""Events recorded per pass at most (the bus's prefetch bounds it further)."""

ALERT_LEVELS = (
    resources_pb2.ALERT_LEVEL_WARNING,
    resources_pb2.ALERT_LEVEL_CRITICAL,
    resources_pb2.ALERT_LEVEL_EXCEEDED,
)
BUDGET_ALERT_LEVELS = (*ALERT_LEVELS, resources_pb2.ALERT_LEVEL_FORECAST_EXCEEDED)


KNOWN_ENTRIES = 20_000
"""Buckets and counters a recorder remembers (the current hour's and day's of about 10,000
combinations of dimensions)."""
KNOWN_EVENTS = 100_000
"""Ids of events a recorder remembers having recorded: redeliveries mostly come soon after."""


class _Oversize(Exception):
    """A chunk's write needs more operations than one batch holds."""


class _Known:
    """The buckets and counters this process last stored or read, with their etags, the
    alerts it knows are stored and the events it knows are recorded, per organization; least
    recently used ones are forgotten. Knowing an event recorded is certain (records are never
    removed but by expiry); knowing a bucket or counter can be stale, which its etag catches."""

    def __init__(self, size: int = KNOWN_ENTRIES, events: int = KNOWN_EVENTS) -> None:
        self._size = size
        self._events_size = events
        self._state: OrderedDict[tuple[str, str], Bucket | Counter] = OrderedDict()
        self._alerts: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._events: OrderedDict[tuple[str, str], None] = OrderedDict()

    def recorded(self, organization_id: str, event_id: str) -> bool:
        return (organization_id, event_id) in self._events

    def remember_recorded(self, organization_id: str, event_ids: Iterable[str]) -> None:
        for event_id in event_ids:
            self._events[(organization_id, event_id)] = None
        while len(self._events) > self._events_size:
            self._events.popitem(last=False)

    def fill(self, organization_id: str, state: LedgerState, ids: Iterable[str]) -> list[str]:
        """Copy what is known of `ids` into `state`; the ids of buckets and counters unknown."""
        unknown = []
        for identifier in ids:
            entry = self._state.get((organization_id, identifier))
            if entry is None:
                unknown.append(identifier)
            elif isinstance(entry, Bucket):
                state.buckets[identifier] = _copy_bucket(entry)
            else:
                state.counters[identifier] = Counter(entry.key, entry.value, entry.etag)
        return unknown

    def stored_alerts(self, organization_id: str, ids: Iterable[str]) -> set[str]:
        return {i for i in ids if (organization_id, i) in self._alerts}

    def remember(
        self,
        organization_id: str,
        entries: Iterable[Bucket | Counter],
        alerts: Iterable[str] = (),
    ) -> None:
        for entry in entries:
            key = (organization_id, entry.key.id)
            self._state[key] = entry
            self._state.move_to_end(key)
        for alert in alerts:
            self._alerts[(organization_id, alert)] = None
        while len(self._state) > self._size:
            self._state.popitem(last=False)
        while len(self._alerts) > self._size:
            self._alerts.popitem(last=False)

    def forget(self, organization_id: str, ids: Iterable[str]) -> None:
        for identifier in ids:
            self._state.pop((organization_id, identifier), None)


def _copy_bucket(bucket: Bucket) -> Bucket:
    return Bucket(
        bucket.key,
        bucket.events,
        dict(bucket.values),
        {meter: set(values) for meter, values in bucket.members.items()},
        dict(bucket.amounts),
        bucket.etag,
    )


@dataclass(frozen=True, slots=True)
class _Counted:
    """One limit counting one event: under which scope value, on which counter."""

    limit: Limit
    scope_value: str
    counter: CounterKey


@dataclass(slots=True)
class _Planned:
    """What one event touches, known before anything is read."""

    usage: Usage
    buckets: tuple[BucketKey, ...]
    prices: dict[str, tuple[PriceRule, CounterKey]]
    """Priced meters: the price in effect and the month's running-total counter."""
    limits: tuple[_Counted, ...]

    def counters(self) -> Iterable[CounterKey]:
        for _, total in self.prices.values():
            yield total
        for counted in self.limits:
            yield counted.counter

    def alert_ids(self) -> Iterable[str]:
        for counted in self.limits:
            levels = BUDGET_ALERT_LEVELS if counted.limit.is_budget else ALERT_LEVELS
            start = counted.counter.start
            for level in levels:
                yield alert_key(counted.limit.id, counted.scope_value, start, level)


def plan(config: OrganizationConfig, usage: Usage) -> _Planned:
    moment = usage.occur_time
    dimensions = usage.dimension_key()
    buckets = tuple(
        BucketKey(size, floor(moment, size), usage.category.name, dimensions)
        for size in BUCKET_SIZES
    )
    prices: dict[str, tuple[PriceRule, CounterKey]] = {}
    for meter in usage.category.meters:
        if not meter.additive or meter.id not in usage.contributions:
            continue
        rule = config.price(meter.id, moment)
        if rule is not None:
            month = floor(moment, Granularity.MONTH)
            total = CounterKey(meter.id, ORGANIZATION, "", Granularity.MONTH, month)
            prices[meter.id] = (rule, total)
    limits = tuple(
        _Counted(limit, scope_value, limit.counter(scope_value, moment))
        for limit in config.limits_counting(usage.category.name)
        if (scope_value := limit.scope_value(usage.dimensions)) is not None
    )
    return _Planned(usage, buckets, prices, limits)


@dataclass(slots=True)
class _Applied:
    """The chunk applied to the ledger state read for it."""

    write: LedgerWrite = field(default_factory=LedgerWrite)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)


class UsageRecorder:
    """Records usage events, batching concurrent deliveries. One per process."""

    def __init__(
        self,
        ledger: UsageLedger,
        config: ConfigLoader,
        counters: Counters,
        clock: Clock,
    ) -> None:
        self._ledger = ledger
        self._config = config
        self._counters = counters
        self._clock = clock
        self._pending: list[tuple[Usage, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._known = _Known()
        self._unpublished: dict[str, dict[str, CounterKey]] = {}
        """Per organization, counters stored but not cached: their cache entries may be
        stale, so they are dropped before the next chunk (a redelivery of the same events
        is a recorded chunk and would otherwise publish nothing)."""
        self._arrived = asyncio.Event()
        self._awaited = 0

    async def record(self, usage: Usage) -> None:
        """Return once `usage` is stored (or was before); raise when it could not be, so the
        bus delivers it again."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((usage, future))
        if len(self._pending) >= self._awaited:
            self._arrived.set()
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_all(), name="usage-recorder")
        # Shielded: a handler cancelled (its consumer stopping) leaves the recording to finish.
        await asyncio.shield(future)

    async def _flush_all(self) -> None:
        last = 0
        while True:
            if len(self._pending) < last:
                await self._linger(last)
            if not self._pending:
                return
            batch, self._pending = self._pending[:MAX_FLUSH], self._pending[MAX_FLUSH:]
            last = len(batch)
            by_organization: dict[str, list[tuple[Usage, asyncio.Future[None]]]] = {}
            for item in batch:
                by_organization.setdefault(item[0].organization_id, []).append(item)
            await asyncio.gather(
                *(self._settle(org, items) for org, items in by_organization.items())
            )

    async def _linger(self, expected: int) -> None:
        """Wait a moment for the deliveries the last chunk's acknowledgements let in.

        The bus keeps at most its prefetch of events unacknowledged, and acknowledges a chunk
        only once it is stored; its replacements arrive a broker round trip later. Starting
        the next chunk with the first of them would split the prefetch into small chunks
        that alternate; waiting up to `LINGER` seconds for as many as the last chunk held
        keeps one chunk of the whole prefetch (one write instead of several), at the cost of
        that moment's latency when traffic is light.
        """
        self._awaited = expected
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), LINGER)
        self._awaited = 0

    async def _settle(
        self, organization_id: str, items: list[tuple[Usage, asyncio.Future[None]]]
    ) -> None:
        usages = list({usage.event_id: usage for usage, _ in items}.values())
        try:
            failures = await self._record_organization(organization_id, usages)
        except Exception as exc:  # the store's or the cache's: every delivery is retried
            failures = {usage.event_id: exc for usage in usages}
        for usage, future in items:
            if future.done():
                continue
            failure = failures.get(usage.event_id)
            if failure is None:
                future.set_result(None)
            else:
                future.set_exception(failure)

    async def _record_organization(
        self, organization_id: str, usages: list[Usage]
    ) -> dict[str, Exception]:
        config = await self._config.load(organization_id)
        plans = [plan(config, usage) for usage in usages]
        try:
            for chunk in self._packed(plans):
                await self._record(organization_id, chunk)
            return {}
        except Exception as exc:
            if len(usages) == 1:
                _log.warning("usage.record_failed", event_id=usages[0].event_id, error=repr(exc))
                return {usages[0].event_id: exc}
        # One at a time, so whatever failed a chunk fails alone (those recorded meanwhile are
        # known, and skipped).
        failures: dict[str, Exception] = {}
        for planned in plans:
            try:
                await self._record(organization_id, [planned])
            except Exception as exc:
                event_id = planned.usage.event_id
                _log.warning("usage.record_failed", event_id=event_id, error=repr(exc))
                failures[event_id] = exc
        return failures

    def _packed(self, plans: Sequence[_Planned]) -> Iterable[list[_Planned]]:
        """The plans in order, in chunks whose documents fit one batch with room for alerts
        (a chunk that raises more is halved, `_record`)."""
        room = self._ledger.batch_limit * 9 // 10
        chunk: list[_Planned] = []
        ids: set[str] = set()
        for planned in plans:
            touched = {key.id for key in planned.buckets} | {k.id for k in planned.counters()}
            added = 1 + len(touched - ids)  # its record, and what no event before touches
            if chunk and len(ids) + len(chunk) + added > room:
                yield chunk
                chunk, ids = [], set()
                added = 1 + len(touched)
            chunk.append(planned)
            ids |= touched
        if chunk:
            yield chunk

    async def _record(self, organization_id: str, plans: list[_Planned]) -> None:
        try:
            await self._record_chunk(organization_id, plans)
        except _Oversize:
            middle = len(plans) // 2
            await self._record(organization_id, plans[:middle])
            await self._record(organization_id, plans[middle:])

    async def _record_chunk(self, organization_id: str, plans: list[_Planned]) -> None:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                await self._try_chunk(organization_id, plans, afresh=attempt > 1)
                return
            except (DocumentExists, DocumentNotFound, EtagMismatch):
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                if attempt > 1:
                    # Each round has a winner; jitter keeps the losers from meeting again.
                    await asyncio.sleep(random.uniform(0, 0.005 * attempt))  # noqa: S311

    async def _try_chunk(
        self, organization_id: str, plans: list[_Planned], *, afresh: bool
    ) -> None:
        await self._drop_unpublished(organization_id)
        known = self._known
        plans = [p for p in plans if not known.recorded(organization_id, p.usage.event_id)]
        if not plans:
            return
        buckets = {key.id: key for p in plans for key in p.buckets}
        counters = {key.id: key for p in plans for key in p.counters()}
        alerts = {alert for p in plans for alert in p.alert_ids()}
        if afresh:
            self._known.forget(organization_id, [*buckets, *counters])
            state = await self._ledger.state(
                organization_id,
                buckets.values(),
                counters.values(),
                alerts,
                [p.usage.event_id for p in plans],
            )
            # Recorded before (a redelivery, a republished event): nothing more to do.
            known.remember_recorded(organization_id, state.recorded)
            plans = [p for p in plans if p.usage.event_id not in state.recorded]
            if not plans:
                return
        else:
            state = LedgerState()
            unknown = set(self._known.fill(organization_id, state, [*buckets, *counters]))
            if unknown:
                read = await self._ledger.state(
                    organization_id,
                    [key for i, key in buckets.items() if i in unknown],
                    [key for i, key in counters.items() if i in unknown],
                    (),
                )
                state.buckets.update(read.buckets)
                state.counters.update(read.counters)
            # Alerts not known to be stored are taken as not raised: if one was, creating it
            # fails the batch and the chunk is read afresh.
            state.alerts = self._known.stored_alerts(organization_id, alerts)
        await self._seed(organization_id, state, plans)
        applied = self._apply(organization_id, state, plans)
        write = applied.write
        if write.operations > self._ledger.batch_limit:
            if len(plans) > 1:
                raise _Oversize
            await self._raise_alerts_first(organization_id, write)
        etags = await self._ledger.write(organization_id, write, self._clock.now())
        for bucket in write.buckets:
            bucket.etag = etags[bucket.key.id]
        for counter in write.counters:
            counter.etag = etags[counter.key.id]
        raised = [
            alert_key(a.limit_id, a.scope_value, _moment(a.period_start), a.level)
            for a in write.alerts
        ]
        self._known.remember(
            organization_id, [*write.buckets, *write.counters], [*state.alerts, *raised]
        )
        self._known.remember_recorded(organization_id, [r.usage.event_id for r in write.records])
        try:
            await self._counters.publish(organization_id, write.counters)
        except Exception:
            # Stored, not cached: the redelivery drops the stale entries (`_drop_unpublished`).
            suspect = self._unpublished.setdefault(organization_id, {})
            suspect.update((counter.key.id, counter.key) for counter in write.counters)
            raise

    async def _drop_unpublished(self, organization_id: str) -> None:
        suspect = self._unpublished.get(organization_id)
        if suspect:
            await self._counters.drop(organization_id, suspect.values())
            del self._unpublished[organization_id]

    async def _seed(
        self, organization_id: str, state: LedgerState, plans: Sequence[_Planned]
    ) -> None:
        for p in plans:
            for key in p.counters():
                if key.id not in state.counters:
                    value = await self._counters.seed(organization_id, key)
                    state.counters[key.id] = Counter(key, value)

    def _apply(
        self, organization_id: str, state: LedgerState, plans: Sequence[_Planned]
    ) -> _Applied:
        applied = _Applied(buckets=state.buckets, counters=state.counters)
        write = applied.write
        raised = set(state.alerts)
        touched_buckets: dict[str, Bucket] = {}
        touched_counters: dict[str, Counter] = {}
        now = self._clock.now()
        for p in plans:
            usage = p.usage
            charges: dict[str, Decimal] = {}
            deltas: dict[str, Decimal] = {}
            for meter_id, (rule, total) in p.prices.items():
                quantity = usage.contributions[meter_id]
                assert isinstance(quantity, Decimal)
                charges[meter_id] = rule.charge(applied.counters[total.id].value, quantity)
                deltas[total.id] = quantity
            amount = _money.total(list(charges.values()))
            for counted in p.limits:
                deltas[counted.counter.id] = _delta(counted.limit, usage, amount)
            for counter_id, delta in deltas.items():
                counter = applied.counters[counter_id]
                counter.value = _money.add(counter.value, delta)
                touched_counters[counter_id] = counter
            for key in p.buckets:
                bucket = applied.buckets.get(key.id)
                if bucket is None:
                    bucket = applied.buckets[key.id] = Bucket(key)
                bucket.add(usage.contributions, charges)
                touched_buckets[key.id] = bucket
            for counted in p.limits:
                used = applied.counters[counted.counter.id].value
                for level in _levels(counted.limit, used, usage.occur_time):
                    identifier = alert_key(
                        counted.limit.id, counted.scope_value, counted.counter.start, level
                    )
                    if identifier in raised:
                        continue
                    raised.add(identifier)
                    alert = _alert(counted, level, used, usage, now)
                    write.alerts.append(alert)
                    write.events.append(
                        UsageEvents(usage.actor, self._clock).alert_raised(alert, organization_id)
                    )
            write.records.append(RecordedUsage(usage, charges, amount))
        write.buckets = list(touched_buckets.values())
        write.counters = list(touched_counters.values())
        return applied

    async def _raise_alerts_first(self, organization_id: str, write: LedgerWrite) -> None:
        """One event whose alerts do not fit its batch: store the alerts (each with its event)
        in batches of their own first. Should the event's own batch then fail, its retry finds
        them stored and raises none twice."""
        pairs = list(zip(write.alerts, write.events, strict=True))
        per_batch = self._ledger.batch_limit // 2
        for start in range(0, len(pairs), per_batch):
            part = pairs[start : start + per_batch]
            alerts_only = LedgerWrite(
                alerts=[alert for alert, _ in part], events=[event for _, event in part]
            )
            try:
                await self._ledger.write(organization_id, alerts_only, self._clock.now())
            except DocumentExists:
                # Stored by an earlier attempt: the event's retry skips what is stored.
                continue
        write.alerts.clear()
        write.events.clear()


def _moment(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def _delta(limit: Limit, usage: Usage, amount: Decimal) -> Decimal:
    if limit.is_budget:
        return amount
    contribution = usage.contributions.get(limit.measure)
    return contribution if isinstance(contribution, Decimal) else _money.ZERO


def _levels(
    limit: Limit, used: Decimal, moment: datetime
) -> list[resources_pb2.AlertLevel.ValueType]:
    levels = limit.levels_reached(used)
    if limit.forecast_exceeded(used, moment):
        levels.append(resources_pb2.ALERT_LEVEL_FORECAST_EXCEEDED)
    return levels


def _alert(
    counted: _Counted,
    level: resources_pb2.AlertLevel.ValueType,
    used: Decimal,
    usage: Usage,
    now: datetime,
) -> resources_pb2.UsageAlert:
    limit = counted.limit
    start, end = limit.period(usage.occur_time)
    alert = resources_pb2.UsageAlert(
        id=next_event_id(),
        kind=limit.kind,
        limit_id=limit.id,
        limit_name=limit.name,
        level=level,
        scope=limit.scope,
        scope_value=counted.scope_value,
        meter=limit.meter,
        limit=_money.text(limit.limit),
        used=_money.text(used),
        currency=limit.currency,
        event_id=usage.event_id,
    )
    if limit.is_budget:
        alert.projected = _money.text(limit.projection(used, usage.occur_time)[0])
    alert.period_start.FromDatetime(start)
    alert.period_end.FromDatetime(end)
    alert.raise_time.FromDatetime(now)
    return alert
