"""Accounts and sign-in: registration, password and external (OIDC) login with lockout,
refreshing into an organization, and the caller's own account and password.

Sign-in RPCs are public and authenticate by what they carry (a password, an ID token, a
refresh token); the others act for the verified principal of the call.
"""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from services.identity import events as ev
from services.identity._access import signed_in_user
from services.identity._mapping import parse_time, time_text
from services.identity._oidc import OidcVerifier
from services.identity._passwords import Passwords
from services.identity._settings import IdentitySettings
from services.identity.events import IdentityEvents, user_actor
from services.identity.repository import Credential, IdentityRepositories
from services.identity.service.audit import AuditTrail
from services.identity.service.organizations import OrganizationService
from services.identity.service.sessions import Device, Redemption, SessionService
from services.kit import (
    Aborted,
    AlreadyExists,
    Clock,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Principal,
    Unauthenticated,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    update_paths,
)

USER_WRITABLE = ("display_name", "avatar_url", "timezone", "locale")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _bad_credentials() -> Unauthenticated:
    # One message and reason for an unknown email and a wrong password alike.
    return Unauthenticated("the email or password is wrong", reason="INVALID_CREDENTIALS")


def _locked(retry_after: float) -> Unauthenticated:
    return Unauthenticated(
        "the account is locked after too many failed sign-ins; try again later",
        reason="ACCOUNT_LOCKED",
        retry_after=retry_after,
    )


