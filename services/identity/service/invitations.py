"""Invitations: offers to join an organization with a role, by email or as a link.

An invitation token is `<organization id>.<invitation id>.<256 random bits>`: the ids route
the lookup to the invitation's document, and only the SHA-256 of the whole token is stored
(a fast hash is enough for a high-entropy secret). It works once: accepting it is a write
conditional on the version read, as are resending (which replaces the token, so old links
die) and revoking.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from services.identity import events as ev
from services.identity._access import OWNER, own_organization
from services.identity._settings import IdentitySettings
from services.identity.events import IdentityEvents, audit_document, user_actor
from services.identity.repository import IdentityRepositories
from services.identity.repository.invitations import InvitationRecord
from services.identity.service.accounts import AccountService, normalize_email
from services.identity.service.sessions import Device, SessionService
from services.kit import (
    ADMINISTRATOR_ROLES,
    ROLE_PERMISSIONS,
    AlreadyExists,
    Clock,
    EtagMismatch,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    PermissionDenied,
    Principal,
    Unauthenticated,
    current_principal,
    new_id,
)

RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
"""The system roles in order, for the rule that an invited role may not exceed the inviter's."""

PENDING = resources_pb2.INVITATION_STATE_PENDING
_ID_PART = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, slots=True)
class Applicant:
    """Who accepts, besides a bearer token: a refresh token of a signed-in user without an
    organization, or a new account's details."""

    display_name: str = ""
    password: str = ""
    email: str = ""
    refresh_token: str = ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationService:
    """Invitations of an organization and their acceptance."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        accounts: AccountService,
        sessions: SessionService,
        clock: Clock,
        settings: IdentitySettings,
    ) -> None:
        self._repos = repositories
        self._invitations = repositories.invitations
        self._accounts = accounts
        self._sessions = sessions
        self._clock = clock
        self._settings = settings

    # --- administration ------------------------------------------------------------------------

    async def create(
        self, organization_id: str, email: str, role: str
    ) -> tuple[resources_pb2.Invitation, str]:
        """A pending invitation and its token (the only time the token is seen)."""
        principal = own_organization(organization_id)
        await self._check_role(organization_id, role, "role")
        await self._check_ceiling(principal, role)
        email = normalize_email(email)
        if email and await self._already_member(organization_id, email):
            raise AlreadyExists(
                "this person is already a member",
                reason="ALREADY_A_MEMBER",
                violations=[FieldViolation("email", "is already a member")],
            )
        now = self._clock.now()
        invitation = resources_pb2.Invitation(
            id=new_id(),
            organization_id=organization_id,
            email=email,
            role=role,
            state=PENDING,
            invited_by=principal.subject,
        )
        invitation.create_time.FromDatetime(now)
        invitation.update_time.FromDatetime(now)
        invitation.expire_time.FromDatetime(now + self._lifetime)
        token = _new_token(invitation)
        events = self._events(principal)
        outgoing = [events.invitation(ev.INVITATION_CREATED, invitation)]
        if email:
            outgoing.append(await self._sent(principal, invitation, token))
        await self._invitations.create(invitation, hash_token(token), outgoing)
        await self._audit(
            principal, ev.INVITATION_CREATED_AUDIT, invitation, {"role": role, "email": email}
        )
        return invitation, token

    async def list_invitations(
        self, request: api.ListInvitationsRequest
    ) -> tuple[list[resources_pb2.Invitation], str]:
        organization_id = request.organization_id
        own_organization(organization_id)
        page = PageRequest.of(request, organization_id)
        found, continuation = await self._invitations.page(
            organization_id, page.size, page.continuation, self._clock.now()
        )
        return found, page.seal(continuation)

    async def revoke(self, organization_id: str, invitation_id: str) -> resources_pb2.Invitation:
        principal = own_organization(organization_id)
        record = await self._record(organization_id, invitation_id)
        invitation = record.invitation
        _require_open(invitation, "revoked")
        now = self._clock.now()
        invitation.state = resources_pb2.INVITATION_STATE_REVOKED
        invitation.update_time.FromDatetime(now)
        event = self._events(principal).invitation(ev.INVITATION_REVOKED, invitation)
        try:
            await self._invitations.revoke(record, now, event)
        except EtagMismatch as error:
            raise _changed() from error
        await self._audit(principal, ev.INVITATION_REVOKED_AUDIT, invitation, {})
        return invitation

    async def resend(
        self, organization_id: str, invitation_id: str
    ) -> tuple[resources_pb2.Invitation, str]:
        """A new token (the old one dies) and a renewed expiry; for an email invitation, a new
        `identity.invitation.sent`."""
        principal = own_organization(organization_id)
        record = await self._record(organization_id, invitation_id)
        invitation = record.invitation
        _require_open(invitation, "resent")
        await self._check_ceiling(principal, invitation.role)
        if invitation.resend_count >= self._settings.invitation_max_resends:
            raise FailedPrecondition(
                f"an invitation is resent at most {self._settings.invitation_max_resends} times;"
                " revoke it and invite again",
                reason="RESEND_LIMIT",
            )
        now = self._clock.now()
        invitation.state = PENDING
        invitation.resend_count += 1
        invitation.update_time.FromDatetime(now)
        invitation.expire_time.FromDatetime(now + self._lifetime)
        token = _new_token(invitation)
        outgoing = [await self._sent(principal, invitation, token)] if invitation.email else []
        try:
            await self._invitations.resend(record, hash_token(token), outgoing)
        except EtagMismatch as error:
            raise _changed() from error
        await self._audit(
            principal,
            ev.INVITATION_RESENT_AUDIT,
            invitation,
            {"resend_count": str(invitation.resend_count)},
        )
        return invitation, token

    # --- acceptance ----------------------------------------------------------------------------

    async def accept(
        self,
        token: str,
        applicant: Applicant,
        device: Device,
    ) -> api.AuthResult:
        """Spend the token, make the signed-in caller (or a new account) a member, and sign
        them in to the organization."""
        record = await self._by_token(token)
        invitation = record.invitation
        _require_acceptable(invitation)
        await self._check_role(invitation.organization_id, invitation.role, "token")
        signed_in = _optional_principal()
        if signed_in is not None:
            user = await self._signed_in_user(signed_in, invitation)
        elif applicant.refresh_token:
            user = await self._sessions.refresh_token_user(applicant.refresh_token)
            _check_email(user, invitation)
        else:
            user = await self._new_account(invitation, applicant)
        if (
            await self._repos.organizations.get_member(invitation.organization_id, user.id)
            is not None
        ):
            raise AlreadyExists("you are already a member", reason="ALREADY_A_MEMBER")

        now = self._clock.now()
        invitation.state = resources_pb2.INVITATION_STATE_ACCEPTED
        invitation.accepted_by = user.id
        invitation.update_time.FromDatetime(now)
        events = IdentityEvents(user_actor(user.id), self._clock)
        try:
            await self._invitations.accept(
                record, user.id, now, events.invitation(ev.INVITATION_ACCEPTED, invitation)
            )
        except EtagMismatch as error:
            raise FailedPrecondition(
                "this invitation has already been used", reason="INVITATION_USED"
            ) from error
        member = resources_pb2.Member(
            organization_id=invitation.organization_id,
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=invitation.role,
        )
        member.join_time.FromDatetime(now)
        await self._repos.organizations.add_member(member, events.member(ev.MEMBER_ADDED, member))
        document = audit_document(
            ev.INVITATION_ACCEPTED_AUDIT,
            now,
            actor_user_id=user.id,
            subject_id=invitation.id,
            ip_address=device.ip_address,
            details={"role": invitation.role, "invited_by": invitation.invited_by},
        )
        await self._repos.audit.add_audit(invitation.organization_id, document)
        if signed_in is None and applicant.refresh_token:
            return await self._accounts.refresh(
                applicant.refresh_token, invitation.organization_id, "", device.ip_address
            )
        return await self._sessions.start_session(user, invitation.organization_id, device)

    async def _by_token(self, token: str) -> InvitationRecord:
        organization_id, invitation_id, secret = [*token.split(".", 2), "", ""][:3]
        record = None
        if _ID_PART.match(organization_id) and _ID_PART.match(invitation_id) and secret:
            record = await self._invitations.get(organization_id, invitation_id, self._clock.now())
        if record is None or not hmac.compare_digest(record.token_hash, hash_token(token)):
            # A replaced token (after a resend) lands here too.
            raise NotFound("the invitation token is not valid", reason="INVITATION_INVALID")
        return record

    async def _signed_in_user(
        self, principal: Principal, invitation: resources_pb2.Invitation
    ) -> resources_pb2.User:
        if principal.kind != "user":
            raise PermissionDenied("only a person accepts an invitation", reason="NOT_A_USER")
        user = await self._repos.accounts.get_user(principal.subject)
        if user is None:
            raise Unauthenticated("your account no longer exists", reason="USER_NOT_FOUND")
        _check_email(user, invitation)
        return user

    async def _new_account(
        self, invitation: resources_pb2.Invitation, applicant: Applicant
    ) -> resources_pb2.User:
        display_name, password = applicant.display_name, applicant.password
        address = invitation.email or normalize_email(applicant.email)
        violations = []
        if not invitation.email and not _EMAIL.match(address):
            violations.append(FieldViolation("email", "a link invitation needs the new email"))
        if not display_name.strip():
            violations.append(FieldViolation("display_name", "is required for a new account"))
        if not password:
            violations.append(FieldViolation("password", "is required for a new account"))
        if violations:
            raise InvalidArgument(
                "sign in first, or give the new account's details", violations=violations
            )
        if await self._repos.accounts.user_id_by_email(address) is not None:
            raise FailedPrecondition(
                "an account with this email exists: sign in, then accept the invitation",
                reason="SIGN_IN_REQUIRED",
            )
        return await self._accounts.create_account(address, password, display_name)

    # --- rules ---------------------------------------------------------------------------------

    async def _check_role(self, organization_id: str, role: str, field: str) -> None:
        if role in ROLE_PERMISSIONS or await self._repos.organizations.get_role(
            organization_id, role
        ):
            return
        if field == "token":
            raise FailedPrecondition(
                "the invited role no longer exists; ask for a new invitation",
                reason="ROLE_UNKNOWN",
            )
        raise InvalidArgument(
            f"no role {role!r} in this organization",
            reason="ROLE_UNKNOWN",
            violations=[
                FieldViolation(field, "must be owner, admin, member, viewer or a custom role id")
            ],
        )

    async def _check_ceiling(self, principal: Principal, role: str) -> None:
        """The invited role may not exceed the inviter's: a system role at most the inviter's
        own rank (only an owner invites owners), a custom role only by an owner or admin (or
        a holder of that same role)."""
        inviter = await self._repos.organizations.get_member(
            principal.organization_id, principal.subject
        )
        if inviter is None:
            raise PermissionDenied("only a member invites", reason="NOT_A_MEMBER")
        if role == inviter.role:
            return
        if role in RANK:
            if inviter.role in RANK and RANK[role] < RANK[inviter.role]:
                return
        elif inviter.role in ADMINISTRATOR_ROLES:
            return
        raise PermissionDenied(
            "only an owner invites owners" if role == OWNER else "the role exceeds your own",
            reason="OWNER_REQUIRED" if role == OWNER else "ROLE_ABOVE_INVITER",
        )

    async def _already_member(self, organization_id: str, email: str) -> bool:
        user_id = await self._repos.accounts.user_id_by_email(email)
        return user_id is not None and (
            await self._repos.organizations.get_member(organization_id, user_id) is not None
        )

    @property
    def _lifetime(self) -> timedelta:
        return timedelta(days=self._settings.invitation_days)

    async def _record(self, organization_id: str, invitation_id: str) -> InvitationRecord:
        record = await self._invitations.get(organization_id, invitation_id, self._clock.now())
        if record is None:
            raise NotFound(f"invitation {invitation_id} not found", reason="INVITATION_NOT_FOUND")
        return record

    async def _sent(
        self, principal: Principal, invitation: resources_pb2.Invitation, token: str
    ) -> event_pb2.Event:
        organization = await self._repos.organizations.get_organization(invitation.organization_id)
        inviter = await self._repos.accounts.get_user(principal.subject)
        payload = events_pb2.InvitationSent(
            invitation=invitation,
            token=token,
            organization_name=organization.name if organization else "",
            inviter_name=inviter.display_name if inviter else "",
        )
        return self._events(principal).invitation_sent(payload)

    def _events(self, principal: Principal) -> IdentityEvents:
        return IdentityEvents(user_actor(principal.subject, principal.session_id), self._clock)

    async def _audit(
        self,
        principal: Principal,
        action: str,
        invitation: resources_pb2.Invitation,
        details: dict[str, str],
    ) -> None:
        document = audit_document(
            action,
            self._clock.now(),
            actor_user_id=principal.subject,
            subject_id=invitation.id,
            session_id=principal.session_id,
            details=details,
        )
        await self._repos.audit.add_audit(invitation.organization_id, document)


def _check_email(user: resources_pb2.User, invitation: resources_pb2.Invitation) -> None:
    if invitation.email and user.email != invitation.email:
        raise PermissionDenied(
            "this invitation is for another email address", reason="INVITATION_EMAIL_MISMATCH"
        )


def _new_token(invitation: resources_pb2.Invitation) -> str:
    return f"{invitation.organization_id}.{invitation.id}.{secrets.token_urlsafe(32)}"


def _optional_principal() -> Principal | None:
    """The caller, when the public call carried a bearer token (the kit verified it)."""
    try:
        return current_principal()
    except Unauthenticated:
        return None


def _require_open(invitation: resources_pb2.Invitation, verb: str) -> None:
    """Revoke and resend need an invitation that is pending or merely expired."""
    if invitation.state in (PENDING, resources_pb2.INVITATION_STATE_EXPIRED):
        return
    state = resources_pb2.InvitationState.Name(invitation.state).removeprefix("INVITATION_STATE_")
    raise FailedPrecondition(
        f"an invitation that is {state.lower()} cannot be {verb}", reason="INVITATION_CLOSED"
    )


def _require_acceptable(invitation: resources_pb2.Invitation) -> None:
    refusals = {
        resources_pb2.INVITATION_STATE_ACCEPTED: (
            "this invitation has already been used",
            "INVITATION_USED",
        ),
        resources_pb2.INVITATION_STATE_REVOKED: (
            "this invitation was revoked",
            "INVITATION_REVOKED",
        ),
        resources_pb2.INVITATION_STATE_EXPIRED: (
            "this invitation has expired; ask for a new one",
            "INVITATION_EXPIRED",
        ),
    }
    if invitation.state in refusals:
        message, reason = refusals[invitation.state]
        raise FailedPrecondition(message, reason=reason)


def _changed() -> FailedPrecondition:
    return FailedPrecondition(
        "the invitation changed meanwhile; read it again", reason="INVITATION_CHANGED"
    )
