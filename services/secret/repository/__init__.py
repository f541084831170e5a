"""Every storage query of the secret service, one module per concern: secrets with their
versions and name claims (`secrets`), and the audit of value reads (`audit`).

Both containers are partitioned by organization id. The `secrets` container holds a secret,
its name claim, its versions and the service's outbox, because creating a secret, adding a
version (and dropping the oldest), moving and deleting are each one atomic batch of one
partition with their events.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.bus import OutboxRelay
from services.kit.store import ContainerSpec, DocumentStore
from services.secret.repository.audit import ACCESS, AuditRepository
from services.secret.repository.secrets import SECRETS, SecretRepository

CONTAINERS = (
    ContainerSpec(
        SECRETS,
        indexes=(
            "/kind",
            "/name",
            "/scopeKey",
            "/scope",
            "/type",
            "/state",
            "/secretId",
            "/keyId",
            "/version",
            "/nextDeadline",
        ),
        outbox=True,
    ),
    ContainerSpec(ACCESS, indexes=("/accessTime", "/secretId", "/subject")),
)


@dataclass(frozen=True, slots=True)
class SecretRepositories:
    """The service's repositories over one process's store."""

    secrets: SecretRepository
    audit: AuditRepository

    @classmethod
    def open(cls, store: DocumentStore, relay: OutboxRelay | None) -> SecretRepositories:
        return cls(secrets=SecretRepository(store, relay), audit=AuditRepository(store, relay))


__all__ = ["CONTAINERS", "SecretRepositories"]
