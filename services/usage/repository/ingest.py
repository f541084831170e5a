"""The ledger's storage: records, buckets, counters and alerts in the `usage` container.

One recorded chunk of events is one atomic batch of the organization's partition: the records
(whose ids are the event ids, so a redelivered event cannot be stored twice), the buckets and
counters they change (replaced on the etag they were read with, so two replicas recording at
once cannot lose an update), the alerts they raise and the alert events' outbox documents.
Either the whole chunk is stored or none of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from coder.events.v1 import event_pb2
from coder.usage.v1 import resources_pb2
from services.kit import Repository, time_text
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    Document,
    DocumentStore,
    F,
    Query,
)
from services.usage._ledger import Bucket, BucketKey, Counter, CounterKey, Usage, record_key, slot
from services.usage._mapping import (
    BUCKET,
    alert_document,
    bucket_document,
    bucket_from_document,
    counter_document,
    counter_from_document,
    record_document,
)
from services.usage._periods import Granularity, following

USAGE = "usage"

COUNTER_GRACE = timedelta(days=35)
"""How long a counter outlives its period: late events of the period still find it."""


@dataclass(slots=True)
class LedgerState:
    """The stored documents a chunk of events changes, by id; absent ones are not stored yet."""

    buckets: dict[str, Bucket] = field(default_factory=dict)
    counters: dict[str, Counter] = field(default_factory=dict)
    alerts: set[str] = field(default_factory=set)
    recorded: set[str] = field(default_factory=set)
    """Ids of the events asked about that are recorded already."""


@dataclass(slots=True)
class RecordedUsage:
    """One event as its record stores it: the usage and its charges by meter."""

    usage: Usage
    charges: dict[str, Decimal]
    amount: Decimal


@dataclass(slots=True)
class LedgerWrite:
    """What one atomic batch stores."""

    records: list[RecordedUsage] = field(default_factory=list)
    buckets: list[Bucket] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    alerts: list[resources_pb2.UsageAlert] = field(default_factory=list)
    events: list[event_pb2.Event] = field(default_factory=list)

    @property
    def operations(self) -> int:
        return (
            len(self.records)
            + len(self.buckets)
            + len(self.counters)
            + len(self.alerts)
            + len(self.events)
        )


class UsageLedger(Repository):
    """Reads and atomic writes of the ledger. `retention_seconds` is how long records, hourly
    buckets and alerts are kept; daily and monthly buckets are kept for good."""

    batch_limit = MAX_BATCH_OPERATIONS
    """Operations one atomic write holds."""

    def __init__(
        self, store: DocumentStore, relay: OutboxRelay | None, *, retention_seconds: int
    ) -> None:
        super().__init__(store, relay)
        self._usage = self.entities(USAGE)
        self._retention = retention_seconds

    async def state(
        self,
        organization_id: str,
        buckets: Iterable[BucketKey],
        counters: Iterable[CounterKey],
        alerts: Iterable[str],
        events: Iterable[str] = (),
    ) -> LedgerState:
        """The stored buckets, counters and alerts of these keys, and which of `events` are
        recorded, in one read."""
        bucket_keys = {key.id: key for key in buckets}
        counter_keys = {key.id: key for key in counters}
        alert_ids = set(alerts)
        records = {record_key(event_id) for event_id in events}
        found = await self._by_ids(
            organization_id, [*records, *bucket_keys, *counter_keys, *alert_ids]
        )
        state = LedgerState()
        for document in found:
            identifier = document["id"]
            if identifier in records:
                state.recorded.add(document["eventId"])
            elif identifier in bucket_keys:
                state.buckets[identifier] = bucket_from_document(document)
            elif identifier in counter_keys:
                state.counters[identifier] = counter_from_document(
                    counter_keys[identifier], document
                )
            elif identifier in alert_ids:
                state.alerts.add(identifier)
        return state

    async def buckets(
        self,
        organization_id: str,
        granularity: Granularity,
        start: datetime,
        end: datetime,
        categories: Sequence[str] = (),
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> list[Bucket]:
        """The buckets of one size starting in [start, end), of these categories (all when
        empty), whose dimensions take one of the given values."""
        query = Query().where(
            F("kind") == BUCKET,
            F("slot") >= slot(granularity, start),
            F("slot") < slot(granularity, end),
        )
        if categories:
            query = query.where(F("category").in_(list(categories)))
        for dimension, values in (filters or {}).items():
            query = query.where(F(f"dims.{dimension}").in_(list(values)))
        return [bucket_from_document(d) for d in await self._usage.every(query, organization_id)]

    async def write(
        self, organization_id: str, write: LedgerWrite, now: datetime
    ) -> dict[str, str]:
        """Store a chunk in one atomic batch; the new etags of its buckets and counters, by
        document id. `DocumentExists` (a record or a new document another writer stored
        first) and `EtagMismatch` (a document another writer changed since it was read) leave
        nothing written; read again and retry."""
        recorded_at = time_text(now)
        operations: list[BatchOp] = [
            BatchOp.create(
                record_document(item.usage, item.charges, item.amount, recorded_at, self._retention)
            )
            for item in write.records
        ]
        for bucket in write.buckets:
            ttl = self._retention if bucket.key.granularity is Granularity.HOUR else None
            operations.append(_put(bucket_document(bucket, ttl), bucket.etag))
        for counter in write.counters:
            end = following(counter.key.start, counter.key.granularity)
            ttl = max(60, int((end + COUNTER_GRACE - now).total_seconds()))
            operations.append(_put(counter_document(counter, ttl), counter.etag))
        operations.extend(
            BatchOp.create(alert_document(alert, self._retention)) for alert in write.alerts
        )
        written = await self._usage.commit(organization_id, operations, write.events)
        changed = written[
            len(write.records) : len(write.records) + len(write.buckets) + len(write.counters)
        ]
        return {document["id"]: document["_etag"] for document in changed}

    async def _by_ids(self, organization_id: str, ids: Sequence[str]) -> list[Document]:
        # Point reads: the cheapest read on both stores (SQLite serves them on the event
        # loop from its read connection; Cosmos DB at one request unit each, in parallel).
        found = await asyncio.gather(*(self._usage.get(organization_id, id) for id in ids))
        return [document for document in found if document is not None]


def _put(document: Document, etag: str | None) -> BatchOp:
    if etag is None:
        return BatchOp.create(document)
    return BatchOp.replace(document, if_match=etag)
