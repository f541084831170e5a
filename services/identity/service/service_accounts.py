"""Service accounts: non-human clients of an organization and the client-credentials grant.

A client secret is 256 random bits, shown once. It is stored only as its SHA-256: a slow hash
(argon2id) protects low-entropy human passwords from guessing, but nobody can guess 2^256
values, so a fast hash is as safe here and keeps the public token endpoint from being a CPU
sink an attacker could aim at. Comparison is constant-time, and an unknown client is checked
against a dummy hash so that every refusal takes the same path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from services.identity import events as ev
from services.identity._access import (
    grantable,
    own_organization,
    within,
)
from services.identity._settings import IdentitySettings
from services.identity.events import IdentityEvents, audit_document, service_actor, user_actor
from services.identity.repository import IdentityRepositories
from services.identity.repository.service_accounts import (
    ServiceAccountRecord,
)
from services.identity.service.keys import KeyRing
from services.kit import (
    Clock,
    EtagMismatch,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Policy,
    Principal,
    Revocations,
    Unauthenticated,
    new_id,
    permissions_with,
)

SECRET_PREFIX = "csa_"  # noqa: S105 (a recognizable prefix lets secret scanners spot leaks)
SECRET_BYTES = 32
SERVICE_KIND = "service"
TOKEN_TYPE = "Bearer"  # noqa: S105

_PERMISSION = re.compile(r"^(\*|([a-z][a-z0-9_]*|\*)\.([a-z][a-z0-9_]*|\*)\.([a-z][a-z0-9_]*|\*))$")
_ID_PART = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_DUMMY_HASH = hashlib.sha256(b"no service account has this secret").hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What the client-credentials grant returns."""

    access_token: str
    expires_in: int
    scope: tuple[str, ...]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def invalid_client() -> Unauthenticated:
    # One message and reason for every credential failure (OAuth 2.0 `invalid_client`).
    return Unauthenticated("client authentication failed", reason="INVALID_CLIENT")