class AccountService:
    """Accounts, their credentials and signing in."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        clock: Clock,
        settings: IdentitySettings,
        passwords: Passwords,
        oidc: OidcVerifier,
        sessions: SessionService,
        organizations: OrganizationService,
        audit: AuditTrail,
    ) -> None:
        self._repos = repositories
        self._clock = clock
        self._settings = settings
        self._passwords = passwords
        self._oidc = oidc
        self._sessions = sessions
        self._organizations = organizations
        self._audit = audit

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
            organization_id = (await self._organizations.found(user, draft)).id
        return await self._sessions.start_session(user, organization_id, device)

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
        if not await self._repos.accounts.claim_email(email, user.id):
            raise AlreadyExists(
                "an account with this email exists",
                reason="EMAIL_TAKEN",
                violations=[FieldViolation(field, "is already registered")],
            )
        try:
            password_hash = await self._passwords.hash(password)
            event = IdentityEvents(user_actor(user.id), self._clock).user(ev.USER_CREATED, user)
            await self._repos.accounts.create_user(user, password_hash, event)
        except BaseException:
            await self._repos.accounts.release_email(email)
            raise
        return user

    async def login(
        self, email: str, password: str, organization_id: str, device: Device
    ) -> api.AuthResult:
        """Check a password (with lockout) and start a session in the named organization, or
        the most recently used one."""
        user_id = await self._repos.accounts.user_id_by_email(normalize_email(email))
        credential = None if user_id is None else await self._repos.accounts.get_credential(user_id)
        if user_id is None or credential is None:
            await self._passwords.burn(password)
            raise _bad_credentials()
        credential, attempt = await self._admit(credential)
        if not await self._passwords.verify(credential.password_hash, password):
            await self._login_failed(user_id, attempt, organization_id, device)
            raise _bad_credentials()
        rehash = None
        if self._passwords.needs_rehash(credential.password_hash):
            rehash = await self._passwords.hash(password)
        await self._repos.accounts.record_success(user_id, rehash)

        user = await self._repos.accounts.get_user(user_id)
        if user is None:
            raise _bad_credentials()
        organization_id = await self._sign_in_organization(user_id, organization_id)
        result = await self._sessions.start_session(user, organization_id, device)
        await self._audit.record(
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
        user_id = await self._repos.accounts.external_user(issuer, subject)
        if user_id is None:
            user_id = await self._link_external(provider_name, claims)
        user = await self._repos.accounts.get_user(user_id)
        if user is None:
            raise Unauthenticated("the linked account no longer exists", reason="USER_NOT_FOUND")
        organization_id = await self._sign_in_organization(user_id, organization_id)
        result = await self._sessions.start_session(user, organization_id, device)
        await self._audit.record(
            organization_id or user_id,
            ev.LOGIN_SUCCEEDED,
            actor_user_id=user_id,
            subject_id=user_id,
            session_id=result.session.id,
            ip_address=device.ip_address,
            details={"provider": provider_name},
        )
        return result

    async def refresh(
        self,
        refresh_token: str,
        organization_id: str,
        create_organization_name: str,
        ip_address: str,
    ) -> api.AuthResult:
        """Spend a refresh token for a new access token and its successor, in a new
        organization, the named one, or the session's (else the most recently used one). A
        spent token presented again revokes the whole session."""
        redemption = await self._sessions.redeem(refresh_token, ip_address)
        target = await self._refresh_organization(
            redemption, organization_id, create_organization_name
        )
        return await self._sessions.rotate(redemption, target, ip_address)

    async def _refresh_organization(
        self, redemption: Redemption, organization_id: str, create_organization_name: str
    ) -> str:
        user = redemption.user
        target = redemption.record.session.organization_id
        if create_organization_name:
            draft = resources_pb2.Organization(name=create_organization_name)
            return (await self._organizations.found(user, draft)).id
        if organization_id:
            await self._require_member(organization_id, user.id)
            return organization_id
        if not target or await self._repos.organizations.get_member(target, user.id) is None:
            return await self._sessions.default_organization(user.id)
        return target

    async def _sign_in_organization(self, user_id: str, organization_id: str) -> str:
        """The organization a sign-in is scoped to: the named one, which the user must belong
        to, else the most recently used one (or '')."""
        if organization_id:
            await self._require_member(organization_id, user_id)
            return organization_id
        return await self._sessions.default_organization(user_id)

    async def _require_member(self, organization_id: str, user_id: str) -> None:
        if await self._repos.organizations.get_member(organization_id, user_id) is None:
            raise PermissionDenied(
                "you are not a member of that organization", reason="NOT_A_MEMBER"
            )

    async def _link_external(self, provider_name: str, claims: dict[str, object]) -> str:
        email = claims.get("email")
        if not isinstance(email, str) or not email or claims.get("email_verified") is not True:
            raise Unauthenticated(
                "the identity provider did not vouch for an email address",
                reason="EMAIL_NOT_VERIFIED",
            )
        email = normalize_email(email)
        user_id = await self._repos.accounts.user_id_by_email(email)
        if user_id is None:
            user_id = await self._create_external_user(email, claims)
        issuer, subject = str(claims["iss"]), str(claims["sub"])
        payload = events_pb2.ExternalIdentityLinked(
            user_id=user_id, provider=provider_name, issuer=issuer, subject=subject
        )
        event = IdentityEvents(user_actor(user_id), self._clock).external_linked(payload)
        return await self._repos.accounts.link_external(issuer, subject, user_id, event)

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
        if not await self._repos.accounts.claim_email(email, user.id):
            # Registered concurrently: sign in to that account.
            existing = await self._repos.accounts.user_id_by_email(email)
            assert existing is not None
            return existing
        try:
            event = IdentityEvents(user_actor(user.id), self._clock).user(ev.USER_CREATED, user)
            await self._repos.accounts.create_user(user, None, event)
        except BaseException:
            await self._repos.accounts.release_email(email)
            raise
        return user.id

    async def _admit(self, credential: Credential) -> tuple[Credential, int]:
        """Count a sign-in attempt before its password is hashed, or refuse it as locked.

        The count includes the attempts still being checked, and it is taken by one
        compare-and-set on the credential, so however many attempts race on however many
        replicas, at most `lockout_attempts` passwords are checked before the account locks:
        the rest are refused without hashing. An expired lock starts a new count."""
        limit = self._settings.lockout_attempts
        for _ in range(2 * limit + 2):
            now = self._clock.now()
            locked_until = parse_time(credential.locked_until) if credential.locked_until else None
            if locked_until is not None and locked_until > now:
                raise _locked((locked_until - now).total_seconds())
            used = 0 if locked_until is not None else credential.failed_attempts
            if used >= limit:
                # Every attempt allowed is taken, by sign-ins still being checked.
                raise _locked(self._settings.lockout_minutes * 60)
            if await self._repos.accounts.reserve_attempt(credential, used + 1):
                return credential, used + 1
            fresh = await self._repos.accounts.get_credential(credential.user_id)
            if fresh is None:
                raise _bad_credentials()
            credential = fresh
        # Each round lets one contender in or refuses them all, so this takes a success
        # resetting the count over and over meanwhile.
        raise Aborted("too many sign-ins of this account at once; retry", reason="LOGIN_CONTENDED")

    async def _login_failed(
        self, user_id: str, attempts: int, organization_id: str, device: Device
    ) -> None:
        partition = await self._audit_partition(user_id, organization_id)
        await self._audit.record(
            partition,
            ev.LOGIN_FAILED,
            subject_id=user_id,
            ip_address=device.ip_address,
            details={"attempts": str(attempts)},
        )
        if attempts >= self._settings.lockout_attempts:
            until = self._clock.now() + timedelta(minutes=self._settings.lockout_minutes)
            await self._repos.accounts.lock_account(user_id, time_text(until))
            await self._audit.record(
                partition,
                ev.ACCOUNT_LOCKED,
                subject_id=user_id,
                ip_address=device.ip_address,
                details={"until": time_text(until)},
            )

    async def _audit_partition(self, user_id: str, organization_id: str) -> str:
        """Where a user's security event goes: the named organization when the user belongs to
        it, else the most recently used one, else the user's own partition."""
        if organization_id and await self._repos.organizations.get_member(organization_id, user_id):
            return organization_id
        return await self._sessions.default_organization(user_id) or user_id

    # --- the current user ----------------------------------------------------------------------

    async def current_user(self) -> resources_pb2.User:
        return await signed_in_user(self._repos)

    async def update_current_user(
        self, changes: resources_pb2.User, mask: FieldMask
    ) -> resources_pb2.User:
        paths = update_paths(mask, changes, "user", USER_WRITABLE)

        async def attempt() -> resources_pb2.User:
            current = await self.current_user()
            check_etag(changes.etag, current.etag, "account")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            updated.ClearField("etag")
            updated.update_time.FromDatetime(self._clock.now())
            event = self._events(current_principal()).user(ev.USER_UPDATED, updated, changed)
            return await self._repos.accounts.replace_user(updated, current.etag, event)

        return await read_modify_write(changes.etag, attempt)

    async def change_password(self, current_password: str, new_password: str) -> None:
        """Replace the password (policy and history checked) and end the other sessions."""
        principal = current_principal()
        user = await self.current_user()
        credential = await self._repos.accounts.get_credential(user.id)
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
        await self._repos.accounts.change_password(credential, new_hash, recent[:keep], event)
        others = [
            r
            for r in await self._repos.sessions.active_sessions(user.id)
            if r.session.id != principal.session_id
        ]
        await self._sessions.revoke(user.id, others, "password_changed", user.id)
        await self._audit.record(
            principal.organization_id,
            ev.PASSWORD_CHANGED,
            actor_user_id=user.id,
            subject_id=user.id,
            session_id=principal.session_id,
        )

    def _events(self, principal: Principal) -> IdentityEvents:
        return IdentityEvents(user_actor(principal.subject, principal.session_id), self._clock)
