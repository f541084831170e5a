"""Every storage query of the audit trail: container `audit`, partitioned by organization id
(or by the user's id for a user's own records, such as failed sign-ins).
"""

from __future__ import annotations

from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    audit_from_document,
)
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    ContainerSpec,
    Document,
    DocumentStore,
    Query,
)

AUDIT = "audit"

CONTAINERS = (ContainerSpec(AUDIT, indexes=("/time",)),)


class AuditRepository(Repository):
    """Appends and pages of audit records."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._audit = self.entities(AUDIT)

    async def add_audit(self, partition: str, document: Document) -> None:
        await self._audit.container.create(partition, document)

    async def list_audit(
        self, partition: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.AuditEvent], str | None]:
        query = Query().order_by("time", desc=True).limit(page_size).after(continuation)
        page = await self._audit.page(query, partition)
        return [audit_from_document(d) for d in page.items], page.continuation
