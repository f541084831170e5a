"""The audit of value reads, for administrators: who read which secret's which version, when,
for what reason, through which service, and the refused attempts."""

from __future__ import annotations

from coder.secret.v1 import secret_pb2
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import (
    PageRequest,
    check_time_range,
    current_principal,
    optional_timestamp_text,
)
from services.secret.service.context import SecretContext


class AuditService:
    """Reads the caller's organization's access records."""

    def __init__(self, context: SecretContext) -> None:
        self._c = context

    async def list_records(
        self, request: api.ListAccessRecordsRequest
    ) -> tuple[list[secret_pb2.AccessRecord], str]:
        organization_id = current_principal().organization_id
        check_time_range(request, ("start_time", "end_time"))
        page = PageRequest.of(request, organization_id)
        records, continuation = await self._c.audit.list_records(
            organization_id,
            secret_id=request.secret_id,
            subject=request.subject,
            start=optional_timestamp_text(request, "start_time") or "",
            end=optional_timestamp_text(request, "end_time") or "",
            page_size=page.size,
            continuation=page.continuation,
        )
        return records, page.seal(continuation)
