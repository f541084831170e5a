"""The identity domain rules: accounts, sign-in, sessions and tokens, organizations, members,
custom roles and the audit trail.

No transport and no storage details here. Sign-in RPCs are public and authenticate by what they
carry (a password, a refresh token); every other method acts for the verified principal of the
call, inside the organization of its token, so another organization's ids are never found.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from services.identity import events as ev
from services.identity._access import (
    OWNER,
    OWNER_ONLY_PERMISSIONS,
    own_organization,
    require_administrator,
)
from services.identity._keyring import KeyRing
from services.identity._mapping import parse_time, time_text
from services.identity._oidc import OidcVerifier
from services.identity._paging import clamp_page_size, listing_scope, open_token, seal_token
from services.identity._passwords import Passwords
from services.identity._settings import IdentitySettings
from services.identity.events import IdentityEvents, audit_document, user_actor
from services.identity.repository import IdentityRepository, RefreshRecord, SessionRecord
from services.kit import (
    ROLE_PERMISSIONS,
    AlreadyExists,
    Clock,
    DocumentExists,
    EtagMismatch,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Principal,
    Unauthenticated,
    current_principal,
    new_id,
)
from services.kit.cache import Lock, LockManager
from services.kit.store import MAX_BATCH_OPERATIONS

SYSTEM_ROLES = tuple(ROLE_PERMISSIONS)

SELF_SERVICE_PERMISSIONS = (
    "identity.user.read",
    "identity.session.read",
    "identity.organization.read",
)
"""Added to a custom role's `perms`: what every signed-in user may do on their own records."""

USER_WRITABLE = ("display_name", "avatar_url", "timezone", "locale")
ORGANIZATION_WRITABLE = ("name", "settings")
ROLE_WRITABLE = ("name", "description", "permissions")

