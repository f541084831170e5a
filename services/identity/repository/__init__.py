"""Every storage query of the identity service, one module per concern (matching `service/`).

Partitioning (see README.md): users exist before any organization, so a user's own records —
account, password credential, sessions with their refresh tokens, and the index of their
memberships — are partitioned by the user's id. Organization data — the organization, its
members, custom roles, teams, invitations, service accounts and audit trail — is partitioned
by organization id. Platform-wide uniqueness (emails, slugs, external identities) and the
signing keys live in `SYSTEM_PARTITION`.

A write that must be atomic stays inside one container and partition, with its outbox events
in the same batch. Writes that span partitions (a unique email or slug, a membership and its
per-user mirror) are ordered so that a failure leaves nothing a reader trusts, and compensate.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.identity.repository import (
    accounts,
    audit,
    invitations,
    keys,
    organizations,
    service_accounts,
    sessions,
    teams,
)
from services.identity.repository.accounts import AccountRepository, Credential
from services.identity.repository.audit import AuditRepository
from services.identity.repository.invitations import InvitationRecord, InvitationRepository
from services.identity.repository.keys import KeyRepository
from services.identity.repository.organizations import OrganizationRepository
from services.identity.repository.service_accounts import (
    ServiceAccountRecord,
    ServiceAccountRepository,
)
from services.identity.repository.sessions import RefreshRecord, SessionRecord, SessionRepository
from services.identity.repository.teams import TeamRepository
from services.kit.bus import OutboxRelay
from services.kit.store import DocumentStore

CONTAINERS = (
    *accounts.CONTAINERS,
    *sessions.CONTAINERS,
    *organizations.CONTAINERS,
    *audit.CONTAINERS,
    *keys.CONTAINERS,
    *invitations.CONTAINERS,
    *service_accounts.CONTAINERS,
    *teams.CONTAINERS,
)
"""Every container of the identity service."""


@dataclass(frozen=True, slots=True)
class IdentityRepositories:
    """The identity service's repositories, opened once per process on its store."""

    accounts: AccountRepository
    sessions: SessionRepository
    organizations: OrganizationRepository
    audit: AuditRepository
    keys: KeyRepository
    invitations: InvitationRepository
    service_accounts: ServiceAccountRepository
    teams: TeamRepository

    @classmethod
    def open(cls, store: DocumentStore, relay: OutboxRelay | None) -> IdentityRepositories:
        return cls(
            accounts=AccountRepository(store, relay),
            sessions=SessionRepository(store, relay),
            organizations=OrganizationRepository(store, relay),
            audit=AuditRepository(store, relay),
            keys=KeyRepository(store, relay),
            invitations=InvitationRepository(store, relay),
            service_accounts=ServiceAccountRepository(store, relay),
            teams=TeamRepository(store, relay),
        )


__all__ = [
    "CONTAINERS",
    "AccountRepository",
    "AuditRepository",
    "Credential",
    "IdentityRepositories",
    "InvitationRecord",
    "InvitationRepository",
    "KeyRepository",
    "OrganizationRepository",
    "RefreshRecord",
    "ServiceAccountRecord",
    "ServiceAccountRepository",
    "SessionRecord",
    "SessionRepository",
    "TeamRepository",
]
