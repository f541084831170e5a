"""Organizations, their members, custom roles and the audit listing.

Every method but founding acts inside the caller's own organization, so another
organization's ids are never found. Changes that may take the owner role away hold a
per-organization lock: an organization always keeps an owner.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager

from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from services.identity import events as ev
from services.identity._access import (
    ADMIN,
    OWNER,
    SYSTEM_ROLES,
    own_organization,
    signed_in_user,
)
from services.identity._mapping import parse_time
from services.identity.events import IdentityEvents, user_actor
from services.identity.repository import IdentityRepositories
from services.identity.service.audit import AuditTrail
from services.identity.service.sessions import SessionService
from services.kit import (
    AlreadyExists,
    Clock,
    DocumentExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    PermissionDenied,
    Policy,
    Principal,
    Revocations,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    permissions_with,
    read_modify_write,
    update_paths,
)
from services.kit.cache import Lock, LockManager

ORGANIZATION_WRITABLE = ("name", "settings")
ROLE_WRITABLE = ("name", "description", "permissions")

OWNERS_LOCK_TTL = 10.0

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


class OrganizationService:
    """Organizations, members, custom roles and the audit trail's listing."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        clock: Clock,
        locks: LockManager,
        sessions: SessionService,
        audit: AuditTrail,
        revocations: Revocations,
    ) -> None:
        self._repos = repositories
        self._clock = clock
        self._locks = locks
        self._sessions = sessions
        self._audit = audit
        self._revocations = revocations

    # --- organizations -------------------------------------------------------------------------

    async def create_organization(
        self, draft: resources_pb2.Organization
    ) -> resources_pb2.Organization:
        """A new organization with the caller as its owner."""
        user = await signed_in_user(self._repos)
        return await self.found(user, draft)

    async def found(
        self, owner: resources_pb2.User, draft: resources_pb2.Organization
    ) -> resources_pb2.Organization:
        """A new organization (its slug claimed on the platform) with `owner` as its owner."""
        if not draft.name.strip():
            raise InvalidArgument(
                "the organization needs a name",
                violations=[FieldViolation("organization.name", "must not be blank")],
            )
        now = self._clock.now()
        organization = resources_pb2.Organization(
            id=new_id(), name=draft.name, settings=draft.settings, created_by=owner.id
        )
        organization.create_time.FromDatetime(now)
        organization.update_time.FromDatetime(now)
        organization.slug = await self._claim_slug(organization.id, draft.slug, draft.name)
        events = IdentityEvents(user_actor(owner.id), self._clock)
        try:
            await self._repos.organizations.create_organization(
                organization, events.organization(ev.ORGANIZATION_CREATED, organization)
            )
        except BaseException:
            # The slug was reserved in another partition first; give it back.
            await self._repos.organizations.release_slug(organization.slug)
            raise
        member = resources_pb2.Member(
            organization_id=organization.id,
            user_id=owner.id,
            email=owner.email,
            display_name=owner.display_name,
            role=OWNER,
        )
        member.join_time.FromDatetime(now)
        await self._repos.organizations.add_member(member, events.member(ev.MEMBER_ADDED, member))
        return organization

    async def _claim_slug(self, organization_id: str, wanted: str, name: str) -> str:
        if wanted:
            if await self._repos.organizations.claim_slug(wanted, organization_id):
                return wanted
            raise AlreadyExists(
                f"the slug {wanted!r} is taken",
                reason="SLUG_TAKEN",
                violations=[FieldViolation("organization.slug", "is taken")],
            )
        base = _SLUG_JUNK.sub("-", name.lower()).strip("-")[:50].strip("-") or "org"
        candidates = [base] + [f"{base}-{secrets.token_hex(3)}" for _ in range(5)]
        for candidate in candidates:
            if await self._repos.organizations.claim_slug(candidate, organization_id):
                return candidate
        raise AlreadyExists("no free slug for that name; choose one", reason="SLUG_TAKEN")

    async def get_organization(self, organization_id: str) -> resources_pb2.Organization:
        own_organization(organization_id)
        return await self._organization(organization_id)

    async def update_organization(
        self, changes: resources_pb2.Organization, mask: FieldMask
    ) -> resources_pb2.Organization:
        paths = update_paths(mask, changes, "organization", ORGANIZATION_WRITABLE)
        principal = own_organization(changes.id)
        if "name" in paths and not changes.name.strip():
            raise InvalidArgument(
                "the organization needs a name",
                violations=[FieldViolation("organization.name", "must not be blank")],
            )

        async def attempt() -> resources_pb2.Organization:
            current = await self._organization(changes.id)
            check_etag(changes.etag, current.etag, "organization")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            updated.ClearField("etag")
            updated.update_time.FromDatetime(self._clock.now())
            events = self._events(principal)
            event = events.organization(ev.ORGANIZATION_UPDATED, updated, changed)
            return await self._repos.organizations.replace_organization(
                updated, current.etag, event
            )

        return await read_modify_write(changes.etag, attempt)

    async def list_organizations(self) -> list[resources_pb2.Membership]:
        user_id = current_principal().subject
        memberships = []
        for organization_id, last_used in await self._repos.organizations.user_memberships(user_id):
            member = await self._repos.organizations.get_member(organization_id, user_id)
            organization = await self._repos.organizations.get_organization(organization_id)
            if member is None or organization is None:
                continue
            membership = resources_pb2.Membership(organization=organization, role=member.role)
            membership.last_used_time.FromDatetime(parse_time(last_used))
            memberships.append(membership)
        return memberships

    async def _organization(self, organization_id: str) -> resources_pb2.Organization:
        organization = await self._repos.organizations.get_organization(organization_id)
        if organization is None:
            raise NotFound(
                f"organization {organization_id} not found", reason="ORGANIZATION_NOT_FOUND"
            )
        return organization

    # --- members -------------------------------------------------------------------------------

    async def list_members(
        self, request: api.ListMembersRequest
    ) -> tuple[list[resources_pb2.Member], str]:
        organization_id = request.organization_id
        own_organization(organization_id)
        page = PageRequest.of(request, organization_id)
        members, continuation = await self._repos.organizations.list_members(
            organization_id, page.size, page.continuation
        )
        return members, page.seal(continuation)

    async def update_member_role(
        self, organization_id: str, user_id: str, role: str
    ) -> resources_pb2.Member:
        """Give a member a system or custom role. Only an owner grants or takes `owner`; the
        last owner keeps it."""
        principal = own_organization(organization_id)
        await self._check_role_exists(organization_id, role)
        async with self._owners_lock(organization_id):
            member = await self._member(organization_id, user_id)
            if member.role == role:
                return member
            if OWNER in (role, member.role) and OWNER not in principal.roles:
                raise PermissionDenied(
                    "only an owner grants or takes the owner role", reason="OWNER_REQUIRED"
                )
            if member.role == OWNER:
                await self._keep_an_owner(organization_id)
            previous = member.role
            member.role = role
            event = self._events(principal).member(ev.MEMBER_ROLE_CHANGED, member, previous)
            await self._repos.organizations.set_member_roles(organization_id, [member], [event])
        # Tokens carrying the old role stop working now, not when they expire.
        await self._revocations.record([event])
        await self._audit.record(
            organization_id,
            ev.MEMBER_ROLE_CHANGED_AUDIT,
            actor_user_id=principal.subject,
            subject_id=user_id,
            session_id=principal.session_id,
            details={"from_role": previous, "to_role": role},
        )
        return member

    async def transfer_ownership(
        self, organization_id: str, new_owner_id: str
    ) -> tuple[resources_pb2.Member, resources_pb2.Member]:
        """Make a member the owner and the calling owner an admin, atomically (the access rule
        already limits the call to owners)."""
        principal = own_organization(organization_id)
        if new_owner_id == principal.subject:
            raise InvalidArgument(
                "you own the organization already",
                violations=[FieldViolation("new_owner_id", "name another member")],
            )
        async with self._owners_lock(organization_id):
            previous = await self._member(organization_id, principal.subject)
            successor = await self._member(organization_id, new_owner_id)
            if previous.role != OWNER:
                raise PermissionDenied(
                    "only the owner transfers ownership", reason="OWNER_REQUIRED"
                )
            successor_role = successor.role
            previous.role, successor.role = ADMIN, OWNER
            events = self._events(principal)
            changes = [
                events.member(ev.MEMBER_ROLE_CHANGED, successor, successor_role),
                events.member(ev.MEMBER_ROLE_CHANGED, previous, OWNER),
            ]
            await self._repos.organizations.set_member_roles(
                organization_id, [successor, previous], changes
            )
        await self._revocations.record(changes)
        await self._audit.record(
            organization_id,
            ev.OWNERSHIP_TRANSFERRED_AUDIT,
            actor_user_id=principal.subject,
            subject_id=new_owner_id,
            session_id=principal.session_id,
            details={"from_role": successor_role},
        )
        return previous, successor

    async def remove_member(self, organization_id: str, user_id: str) -> None:
        """Remove a member and end their sessions in the organization."""
        principal = own_organization(organization_id)
        async with self._owners_lock(organization_id):
            member = await self._member(organization_id, user_id)
            if member.role == OWNER:
                if OWNER not in principal.roles:
                    raise PermissionDenied(
                        "only an owner removes an owner", reason="OWNER_REQUIRED"
                    )
                await self._keep_an_owner(organization_id)
            event = self._events(principal).member(ev.MEMBER_REMOVED, member)
            await self._repos.organizations.remove_member(member, event)
        await self._revocations.record([event])
        sessions = [
            r
            for r in await self._repos.sessions.active_sessions(user_id)
            if r.session.organization_id == organization_id
        ]
        await self._sessions.revoke(user_id, sessions, "member_removed", principal.subject)
        await self._audit.record(
            organization_id,
            ev.MEMBER_REMOVED_AUDIT,
            actor_user_id=principal.subject,
            subject_id=user_id,
            session_id=principal.session_id,
            details={"role": member.role},
        )

    def _owners_lock(self, organization_id: str) -> AbstractAsyncContextManager[Lock]:
        """Serializes changes that may take the owner role away: two owners demoting each
        other at once must not leave the organization without one."""
        return self._locks.lock(f"identity:owners:{organization_id}", ttl=OWNERS_LOCK_TTL, wait=5.0)

    async def _keep_an_owner(self, organization_id: str) -> None:
        if await self._repos.organizations.count_role(organization_id, OWNER) <= 1:
            raise FailedPrecondition(
                "an organization keeps at least one owner; make someone else owner first",
                reason="LAST_OWNER",
            )

    async def _member(self, organization_id: str, user_id: str) -> resources_pb2.Member:
        member = await self._repos.organizations.get_member(organization_id, user_id)
        if member is None:
            raise NotFound(f"member {user_id} not found", reason="MEMBER_NOT_FOUND")
        return member

    async def _check_role_exists(self, organization_id: str, role: str) -> None:
        if role in SYSTEM_ROLES or await self._repos.organizations.get_role(organization_id, role):
            return
        raise InvalidArgument(
            f"no role {role!r} in this organization",
            reason="ROLE_UNKNOWN",
            violations=[
                FieldViolation("role", "must be owner, admin, member, viewer or a custom role id")
            ],
        )

    # --- custom roles --------------------------------------------------------------------------

    async def create_role(
        self, organization_id: str, draft: resources_pb2.Role
    ) -> resources_pb2.Role:
        principal = own_organization(organization_id)
        _check_permissions(draft.permissions, "role.permissions")
        now = self._clock.now()
        role = resources_pb2.Role(
            id=new_id(),
            organization_id=organization_id,
            name=draft.name,
            description=draft.description,
            permissions=sorted(set(draft.permissions)),
        )
        role.create_time.FromDatetime(now)
        role.update_time.FromDatetime(now)
        try:
            await self._repos.organizations.create_role(
                role, self._events(principal).role(ev.ROLE_CREATED, role)
            )
        except DocumentExists as error:
            raise _role_name_taken() from error
        return role

    async def list_roles(self, organization_id: str) -> list[resources_pb2.Role]:
        own_organization(organization_id)
        return await self._repos.organizations.list_roles(organization_id)

    async def update_role(self, changes: resources_pb2.Role, mask: FieldMask) -> resources_pb2.Role:
        paths = update_paths(mask, changes, "role", ROLE_WRITABLE)
        principal = own_organization(changes.organization_id)
        if "permissions" in paths:
            _check_permissions(changes.permissions, "role.permissions")

        async def attempt() -> resources_pb2.Role:
            current = await self._role(changes.organization_id, changes.id)
            check_etag(changes.etag, current.etag, "role")
            updated, _ = apply_update(current, changes, paths)
            if "permissions" in paths:
                del updated.permissions[:]
                updated.permissions.extend(sorted(set(changes.permissions)))
            updated.ClearField("etag")
            updated.update_time.FromDatetime(self._clock.now())
            event = self._events(principal).role(ev.ROLE_UPDATED, updated)
            try:
                return await self._repos.organizations.replace_role(
                    updated, current.name, current.etag, event
                )
            except DocumentExists as error:
                raise _role_name_taken() from error

        return await read_modify_write(changes.etag, attempt)

    async def delete_role(self, organization_id: str, role_id: str) -> None:
        principal = own_organization(organization_id)
        role = await self._role(organization_id, role_id)
        if await self._repos.organizations.count_role(organization_id, role_id):
            raise FailedPrecondition(
                "members still hold this role; give them another first", reason="ROLE_IN_USE"
            )
        await self._repos.organizations.delete_role(
            role, self._events(principal).role(ev.ROLE_DELETED, role)
        )

    async def _role(self, organization_id: str, role_id: str) -> resources_pb2.Role:
        role = await self._repos.organizations.get_role(organization_id, role_id)
        if role is None:
            raise NotFound(f"role {role_id} not found", reason="ROLE_NOT_FOUND")
        return role

    # --- audit ---------------------------------------------------------------------------------

    async def list_audit_events(
        self, request: api.ListAuditEventsRequest
    ) -> tuple[list[resources_pb2.AuditEvent], str]:
        organization_id = request.organization_id
        own_organization(organization_id)
        page = PageRequest.of(request, organization_id)
        found, continuation = await self._repos.audit.list_audit(
            organization_id, page.size, page.continuation
        )
        return found, page.seal(continuation)

    def _events(self, principal: Principal) -> IdentityEvents:
        return IdentityEvents(user_actor(principal.subject, principal.session_id), self._clock)


def _check_permissions(patterns: Iterable[str], field: str) -> None:
    violations = [
        FieldViolation(f"{field}[{index}]", "owner-only permissions cannot be granted by a role")
        for index, pattern in enumerate(patterns)
        if pattern in permissions_with(Policy.OWNER_ONLY)
    ]
    if violations:
        raise InvalidArgument("a permission cannot be granted", violations=violations)


def _role_name_taken() -> AlreadyExists:
    return AlreadyExists(
        "a role with this name exists",
        reason="ROLE_NAME_TAKEN",
        violations=[FieldViolation("role.name", "is taken in this organization")],
    )