OWNERS_LOCK_TTL = 10.0

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Device:
    """Where a sign-in comes from, as the edge reports it."""

    label: str = ""
    ip_address: str = ""
    user_agent: str = ""


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What an access token says about its holder in one organization."""

    role: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]


def _bad_credentials() -> Unauthenticated:
    # One message and reason for an unknown email and a wrong password alike.
    return Unauthenticated("the email or password is wrong", reason="INVALID_CREDENTIALS")


def _invalid_refresh() -> Unauthenticated:
    return Unauthenticated("the refresh token is not valid", reason="REFRESH_TOKEN_INVALID")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


class IdentityService:
    """Accounts, sessions, organizations and roles."""

    def __init__(
        self,
        repository: IdentityRepository,
        clock: Clock,
        settings: IdentitySettings,
        passwords: Passwords,
        keys: KeyRing,
        locks: LockManager,
        oidc: OidcVerifier,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self._repository = repository
        self._clock = clock
        self._settings = settings
        self._passwords = passwords
        self._keys = keys
        self._locks = locks
        self._oidc = oidc
        self._issuer = issuer
        self._audience = audience

    @property
    def _refresh_ttl(self) -> int:
        return int(self._settings.refresh_token_days * 86_400)

    # --- sign-in -------------------------------------------------------------------------------

    async def register(
        self,
        email: str,
        password: str,
        display_name: str,
        organization_name: str,
        device: Device,
    ) -> api.AuthResult:
        """Create an account (and, when named, an organization it owns) and sign it in."""
        email = normalize_email(email)
        self._passwords.check_policy(password, email, "password")
        if organization_name and not organization_name.strip():
            raise InvalidArgument(
                "the organization needs a name",
                violations=[FieldViolation("organization_name", "must not be blank")],
            )
        user = await self.create_account(email, password, display_name)
        organization_id = ""
        if organization_name:
            draft = resources_pb2.Organization(name=organization_name)
            organization_id = (await self._create_organization(user, draft)).id
        return await self.start_session(user, organization_id, device)

    async def create_account(
        self, email: str, password: str, display_name: str, *, field: str = "email"
    ) -> resources_pb2.User:
        """A new account with a password (policy checked); `field` names the request field
        that carried the email, for the violation when it is taken."""
        email = normalize_email(email)
        self._passwords.check_policy(password, email, "password")
        now = self._clock.now()
        user = resources_pb2.User(id=new_id(), email=email, display_name=display_name)
        user.create_time.FromDatetime(now)
        user.update_time.FromDatetime(now)
        if not await self._repository.claim_email(email, user.id):
            raise AlreadyExists(
                "an account with this email exists",
                reason="EMAIL_TAKEN",
                violations=[FieldViolation(field, "is already registered")],
            )
        try:
            password_hash = await self._passwords.hash(password)
            event = IdentityEvents(user_actor(user.id), self._clock).user(ev.USER_CREATED, user)
            await self._repository.create_user(user, password_hash, event)
        except BaseException:
            await self._repository.release_email(email)
            raise
        return user

    async def login(
        self, email: str, password: str, organization_id: str, device: Device
    ) -> api.AuthResult:
        """Check a password (with lockout) and start a session in the named organization, or
        the most recently used one."""
        user_id = await self._repository.user_id_by_email(normalize_email(email))
        credential = None if user_id is None else await self._repository.get_credential(user_id)
        if user_id is None or credential is None:
            await self._passwords.burn(password)
            raise _bad_credentials()
        now = self._clock.now()
        if credential.locked_until and parse_time(credential.locked_until) > now:
            remaining = (parse_time(credential.locked_until) - now).total_seconds()
            raise Unauthenticated(
                "the account is locked after too many failed sign-ins; try again later",
                reason="ACCOUNT_LOCKED",
                retry_after=remaining,
            )
        if not await self._passwords.verify(credential.password_hash, password):
            await self._login_failed(user_id, organization_id, device)
            raise _bad_credentials()
        rehash = None
        if self._passwords.needs_rehash(credential.password_hash):
            rehash = await self._passwords.hash(password)
        await self._repository.record_success(credential, rehash)

        user = await self._repository.get_user(user_id)
        if user is None:
            raise _bad_credentials()
        if organization_id:
            if await self._repository.get_member(organization_id, user_id) is None:
                raise PermissionDenied(
                    "you are not a member of that organization", reason="NOT_A_MEMBER"
                )
        else:
            organization_id = await self._default_organization(user_id)
        result = await self.start_session(user, organization_id, device)
        await self._audit(
            organization_id or user_id,
            ev.LOGIN_SUCCEEDED,
            actor_user_id=user_id,
            subject_id=user_id,
            session_id=result.session.id,
            ip_address=device.ip_address,
        )
        return result

    async def login_external(
        self, provider_name: str, id_token: str, nonce: str, organization_id: str, device: Device
    ) -> api.AuthResult:
        """Sign in with a verified OIDC ID token: the linked account, else the account with the
        token's verified email (linked now), else a new account."""
        provider = self._oidc.provider(provider_name)
        claims = await self._oidc.verify(provider, id_token, nonce)
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        user_id = await self._repository.external_user(issuer, subject)
        if user_id is None:
            user_id = await self._link_external(provider_name, claims)
        user = await self._repository.get_user(user_id)
        if user is None:
            raise Unauthenticated("the linked account no longer exists", reason="USER_NOT_FOUND")
        if organization_id:
            if await self._repository.get_member(organization_id, user_id) is None:
                raise PermissionDenied(
                    "you are not a member of that organization", reason="NOT_A_MEMBER"
                )
        else:
            organization_id = await self._default_organization(user_id)
        result = await self.start_session(user, organization_id, device)
        await self._audit(
            organization_id or user_id,
            ev.LOGIN_SUCCEEDED,
            actor_user_id=user_id,
            subject_id=user_id,
            session_id=result.session.id,
            ip_address=device.ip_address,
            details={"provider": provider_name},
        )
        return result

    async def _link_external(self, provider_name: str, claims: dict[str, object]) -> str:
        email = claims.get("email")
        if not isinstance(email, str) or not email or claims.get("email_verified") is not True:
            raise Unauthenticated(
                "the identity provider did not vouch for an email address",
                reason="EMAIL_NOT_VERIFIED",
            )
        email = normalize_email(email)
        user_id = await self._repository.user_id_by_email(email)
        if user_id is None:
            user_id = await self._create_external_user(email, claims)
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        payload = events_pb2.ExternalIdentityLinked(
            user_id=user_id, provider=provider_name, issuer=issuer, subject=subject
        )
        event = IdentityEvents(user_actor(user_id), self._clock).external_linked(payload)
        return await self._repository.link_external(issuer, subject, user_id, event)

    async def _create_external_user(self, email: str, claims: dict[str, object]) -> str:
        now = self._clock.now()
        name = claims.get("name")
        user = resources_pb2.User(
            id=new_id(),
            email=email,
            display_name=name[:200] if isinstance(name, str) and name else email.split("@")[0],
        )
        user.create_time.FromDatetime(now)
        user.update_time.FromDatetime(now)
        if not await self._repository.claim_email(email, user.id):
            # Registered concurrently: sign in to that account.
            existing = await self._repository.user_id_by_email(email)
            assert existing is not None
            return existing
        try:
            event = IdentityEvents(user_actor(user.id), self._clock).user(ev.USER_CREATED, user)
            await self._repository.create_user(user, None, event)
        except BaseException:
            await self._repository.release_email(email)
            raise
        return user.id

    async def _login_failed(self, user_id: str, organization_id: str, device: Device) -> None:
        attempts = await self._repository.record_failure(user_id)
        partition = await self._audit_partition(user_id, organization_id)
        await self._audit(
            partition,
            ev.LOGIN_FAILED,
            subject_id=user_id,
            ip_address=device.ip_address,
            details={"attempts": str(attempts)},
        )
        if attempts >= self._settings.lockout_attempts:
            until = self._clock.now() + timedelta(minutes=self._settings.lockout_minutes)
            await self._repository.lock_account(user_id, time_text(until))
            await self._audit(
                partition,
                ev.ACCOUNT_LOCKED,
                subject_id=user_id,
                ip_address=device.ip_address,
                details={"until": time_text(until)},
            )

    async def refresh(
        self,
        refresh_token: str,
        organization_id: str,
        create_organization_name: str,
        ip_address: str,
    ) -> api.AuthResult:
        """Spend a refresh token for a new access token and its successor. A spent token
        presented again revokes the whole session."""
        user_id, spent, record = await self._open_refresh(refresh_token)
        if record.revoked:
            raise Unauthenticated("the session has been revoked", reason="SESSION_REVOKED")
        if spent.spent:
            await self._refresh_reused(user_id, record, ip_address)
        user = await self._repository.get_user(user_id)
        if user is None:
            raise _invalid_refresh()

        target = record.session.organization_id
        if create_organization_name:
            draft = resources_pb2.Organization(name=create_organization_name)
            target = (await self._create_organization(user, draft)).id
        elif organization_id:
            if await self._repository.get_member(organization_id, user_id) is None:
                raise PermissionDenied(
                    "you are not a member of that organization", reason="NOT_A_MEMBER"
                )
            target = organization_id
        elif not target or await self._repository.get_member(target, user_id) is None:
            target = await self._default_organization(user_id)

        now = self._clock.now()
        new_token = self._new_refresh_token(user_id)
        session = resources_pb2.Session()
        session.CopyFrom(record.session)
        session.organization_id = target
        session.last_seen_time.FromDatetime(now)
        event = IdentityEvents(user_actor(user_id, session.id), self._clock).session(
            ev.SESSION_REFRESHED, user_id, session
        )
        try:
            await self._repository.rotate_refresh(
                user_id,
                spent,
                record,
                _hash_token(new_token),
                target,
                now,
                self._refresh_ttl,
                event,
            )
        except EtagMismatch:
            # The same token was spent concurrently: one of the two callers replayed it.
            await self._refresh_reused(user_id, record, ip_address)
        return await self._auth_result(user, session, new_token)

    async def refresh_token_user(self, refresh_token: str) -> resources_pb2.User:
        """The user of a live refresh token, spending nothing; Unauthenticated otherwise."""
        user_id, spent, record = await self._open_refresh(refresh_token)
        user = await self._repository.get_user(user_id)
        if record.revoked or spent.spent or user is None:
            raise _invalid_refresh()
        return user

    async def logout(self, refresh_token: str) -> None:
        """End the session of a refresh token (a no-op when it already ended)."""
        user_id, _, record = await self._open_refresh(refresh_token)
        if not record.revoked:
            await self._revoke(user_id, [record], "logout", user_id)

    async def jwks_json(self) -> str:
        return json.dumps(await self._keys.jwks(), separators=(",", ":"))

    async def _open_refresh(self, token: str) -> tuple[str, RefreshRecord, SessionRecord]:
        user_id, dot, secret = token.partition(".")
        if not dot or not user_id or not secret:
            raise _invalid_refresh()
        spent = await self._repository.get_refresh(user_id, _hash_token(token))
        if spent is None:
            raise _invalid_refresh()
        record = await self._repository.get_session(user_id, spent.session_id)
        if record is None:
            raise _invalid_refresh()
        return user_id, spent, record

    async def _refresh_reused(
        self, user_id: str, record: SessionRecord, ip_address: str
    ) -> NoReturn:
        if not record.revoked:
            await self._revoke(user_id, [record], "refresh_token_reused", user_id)
        await self._audit(
            record.session.organization_id or user_id,
            ev.REFRESH_REUSED,
            subject_id=user_id,
            session_id=record.session.id,
            ip_address=ip_address,
        )
        raise Unauthenticated(
            "this refresh token was already used; the session has been revoked",
            reason="REFRESH_TOKEN_REUSED",
        )

    def _new_refresh_token(self, user_id: str) -> str:
        # The user id routes the lookup to the user's partition; the secret is 256 random bits.
        return f"{user_id}.{secrets.token_urlsafe(32)}"

    async def start_session(
        self, user: resources_pb2.User, organization_id: str, device: Device
    ) -> api.AuthResult:
        """A new session of the user scoped to the organization (evicting the oldest beyond
        the cap), with its tokens."""
        now = self._clock.now()
        session = resources_pb2.Session(
            id=new_id(),
            device_label=device.label,
            ip_address=device.ip_address,
            user_agent=device.user_agent,
            organization_id=organization_id,
        )
        session.create_time.FromDatetime(now)
        session.last_seen_time.FromDatetime(now)
        active = await self._repository.active_sessions(user.id)
        evicted = active[: max(0, len(active) - self._settings.max_sessions + 1)]
        events = IdentityEvents(user_actor(user.id, session.id), self._clock)
        started = [events.session(ev.SESSION_STARTED, user.id, session)]
        revoked = [
            events.session(ev.SESSION_REVOKED, user.id, r.session, "evicted") for r in evicted
        ]
        token = self._new_refresh_token(user.id)
        await self._repository.start_session(
            user.id, session, _hash_token(token), self._refresh_ttl, evicted, started + revoked
        )
        for record in evicted:
            await self._audit(
                record.session.organization_id or user.id,
                ev.SESSION_REVOKED_AUDIT,
                actor_user_id=user.id,
                subject_id=user.id,
                session_id=record.session.id,
                details={"reason": "evicted"},
            )
        return await self._auth_result(user, session, token)

    async def _auth_result(
        self, user: resources_pb2.User, session: resources_pb2.Session, refresh_token: str
    ) -> api.AuthResult:
        result = api.AuthResult(
            user=user,
            organization_id=session.organization_id,
            refresh_token=refresh_token,
            session=session,
        )
        if not session.organization_id:
            return result
        grant = await self._grant(session.organization_id, user.id)
        if grant is None:
            result.organization_id = ""
            return result
        now = self._clock.now()
        expires = now + timedelta(seconds=self._settings.access_token_seconds)
        key = await self._keys.active()
        result.access_token = key.mint(
            subject=user.id,
            organization_id=session.organization_id,
            issuer=self._issuer,
            audience=self._audience,
            roles=grant.roles,
            permissions=grant.permissions,
            session_id=session.id,
            lifetime_seconds=self._settings.access_token_seconds,
            # Token times follow the service clock, which also decides when keys retire.
            extra={
                "iat": int(now.timestamp()),
                "nbf": int(now.timestamp()),
                "exp": int(expires.timestamp()),
            },
        )
        result.access_token_expire_time.FromSeconds(int(expires.timestamp()))
        result.role = grant.role
        await self._repository.touch_membership(user.id, session.organization_id, now)
        return result

    async def _grant(self, organization_id: str, user_id: str) -> AccessGrant | None:
        member = await self._repository.get_member(organization_id, user_id)
        if member is None:
            return None
        if member.role in SYSTEM_ROLES:
            return AccessGrant(member.role, (member.role,), ())
        role = await self._repository.get_role(organization_id, member.role)
        patterns = tuple(role.permissions) if role is not None else ()
        return AccessGrant(member.role, (), (*patterns, *SELF_SERVICE_PERMISSIONS))

    async def _default_organization(self, user_id: str) -> str:
        """The most recently used organization the user still belongs to, or ''."""
        for organization_id, _ in await self._repository.user_memberships(user_id):
            if await self._repository.get_member(organization_id, user_id) is not None:
                return organization_id
        return ""

    # --- the current user ----------------------------------------------------------------------

    async def current_user(self) -> resources_pb2.User:
        user = await self._repository.get_user(current_principal().subject)
        if user is None:
            raise NotFound("your account no longer exists", reason="USER_NOT_FOUND")
        return user

    async def update_current_user(
        self, changes: resources_pb2.User, mask: FieldMask
    ) -> resources_pb2.User:
        paths = _mask_paths(mask, "user", USER_WRITABLE)
        current = await self.current_user()
        updated = resources_pb2.User()
        updated.CopyFrom(current)
        FieldMask(paths=paths).MergeMessage(changes, updated)
        changed = [p for p in paths if getattr(current, p) != getattr(updated, p)]
        if not changed:
            return current
        updated.update_time.FromDatetime(self._clock.now())
        event = self._events(current_principal()).user(ev.USER_UPDATED, updated, changed)
        await self._repository.replace_user(updated, event)
        return updated

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Replace the password (policy and history checked) and end the other sessions."""
        principal = current_principal()
        user = await self.current_user()
        credential = await self._repository.get_credential(user.id)
        if credential is None or not await self._passwords.verify(
            credential.password_hash, current_password
        ):
            raise InvalidArgument(
                "the current password is wrong",
                reason="PASSWORD_WRONG",
                violations=[FieldViolation("current_password", "is wrong")],
            )
        self._passwords.check_policy(new_password, user.email, "new_password")
        keep = max(self._settings.password_history - 1, 0)
        recent = [credential.password_hash, *credential.history[:keep]]
        if await self._passwords.reused(new_password, recent[: self._settings.password_history]):
            raise InvalidArgument(
                "the password was used recently",
                reason="PASSWORD_REUSED",
                violations=[
                    FieldViolation(
                        "new_password",
                        f"must differ from your last {self._settings.password_history}",
                        "PASSWORD_REUSED",
                    )
                ],
            )
        new_hash = await self._passwords.hash(new_password)
        event = self._events(principal).user(ev.USER_PASSWORD_CHANGED, user)
        await self._repository.change_password(credential, new_hash, recent[:keep], event)
        others = [
            r
            for r in await self._repository.active_sessions(user.id)
            if r.session.id != principal.session_id
        ]
        await self._revoke(user.id, others, "password_changed", user.id)
        await self._audit(
            principal.organization_id,
            ev.PASSWORD_CHANGED,
            actor_user_id=user.id,
            subject_id=user.id,
            session_id=principal.session_id,
        )

    # --- sessions ------------------------------------------------------------------------------

    async def list_sessions(self) -> list[resources_pb2.Session]:
        principal = current_principal()
        records = await self._repository.active_sessions(principal.subject)
        sessions = []
        for record in reversed(records):
            record.session.current = record.session.id == principal.session_id
            sessions.append(record.session)
        return sessions

    async def revoke_session(self, session_id: str) -> None:
        principal = current_principal()
        record = await self._repository.get_session(principal.subject, session_id)
        if record is None or record.revoked:
            raise NotFound(f"session {session_id} not found", reason="SESSION_NOT_FOUND")
        await self._revoke(principal.subject, [record], "revoked", principal.subject)

    async def revoke_other_sessions(self) -> int:
        principal = current_principal()
        others = [
            r
            for r in await self._repository.active_sessions(principal.subject)
            if r.session.id != principal.session_id
        ]
        await self._revoke(principal.subject, others, "revoked", principal.subject)
        return len(others)

    async def _revoke(
        self, user_id: str, records: Sequence[SessionRecord], reason: str, actor_id: str
    ) -> None:
        if not records:
            return
        events = IdentityEvents(user_actor(actor_id), self._clock)
        # Each revocation is a patch plus its event; a batch holds MAX_BATCH_OPERATIONS.
        step = MAX_BATCH_OPERATIONS // 2
        for start in range(0, len(records), step):
            chunk = records[start : start + step]
            revoked = [
                events.session(ev.SESSION_REVOKED, user_id, r.session, reason) for r in chunk
            ]
            await self._repository.revoke_sessions(user_id, chunk, reason, revoked)
        for record in records:
            await self._audit(
                record.session.organization_id or user_id,
                ev.SESSION_REVOKED_AUDIT,
                actor_user_id=actor_id,
                subject_id=user_id,
                session_id=record.session.id,
                details={"reason": reason},
            )

    # --- organizations -------------------------------------------------------------------------

    async def create_organization(
        self, draft: resources_pb2.Organization
    ) -> resources_pb2.Organization:
        """A new organization with the caller as its owner."""
        user = await self.current_user()
        return await self._create_organization(user, draft)

    async def _create_organization(
        self, owner: resources_pb2.User, draft: resources_pb2.Organization
    ) -> resources_pb2.Organization:
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
            await self._repository.create_organization(
                organization, events.organization(ev.ORGANIZATION_CREATED, organization)
            )
        except BaseException:
            # The slug was reserved in another partition first; give it back.
            await self._repository.release_slug(organization.slug)
            raise
        member = resources_pb2.Member(
            organization_id=organization.id,
            user_id=owner.id,
            email=owner.email,
            display_name=owner.display_name,
            role=OWNER,
        )
        member.join_time.FromDatetime(now)
        await self._repository.add_member(member, events.member(ev.MEMBER_ADDED, member))
        return organization

    async def _claim_slug(self, organization_id: str, wanted: str, name: str) -> str:
        if wanted:
            if await self._repository.claim_slug(wanted, organization_id):
                return wanted
            raise AlreadyExists(
                f"the slug {wanted!r} is taken",
                reason="SLUG_TAKEN",
                violations=[FieldViolation("organization.slug", "is taken")],
            )
        base = _SLUG_JUNK.sub("-", name.lower()).strip("-")[:50].strip("-") or "org"
        candidates = [base] + [f"{base}-{secrets.token_hex(3)}" for _ in range(5)]
        for candidate in candidates:
            if await self._repository.claim_slug(candidate, organization_id):
                return candidate
        raise AlreadyExists("no free slug for that name; choose one", reason="SLUG_TAKEN")

    async def get_organization(self, organization_id: str) -> resources_pb2.Organization:
        own_organization(organization_id)
        return await self._organization(organization_id)

    async def update_organization(
        self, changes: resources_pb2.Organization, mask: FieldMask
    ) -> resources_pb2.Organization:
        paths = _mask_paths(mask, "organization", ORGANIZATION_WRITABLE)
        principal = own_organization(changes.id)
        current = await self._organization(changes.id)
        updated = resources_pb2.Organization()
        updated.CopyFrom(current)
        FieldMask(paths=paths).MergeMessage(changes, updated, replace_message_field=True)
        if "settings" in paths:
            updated.settings.clear()
            updated.settings.update(changes.settings)
        changed = [p for p in paths if getattr(current, p) != getattr(updated, p)]
        if not changed:
            return current
        if "name" in changed and not updated.name.strip():
            raise InvalidArgument(
                "the organization needs a name",
                violations=[FieldViolation("organization.name", "must not be blank")],
            )
        updated.update_time.FromDatetime(self._clock.now())
        event = self._events(principal).organization(ev.ORGANIZATION_UPDATED, updated, changed)
        await self._repository.replace_organization(updated, event)
        return updated

    async def list_organizations(self) -> list[resources_pb2.Membership]:
        user_id = current_principal().subject
        memberships = []
        for organization_id, last_used in await self._repository.user_memberships(user_id):
            member = await self._repository.get_member(organization_id, user_id)
            organization = await self._repository.get_organization(organization_id)
            if member is None or organization is None:
                continue
            membership = resources_pb2.Membership(organization=organization, role=member.role)
            membership.last_used_time.FromDatetime(parse_time(last_used))
            memberships.append(membership)
        return memberships

    async def _organization(self, organization_id: str) -> resources_pb2.Organization:
        organization = await self._repository.get_organization(organization_id)
        if organization is None:
            raise NotFound(
                f"organization {organization_id} not found", reason="ORGANIZATION_NOT_FOUND"
            )
        return organization

    # --- members -------------------------------------------------------------------------------

    async def list_members(
        self, organization_id: str, page_size: int, page_token: str
    ) -> tuple[list[resources_pb2.Member], str]:
        principal = own_organization(organization_id)
        require_administrator(principal, "identity.member.read")
        scope = listing_scope(organization_id, b"members")
        members, continuation = await self._repository.list_members(
            organization_id, clamp_page_size(page_size), open_token(scope, page_token)
        )
        return members, seal_token(scope, continuation)

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
            await self._repository.set_member_role(member, event)
        await self._audit(
            organization_id,
            ev.MEMBER_ROLE_CHANGED_AUDIT,
            actor_user_id=principal.subject,
            subject_id=user_id,
            session_id=principal.session_id,
            details={"from_role": previous, "to_role": role},
        )
        return member

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
            await self._repository.remove_member(member, event)
        sessions = [
            r
            for r in await self._repository.active_sessions(user_id)
            if r.session.organization_id == organization_id
        ]
        await self._revoke(user_id, sessions, "member_removed", principal.subject)
        await self._audit(
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
        if await self._repository.count_role(organization_id, OWNER) <= 1:
            raise FailedPrecondition(
                "an organization keeps at least one owner; make someone else owner first",
                reason="LAST_OWNER",
            )

    async def _member(self, organization_id: str, user_id: str) -> resources_pb2.Member:
        member = await self._repository.get_member(organization_id, user_id)
        if member is None:
            raise NotFound(f"member {user_id} not found", reason="MEMBER_NOT_FOUND")
        return member

    async def _check_role_exists(self, organization_id: str, role: str) -> None:
        if role in SYSTEM_ROLES or await self._repository.get_role(organization_id, role):
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
            await self._repository.create_role(
                role, self._events(principal).role(ev.ROLE_CREATED, role)
            )
        except DocumentExists as error:
            raise _role_name_taken() from error
        return role

    async def list_roles(self, organization_id: str) -> list[resources_pb2.Role]:
        principal = own_organization(organization_id)
        require_administrator(principal, "identity.role.read")
        return await self._repository.list_roles(organization_id)

    async def update_role(self, changes: resources_pb2.Role, mask: FieldMask) -> resources_pb2.Role:
        paths = _mask_paths(mask, "role", ROLE_WRITABLE)
        principal = own_organization(changes.organization_id)
        current = await self._role(changes.organization_id, changes.id)
        if changes.etag and changes.etag != current.etag:
            raise EtagMismatch("the role changed since it was read; read it again")
        if "permissions" in paths:
            _check_permissions(changes.permissions, "role.permissions")
        updated = resources_pb2.Role()
        updated.CopyFrom(current)
        FieldMask(paths=paths).MergeMessage(changes, updated, replace_repeated_field=True)
        if "permissions" in paths:
            del updated.permissions[:]
            updated.permissions.extend(sorted(set(changes.permissions)))
        updated.ClearField("etag")
        updated.update_time.FromDatetime(self._clock.now())
        event = self._events(principal).role(ev.ROLE_UPDATED, updated)
        try:
            return await self._repository.replace_role(updated, current.name, current.etag, event)
        except DocumentExists as error:
            raise _role_name_taken() from error

    async def delete_role(self, organization_id: str, role_id: str) -> None:
        principal = own_organization(organization_id)
        role = await self._role(organization_id, role_id)
        if await self._repository.count_role(organization_id, role_id):
            raise FailedPrecondition(
                "members still hold this role; give them another first", reason="ROLE_IN_USE"
            )
        await self._repository.delete_role(
            role, self._events(principal).role(ev.ROLE_DELETED, role)
        )

    async def _role(self, organization_id: str, role_id: str) -> resources_pb2.Role:
        role = await self._repository.get_role(organization_id, role_id)
        if role is None:
            raise NotFound(f"role {role_id} not found", reason="ROLE_NOT_FOUND")
        return role

    # --- audit ---------------------------------------------------------------------------------

    async def list_audit_events(
        self, organization_id: str, page_size: int, page_token: str
    ) -> tuple[list[resources_pb2.AuditEvent], str]:
        principal = own_organization(organization_id)
        require_administrator(principal, "identity.audit.read")
        scope = listing_scope(organization_id, b"audit")
        found, continuation = await self._repository.list_audit(
            organization_id, clamp_page_size(page_size), open_token(scope, page_token)
        )
        return found, seal_token(scope, continuation)

    async def _audit(self, partition: str, action: str, **fields: str | dict[str, str]) -> None:
        document = audit_document(action, self._clock.now(), **fields)  # type: ignore[arg-type]
        await self._repository.add_audit(partition, document)

    async def _audit_partition(self, user_id: str, organization_id: str) -> str:
        """Where a user's security event goes: the named organization when the user belongs to
        it, else the most recently used one, else the user's own partition."""
        if organization_id and await self._repository.get_member(organization_id, user_id):
            return organization_id
        return await self._default_organization(user_id) or user_id

    def _events(self, principal: Principal) -> IdentityEvents:
        return IdentityEvents(user_actor(principal.subject, principal.session_id), self._clock)


# --- rules -------------------------------------------------------------------------------------


def _check_permissions(patterns: Iterable[str], field: str) -> None:
    violations = [
        FieldViolation(f"{field}[{index}]", "owner-only permissions cannot be granted by a role")
        for index, pattern in enumerate(patterns)
        if pattern in OWNER_ONLY_PERMISSIONS
    ]
    if violations:
        raise InvalidArgument("a permission cannot be granted", violations=violations)


def _role_name_taken() -> AlreadyExists:
    return AlreadyExists(
        "a role with this name exists",
        reason="ROLE_NAME_TAKEN",
        violations=[FieldViolation("role.name", "is taken in this organization")],
    )


def _mask_paths(mask: FieldMask, resource: str, writable: Sequence[str]) -> list[str]:
    if not mask.paths:
        return list(writable)
    unknown = [p for p in mask.paths if p not in writable]
    if unknown:
        raise InvalidArgument(
            "the update mask names fields that cannot be changed",
            violations=[
                FieldViolation("update_mask", f"{resource}.{p} is not writable") for p in unknown
            ],
        )
    return list(dict.fromkeys(mask.paths))
