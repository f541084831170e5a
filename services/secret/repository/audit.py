"""The audit of value reads: container `secretaccess`, partitioned by organization."""

from __future__ import annotations

from coder.secret.v1 import secret_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import DocumentStore, F, Query
from services.secret._mapping import access_document, access_from_document

ACCESS = "secretaccess"


class AuditRepository(Repository):
    """Writes and reads of access records."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._records = self.entities(ACCESS)

    async def record(self, organization_id: str, record: secret_pb2.AccessRecord) -> None:
        await self._records.container.create(
            organization_id, access_document(record, organization_id)
        )

    async def list_records(
        self,
        organization_id: str,
        *,
        secret_id: str,
        subject: str,
        start: str,
        end: str,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[secret_pb2.AccessRecord], str | None]:
        """Newest first."""
        query = Query()
        if secret_id:
            query = query.where(F("secretId") == secret_id)
        if subject:
            query = query.where(F("subject") == subject)
        if start:
            query = query.where(F("accessTime") >= start)
        if end:
            query = query.where(F("accessTime") < end)
        query = query.order_by("accessTime", desc=True).limit(page_size).after(continuation)
        page = await self._records.page(query, organization_id)
        return [access_from_document(d) for d in page.items], page.continuation
