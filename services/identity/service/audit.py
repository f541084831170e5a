"""The security audit trail of the core identity services: one record per security event,
stored in the partition of the organization (or user) it concerns."""

from __future__ import annotations

from services.identity.events import audit_document
from services.identity.repository import IdentityRepositories
from services.kit import Clock


class AuditTrail:
    """Writes audit records with the service clock's time."""

    def __init__(self, repositories: IdentityRepositories, clock: Clock) -> None:
        self._repos = repositories
        self._clock = clock

    async def record(self, partition: str, action: str, **fields: str | dict[str, str]) -> None:
        """Store one audit record of `action` in `partition`."""
        document = audit_document(action, self._clock.now(), **fields)  # type: ignore[arg-type]
        await self._repos.audit.add_audit(partition, document)
