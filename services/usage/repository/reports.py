"""Reads of the ledger for reports: records by time and alerts, newest first (buckets are
read through the ledger, `UsageLedger.buckets`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from coder.usage.v1 import resources_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import Condition, DocumentStore, F, Query
from services.usage._ledger import ALERT_SLOT, RECORD_SLOT, slot
from services.usage._mapping import alert_from_document, record_from_document
from services.usage.repository.ingest import USAGE

EXPORT_PAGE = 500
"""Records read per query while exporting."""


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records a listing or export reads; empty values mean no condition. Times are
    stored time text, [start, end)."""

    start: str | None = None
    end: str | None = None
    category: str = ""
    user_id: str = ""
    project_id: str = ""

    def conditions(self) -> list[Condition]:
        found = [
            F("slot") >= slot(RECORD_SLOT, self.start or ""),
            F("slot") < slot(RECORD_SLOT, self.end or "~"),
        ]
        if self.category:
            found.append(F("category") == self.category)
        if self.user_id:
            found.append(F("dims.user") == self.user_id)
        if self.project_id:
            found.append(F("dims.project") == self.project_id)
        return found


class ReportsRepository(Repository):
    """Record and alert listings of one organization."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._usage = self.entities(USAGE)

    async def list_records(
        self,
        organization_id: str,
        record_filter: RecordFilter,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[resources_pb2.UsageRecord], str | None]:
        """By the time the usage happened, newest first."""
        query = (
            Query()
            .where(*record_filter.conditions())
            .order_by("slot", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._usage.page(query, organization_id)
        return [record_from_document(d) for d in page.items], page.continuation

    async def each_record_page(
        self, organization_id: str, record_filter: RecordFilter
    ) -> AsyncIterator[list[resources_pb2.UsageRecord]]:
        """Every matching record, oldest first, a page at a time (memory stays bounded)."""
        query = Query().where(*record_filter.conditions()).order_by("slot").limit(EXPORT_PAGE)
        continuation: str | None = None
        while True:
            page = await self._usage.page(query.after(continuation), organization_id)
            if page.items:
                yield [record_from_document(d) for d in page.items]
            continuation = page.continuation
            if not continuation:
                return

    async def list_alerts(
        self, organization_id: str, limit_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.UsageAlert], str | None]:
        """Newest first (alert ids sort in the order they were raised)."""
        query = Query().where(F("slot") >= slot(ALERT_SLOT, ""), F("slot") < slot(ALERT_SLOT, "~"))
        if limit_id:
            query = query.where(F("limitId") == limit_id)
        query = query.order_by("slot", desc=True).limit(page_size).after(continuation)
        page = await self._usage.page(query, organization_id)
        return [alert_from_document(d) for d in page.items], page.continuation
