"""Access rules shared by the identity services: the caller's own organization and account,
and whether one set of permission patterns stays within another. Who may call each RPC is
declared in the proto (`(coder.common.v1.access)`, with `admin_only` / `owner_only` /
`self_service`) and enforced by the kit before any of this runs."""

from __future__ import annotations

from collections.abc import Iterable

from coder.identity.v1 import resources_pb2
from services.identity.repository import IdentityRepositories
from services.kit import (
    ROLE_PERMISSIONS,
    NotFound,
    Principal,
    current_principal,
)

OWNER = "owner"
ADMIN = "admin"
SYSTEM_ROLES = tuple(ROLE_PERMISSIONS)


def own_organization(organization_id: str) -> Principal:
    """The principal, when `organization_id` is its organization; NotFound otherwise, so
    another organization's existence is not revealed."""
    principal = current_principal()
    if organization_id != principal.organization_id:
        raise NotFound(f"organization {organization_id} not found", reason="ORGANIZATION_NOT_FOUND")
    return principal


async def signed_in_user(repositories: IdentityRepositories) -> resources_pb2.User:
    """The caller's own account; NotFound when it no longer exists."""
    user = await repositories.accounts.get_user(current_principal().subject)
    if user is None:
        raise NotFound("your account no longer exists", reason="USER_NOT_FOUND")
    return user


def _segments(pattern: str) -> list[str]:
    return ["*", "*", "*"] if pattern == "*" else pattern.split(".")


def pattern_covers(granted: str, wanted: str) -> bool:
    """True when every permission `wanted` matches is also matched by `granted` (both may
    hold `*` segments; `*` alone is `*.*.*`)."""
    have, need = _segments(granted), _segments(wanted)
    if len(have) != len(need):
        return False
    return all(h in ("*", n) for h, n in zip(have, need, strict=True))


def within(granted: Iterable[str], wanted: str) -> bool:
    """True when some pattern of `granted` covers `wanted`."""
    return any(pattern_covers(g, wanted) for g in granted)


def grantable(principal: Principal) -> tuple[str, ...]:
    """The patterns a principal may hand on: its system roles' patterns and its explicit
    permissions."""
    patterns = [p for role in principal.roles for p in ROLE_PERMISSIONS.get(role, ())]
    return (*patterns, *principal.permissions)
