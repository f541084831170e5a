"""Sessions and their tokens: starting a session, spending and rotating refresh tokens,
minting access tokens, logout, and listing and revoking the caller's sessions.

A refresh token is `<user id>.<256 random bits>`; only its SHA-256 is stored. Presenting a
spent token again revokes the whole session.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from services.identity import events as ev
from services.identity._access import SYSTEM_ROLES
from services.identity._settings import IdentitySettings
from services.identity.events import IdentityEvents, user_actor
from services.identity.repository import IdentityRepositories, RefreshRecord, SessionRecord
from services.identity.repository.sessions import REVOCATIONS_PER_BATCH
from services.identity.service.audit import AuditTrail
from services.identity.service.keys import KeyRing
from services.kit import (
    Clock,
    EtagMismatch,
    NotFound,
    Revocations,
    Unauthenticated,
    current_principal,
    new_id,
)


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


@dataclass(frozen=True, slots=True)
class Redemption:
    """A live refresh token presented for rotation: its user, the token's record and its
    session."""

    user: resources_pb2.User
    spent: RefreshRecord
    record: SessionRecord


def invalid_refresh() -> Unauthenticated:
    return Unauthenticated("the refresh token is not valid", reason="REFRESH_TOKEN_INVALID")


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionService:
    """A user's sessions, refresh tokens and access tokens."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        clock: Clock,
        settings: IdentitySettings,
        keys: KeyRing,
        audit: AuditTrail,
        revocations: Revocations,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self._repos = repositories
        self._clock = clock
        self._settings = settings
        self._keys = keys
        self._audit = audit
        self._revocations = revocations
        self._issuer = issuer
        self._audience = audience

    @property
    def _refresh_ttl(self) -> int:
        return int(self._settings.refresh_token_days * 86_400)

    # --- starting and refreshing ---------------------------------------------------------------

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
        active = await self._repos.sessions.active_sessions(user.id)
        evicted = active[: max(0, len(active) - self._settings.max_sessions + 1)]
        events = IdentityEvents(user_actor(user.id, session.id), self._clock)
        started = [events.session(ev.SESSION_STARTED, user.id, session)]
        revoked = [
            events.session(ev.SESSION_REVOKED, user.id, r.session, "evicted") for r in evicted
        ]
        token = self._new_refresh_token(user.id)
        await self._repos.sessions.start_session(
            user.id, session, _hash_token(token), self._refresh_ttl, evicted, started + revoked
        )
        await self._revocations.record(revoked)
        for record in evicted:
            await self._audit.record(
                record.session.organization_id or user.id,
                ev.SESSION_REVOKED_AUDIT,
                actor_user_id=user.id,
                subject_id=user.id,
                session_id=record.session.id,
                details={"reason": "evicted"},
            )
        return await self._auth_result(user, session, token)

    async def redeem(self, refresh_token: str, ip_address: str) -> Redemption:
        """Check a refresh token before it is spent: a revoked session or a spent token
        (which revokes its session) is refused."""
        user_id, spent, record = await self._open_refresh(refresh_token)
        if record.revoked:
            raise Unauthenticated("the session has been revoked", reason="SESSION_REVOKED")
        if spent.spent:
            await self._refresh_reused(user_id, record, ip_address)
        user = await self._repos.accounts.get_user(user_id)
        if user is None:
            raise invalid_refresh()
        return Redemption(user, spent, record)

    async def rotate(
        self, redemption: Redemption, organization_id: str, ip_address: str
    ) -> api.AuthResult:
        """Spend a redeemed refresh token for its successor, the session now scoped to
        `organization_id`, with a new access token. A concurrent spend of the same token
        revokes the session."""
        user, spent, record = redemption.user, redemption.spent, redemption.record
        now = self._clock.now()
        new_token = self._new_refresh_token(user.id)
        session = resources_pb2.Session()
        session.CopyFrom(record.session)
        session.organization_id = organization_id
        session.last_seen_time.FromDatetime(now)
        event = IdentityEvents(user_actor(user.id, session.id), self._clock).session(
            ev.SESSION_REFRESHED, user.id, session
        )
        try:
            await self._repos.sessions.rotate_refresh(
                user.id,
                spent,
                record,
                _hash_token(new_token),
                organization_id,
                now,
                self._refresh_ttl,
                event,
            )
        except EtagMismatch:
            # The same token was spent concurrently: one of the two callers replayed it.
            await self._refresh_reused(user.id, record, ip_address)
        return await self._auth_result(user, session, new_token)

    async def refresh_token_user(self, refresh_token: str) -> resources_pb2.User:
        """The user of a live refresh token, spending nothing; Unauthenticated otherwise."""
        user_id, spent, record = await self._open_refresh(refresh_token)
        user = await self._repos.accounts.get_user(user_id)
        if record.revoked or spent.spent or user is None:
            raise invalid_refresh()
        return user

    async def logout(self, refresh_token: str) -> None:
        """End the session of a refresh token (a no-op when it already ended)."""
        user_id, _, record = await self._open_refresh(refresh_token)
        if not record.revoked:
            await self.revoke(user_id, [record], "logout", user_id)

    async def jwks_json(self) -> str:
        return json.dumps(await self._keys.jwks(), separators=(",", ":"))

    async def default_organization(self, user_id: str) -> str:
        """The most recently used organization the user still belongs to, or ''."""
        for organization_id, _ in await self._repos.organizations.user_memberships(user_id):
            if await self._repos.organizations.get_member(organization_id, user_id) is not None:
                return organization_id
        return ""

    async def _open_refresh(self, token: str) -> tuple[str, RefreshRecord, SessionRecord]:
        user_id, dot, secret = token.partition(".")
        if not dot or not user_id or not secret:
            raise invalid_refresh()
        spent = await self._repos.sessions.get_refresh(user_id, _hash_token(token))
        if spent is None:
            raise invalid_refresh()
        record = await self._repos.sessions.get_session(user_id, spent.session_id)
        if record is None:
            raise invalid_refresh()
        return user_id, spent, record

    async def _refresh_reused(
        self, user_id: str, record: SessionRecord, ip_address: str
    ) -> NoReturn:
        if not record.revoked:
            await self.revoke(user_id, [record], "refresh_token_reused", user_id)
        await self._audit.record(
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
        # Dated before the grant is read: a role change or removal decided after that read
        # revokes the token (a revocation refuses the subject's tokens issued before it).
        now = self._clock.now()
        grant = await self.grant(session.organization_id, user.id)
        if grant is None:
            result.organization_id = ""
            return result
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
            now=now.timestamp(),
        )
        result.access_token_expire_time.FromSeconds(int(expires.timestamp()))
        result.role = grant.role
        await self._repos.organizations.touch_membership(user.id, session.organization_id, now)
        return result

    async def grant(self, organization_id: str, user_id: str) -> AccessGrant | None:
        """What the user's current membership grants in the organization (None when not a
        member): what access tokens, and delegated tokens, say about them."""
        member = await self._repos.organizations.get_member(organization_id, user_id)
        if member is None:
            return None
        if member.role in SYSTEM_ROLES:
            return AccessGrant(member.role, (member.role,), ())
        role = await self._repos.organizations.get_role(organization_id, member.role)
        patterns = tuple(role.permissions) if role is not None else ()
        return AccessGrant(member.role, (), patterns)

    # --- the caller's sessions -----------------------------------------------------------------

    async def list_sessions(self) -> list[resources_pb2.Session]:
        principal = current_principal()
        records = await self._repos.sessions.active_sessions(principal.subject)
        sessions = []
        for record in reversed(records):
            record.session.current = record.session.id == principal.session_id
            sessions.append(record.session)
        return sessions

    async def revoke_session(self, session_id: str) -> None:
        principal = current_principal()
        record = await self._repos.sessions.get_session(principal.subject, session_id)
        if record is None or record.revoked:
            raise NotFound(f"session {session_id} not found", reason="SESSION_NOT_FOUND")
        await self.revoke(principal.subject, [record], "revoked", principal.subject)

    async def revoke_other_sessions(self) -> int:
        principal = current_principal()
        others = [
            r
            for r in await self._repos.sessions.active_sessions(principal.subject)
            if r.session.id != principal.session_id
        ]
        await self.revoke(principal.subject, others, "revoked", principal.subject)
        return len(others)

    async def revoke(
        self, user_id: str, records: Sequence[SessionRecord], reason: str, actor_id: str
    ) -> None:
        """End the user's sessions `records`, each with its event and audit record."""
        if not records:
            return
        events = IdentityEvents(user_actor(actor_id), self._clock)
        step = REVOCATIONS_PER_BATCH
        for start in range(0, len(records), step):
            chunk = records[start : start + step]
            revoked = [
                events.session(ev.SESSION_REVOKED, user_id, r.session, reason) for r in chunk
            ]
            await self._repos.sessions.revoke_sessions(user_id, chunk, reason, revoked)
            await self._revocations.record(revoked)
        for record in records:
            await self._audit.record(
                record.session.organization_id or user_id,
                ev.SESSION_REVOKED_AUDIT,
                actor_user_id=actor_id,
                subject_id=user_id,
                session_id=record.session.id,
                details={"reason": reason},
            )
