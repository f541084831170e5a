"""Who may do what with one secret.

- The owner (its creator) and, for a USER secret, that user may do everything.
- Administrators (owner and admin roles) manage every secret — update, delete, grant — but do
  not read values: an administrator who needs one grants it to themselves, which is an event.
- A grant gives its actions to a user (or service account) by id, to everyone holding a role,
  or to a team's members (asked of identity, only when a team grant would decide).
- A platform service calling with a delegated token acts for its subject: the subject's access
  is what counts, and the audit names the service.
Metadata of ORGANIZATION, TEAM and PROJECT secrets is visible to the whole organization; a
USER secret is visible only to those who may act on it (team grants aside, so a listing asks
identity nothing), and to everyone else it does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from coder.secret.v1 import secret_pb2
from services.kit import ADMINISTRATOR_ROLES, NotFound, PermissionDenied, Principal
from services.secret._mapping import SecretRecord

A = secret_pb2
EVERY_ACTION = frozenset(
    {A.SECRET_ACTION_READ, A.SECRET_ACTION_UPDATE, A.SECRET_ACTION_DELETE, A.SECRET_ACTION_GRANT}
)
ADMIN_ACTIONS = frozenset({A.SECRET_ACTION_UPDATE, A.SECRET_ACTION_DELETE, A.SECRET_ACTION_GRANT})
_VERBS: dict[int, str] = {
    A.SECRET_ACTION_READ: "read the value of",
    A.SECRET_ACTION_UPDATE: "change",
    A.SECRET_ACTION_DELETE: "delete or restore",
    A.SECRET_ACTION_GRANT: "manage the grants of",
}


class TeamDirectory(Protocol):
    """Answers whether a user is a member of a team of the caller's organization."""

    async def is_member(self, principal: Principal, team_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """Why an action is allowed: `owner`, `admin` or `grant:<id>`."""

    basis: str


def is_admin(principal: Principal) -> bool:
    return principal.kind == "user" and bool(principal.roles & ADMINISTRATOR_ROLES)


def _owns(principal: Principal, secret: secret_pb2.Secret) -> bool:
    if secret.created_by == principal.subject:
        return True
    return secret.scope == A.SECRET_SCOPE_USER and secret.scope_id == principal.subject


def _live(grant: secret_pb2.SecretGrant, now: datetime) -> bool:
    return not grant.HasField("expire_time") or grant.expire_time.ToDatetime(tzinfo=UTC) > now


class SecretAccess:
    """Decides a principal's actions on a secret."""

    def __init__(self, teams: TeamDirectory) -> None:
        self._teams = teams

    async def decide(
        self, principal: Principal, record: SecretRecord, action: int, now: datetime
    ) -> Decision | None:
        """Why `principal` may take `action` on the secret, or None."""
        secret = record.secret
        if _owns(principal, secret):
            return Decision("owner")
        if action in ADMIN_ACTIONS and is_admin(principal):
            return Decision("admin")
        team_grants: list[secret_pb2.SecretGrant] = []
        for grant in record.grants:
            if action not in grant.actions or not _live(grant, now):
                continue
            if grant.grantee_type == A.GRANTEE_TYPE_USER and grant.grantee_id == principal.subject:
                return Decision(f"grant:{grant.id}")
            if grant.grantee_type == A.GRANTEE_TYPE_ROLE and grant.grantee_id in principal.roles:
                return Decision(f"grant:{grant.id}")
            if grant.grantee_type == A.GRANTEE_TYPE_TEAM:
                team_grants.append(grant)
        for grant in team_grants:
            if await self._teams.is_member(principal, grant.grantee_id):
                return Decision(f"grant:{grant.id}")
        return None

    async def require(
        self, principal: Principal, record: SecretRecord, action: int, now: datetime
    ) -> Decision:
        """The decision, or NotFound for a USER secret the caller cannot see and
        PermissionDenied otherwise."""
        decision = await self.decide(principal, record, action, now)
        if decision is not None:
            return decision
        if not self.visible(principal, record, now):
            raise not_found(record.id)
        raise PermissionDenied(
            f"you may not {_VERBS[action]} secret {record.id}", reason="SECRET_ACCESS_DENIED"
        )

    def visible(self, principal: Principal, record: SecretRecord, now: datetime) -> bool:
        """Whether the caller may see the secret's metadata (team grants aside)."""
        secret = record.secret
        if secret.scope != A.SECRET_SCOPE_USER or _owns(principal, secret) or is_admin(principal):
            return True
        for grant in record.grants:
            if not _live(grant, now):
                continue
            if grant.grantee_type == A.GRANTEE_TYPE_USER and grant.grantee_id == principal.subject:
                return True
            if grant.grantee_type == A.GRANTEE_TYPE_ROLE and grant.grantee_id in principal.roles:
                return True
        return False


def not_found(secret_id: str) -> NotFound:
    return NotFound(f"secret {secret_id} not found", reason="SECRET_NOT_FOUND")