class ServiceAccountService:
    """Service accounts of an organization and their access tokens."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        clock: Clock,
        settings: IdentitySettings,
        keys: KeyRing,
        revocations: Revocations,
        *,
        issuer: str,
        audience: str,
    ) -> None:
        self._repos = repositories
        self._accounts = repositories.service_accounts
        self._clock = clock
        self._settings = settings
        self._keys = keys
        self._revocations = revocations
        self._issuer = issuer
        self._audience = audience

    # --- administration ------------------------------------------------------------------------

    async def create(
        self, organization_id: str, draft: resources_pb2.ServiceAccount
    ) -> tuple[resources_pb2.ServiceAccount, str]:
        """A new account and its secret (the only time the secret is seen)."""
        principal = own_organization(organization_id)
        now = self._clock.now()
        _check_grant(principal, draft.permissions)
        if draft.HasField("expire_time") and _at(draft.expire_time) <= now:
            raise InvalidArgument(
                "the expiry must be in the future",
                violations=[FieldViolation("service_account.expire_time", "must be in the future")],
            )
        account = resources_pb2.ServiceAccount(
            id=new_id(),
            organization_id=organization_id,
            name=draft.name,
            description=draft.description,
            permissions=list(dict.fromkeys(draft.permissions)),
            created_by=principal.subject,
        )
        account.client_id = f"{organization_id}.{account.id}"
        if draft.HasField("expire_time"):
            account.expire_time.CopyFrom(draft.expire_time)
        for stamp in (account.create_time, account.update_time, account.secret_create_time):
            stamp.FromDatetime(now)
        secret = new_secret()
        event = self._events(principal).service_account(ev.SERVICE_ACCOUNT_CREATED, account)
        await self._accounts.create(account, hash_secret(secret), event)
        await self._audit(principal, ev.SERVICE_ACCOUNT_CREATED_AUDIT, account)
        return account, secret

    async def list_accounts(
        self, request: api.ListServiceAccountsRequest
    ) -> tuple[list[resources_pb2.ServiceAccount], str]:
        organization_id = request.organization_id
        own_organization(organization_id)
        page = PageRequest.of(request, organization_id)
        found, continuation = await self._accounts.page(
            organization_id, page.size, page.continuation
        )
        return found, page.seal(continuation)

    async def get(self, organization_id: str, account_id: str) -> resources_pb2.ServiceAccount:
        own_organization(organization_id)
        return (await self._record(organization_id, account_id)).account

    async def rotate_secret(
        self, organization_id: str, account_id: str
    ) -> tuple[resources_pb2.ServiceAccount, str]:
        """A new secret; the previous one stops working with this write."""
        principal = own_organization(organization_id)
        record = await self._record(organization_id, account_id)
        now = self._clock.now()
        account = record.account
        account.update_time.FromDatetime(now)
        account.secret_create_time.FromDatetime(now)
        secret = new_secret()
        event = self._events(principal).service_account(ev.SERVICE_ACCOUNT_SECRET_ROTATED, account)
        try:
            await self._accounts.replace_secret(record, hash_secret(secret), event)
        except EtagMismatch as error:
            raise EtagMismatch(
                "the service account changed during the rotation; rotate again"
            ) from error
        await self._audit(principal, ev.SERVICE_ACCOUNT_ROTATED_AUDIT, account)
        return account, secret

    async def disable(self, organization_id: str, account_id: str) -> resources_pb2.ServiceAccount:
        principal = own_organization(organization_id)
        record = await self._record(organization_id, account_id)
        account = record.account
        if account.disabled:
            return account
        account.disabled = True
        account.update_time.FromDatetime(self._clock.now())
        event = self._events(principal).service_account(ev.SERVICE_ACCOUNT_DISABLED, account)
        await self._accounts.disable(record, event)
        await self._revocations.record([event])
        await self._audit(principal, ev.SERVICE_ACCOUNT_DISABLED_AUDIT, account)
        return account

    async def delete(self, organization_id: str, account_id: str) -> None:
        principal = own_organization(organization_id)
        account = (await self._record(organization_id, account_id)).account
        event = self._events(principal).service_account(ev.SERVICE_ACCOUNT_DELETED, account)
        await self._accounts.delete(account, event)
        await self._revocations.record([event])
        await self._audit(principal, ev.SERVICE_ACCOUNT_DELETED_AUDIT, account)

    # --- the client-credentials grant ----------------------------------------------------------

    async def issue_token(
        self, client_id: str, client_secret: str, scope: str, ip_address: str
    ) -> IssuedToken:
        """An access token of kind `service` for valid client credentials, narrowed to `scope`.
        Unknown client, wrong secret, disabled and expired all fail alike."""
        record = await self._client(client_id)
        presented = hash_secret(client_secret)
        matches = hmac.compare_digest(presented, record.secret_hash if record else _DUMMY_HASH)
        if record is None:
            raise invalid_client()
        account = record.account
        now = self._clock.now()
        refusal = _refusal(account, matches, now)
        if refusal:
            await self._audit_client(account, ev.SERVICE_ACCOUNT_REFUSED_AUDIT, ip_address, refusal)
            raise invalid_client()
        granted = _narrow(account.permissions, scope)

        lifetime = self._settings.access_token_seconds
        if account.HasField("expire_time"):
            lifetime = min(lifetime, int((_at(account.expire_time) - now).total_seconds()))
        key = await self._keys.active()
        token = key.mint(
            subject=account.id,
            organization_id=account.organization_id,
            issuer=self._issuer,
            audience=self._audience,
            roles=(),
            permissions=granted,
            kind=SERVICE_KIND,
            lifetime_seconds=lifetime,
            now=now.timestamp(),
        )
        account.last_used_time.FromDatetime(now)
        event = IdentityEvents(service_actor(account.id), self._clock).service_account(
            ev.SERVICE_ACCOUNT_USED, account
        )
        await self._accounts.record_use(account, now, event)
        await self._audit_client(
            account, ev.SERVICE_ACCOUNT_USED_AUDIT, ip_address, "", scope=" ".join(granted)
        )
        return IssuedToken(token, lifetime, granted)

    async def _client(self, client_id: str) -> ServiceAccountRecord | None:
        # The client id routes to the account's partition: `<organization id>.<account id>`.
        organization_id, dot, account_id = client_id.partition(".")
        if not (dot and _ID_PART.match(organization_id) and _ID_PART.match(account_id)):
            return None
        return await self._accounts.get(organization_id, account_id)

    # --- helpers -------------------------------------------------------------------------------

    async def _record(self, organization_id: str, account_id: str) -> ServiceAccountRecord:
        record = await self._accounts.get(organization_id, account_id)
        if record is None:
            raise NotFound(
                f"service account {account_id} not found", reason="SERVICE_ACCOUNT_NOT_FOUND"
            )
        return record

    def _events(self, principal: Principal) -> IdentityEvents:
        return IdentityEvents(user_actor(principal.subject, principal.session_id), self._clock)

    async def _audit(
        self, principal: Principal, action: str, account: resources_pb2.ServiceAccount
    ) -> None:
        document = audit_document(
            action,
            self._clock.now(),
            actor_user_id=principal.subject,
            subject_id=account.id,
            session_id=principal.session_id,
            details={"name": account.name},
        )
        await self._repos.audit.add_audit(account.organization_id, document)

    async def _audit_client(
        self,
        account: resources_pb2.ServiceAccount,
        action: str,
        ip_address: str,
        reason: str,
        *,
        scope: str = "",
    ) -> None:
        details = {"reason": reason} if reason else {"scope": scope}
        document = audit_document(
            action,
            self._clock.now(),
            subject_id=account.id,
            ip_address=ip_address,
            details=details,
        )
        await self._repos.audit.add_audit(account.organization_id, document)


# --- rules -------------------------------------------------------------------------------------


def _at(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def _refusal(account: resources_pb2.ServiceAccount, matches: bool, now: datetime) -> str:
    """Why the credentials are refused (for the audit trail only), or ''."""
    if not matches:
        return "wrong_secret"
    if account.disabled:
        return "disabled"
    if account.HasField("expire_time") and _at(account.expire_time) <= now:
        return "expired"
    return ""


def _check_grant(principal: Principal, permissions: Sequence[str]) -> None:
    """Owner-only permissions are never granted; the rest must be within the creator's own."""
    own = grantable(principal)
    violations = []
    for index, pattern in enumerate(permissions):
        field = f"service_account.permissions[{index}]"
        if pattern in permissions_with(Policy.OWNER_ONLY):
            violations.append(FieldViolation(field, "owner-only permissions cannot be granted"))
        elif not within(own, pattern):
            violations.append(FieldViolation(field, "exceeds your own permissions"))
    if violations:
        raise InvalidArgument("a permission cannot be granted", violations=violations)


def _narrow(permissions: Sequence[str], scope: str) -> tuple[str, ...]:
    """The requested scope when each of its patterns is within the account's permissions;
    all the account's permissions when no scope is requested."""
    requested = list(dict.fromkeys(scope.split()))
    if not requested:
        return tuple(permissions)
    outside = [p for p in requested if not _PERMISSION.match(p) or not within(permissions, p)]
    if outside:
        raise InvalidArgument(
            f"the scope asks for more than the service account holds: {' '.join(outside)}",
            reason="INVALID_SCOPE",
            violations=[FieldViolation("scope", f"{p} is not granted") for p in outside],
        )
    return tuple(requested)
