"""The secret service's domain rules, one module per concern (the same names as
`services/secret/repository/` where they store): secrets, versions and values, grants, the
read audit, import and export, key-encryption keys, and the sweep of stored deadlines."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit import Clock
from services.secret._envelope import Envelope
from services.secret._settings import SecretSettings
from services.secret.repository import SecretRepositories
from services.secret.service.access import SecretAccess, TeamDirectory
from services.secret.service.audit import AuditService
from services.secret.service.context import SecretContext
from services.secret.service.grants import GrantService
from services.secret.service.keys import KeyService
from services.secret.service.secrets import SecretService
from services.secret.service.sweep import Sweeper, SweepReport
from services.secret.service.transfer import TransferService
from services.secret.service.versions import VersionService


@dataclass(frozen=True, slots=True)
class SecretDomain:
    """Every part of the service, over one context."""

    secrets: SecretService
    versions: VersionService
    grants: GrantService
    audit: AuditService
    transfer: TransferService
    keys: KeyService
    sweeper: Sweeper

    @classmethod
    def build(
        cls,
        repositories: SecretRepositories,
        envelope: Envelope,
        teams: TeamDirectory,
        clock: Clock,
        settings: SecretSettings,
    ) -> SecretDomain:
        context = SecretContext(
            repository=repositories.secrets,
            audit=repositories.audit,
            envelope=envelope,
            access=SecretAccess(teams),
            clock=clock,
            settings=settings,
        )
        secrets = SecretService(context)
        versions = VersionService(context)
        keys = KeyService(context)
        return cls(
            secrets=secrets,
            versions=versions,
            grants=GrantService(context),
            audit=AuditService(context),
            transfer=TransferService(context, secrets, versions),
            keys=keys,
            sweeper=Sweeper(context, keys),
        )


__all__ = ["SecretDomain", "SweepReport"]
