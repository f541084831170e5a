"""Delegated tokens: RFC 8693 token exchange for work a platform service does on behalf of an
event's actor (a notification rule resolving recipients, knowledge re-indexing a page through
embeddings, an execution step calling planning).

The token says who the work is for (`sub`: the user or service account that acted), who does
it (`act`: `{"sub": "service:<calling domain>"}`, RFC 8693 §4.1), where (`org`: the event's
organization) and for which service (`aud`: `coder.<target domain>`, accepted by that domain's
service only). It lives five minutes and carries the subject's *current* grant in the
organization: a user removed since the event, or a disabled service account, gets nothing, and
a token never holds more than its subject does (a `scope` only narrows it further).

Two ways in, one path for the rules, the minting and the audit: `exchange_for_caller` serves
`IdentityService.ExchangeToken` to a platform service authenticated by its client assertion
(spent once, by `jti`); `exchange` is also attached in process to the kit's peers when identity
is hosted in the same process (embedded mode), where no credential is needed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC
from typing import NoReturn

from coder.common.v1 import actor_pb2
from services.identity import events as ev
from services.identity.repository import IdentityRepositories
from services.identity.service.audit import AuditTrail
from services.identity.service.keys import KeyRing
from services.identity.service.sessions import SessionService
from services.kit import (
    PLATFORM_KIND,
    Clock,
    DelegatedToken,
    DelegationRequest,
    FieldViolation,
    InvalidArgument,
    PermissionDenied,
    Unauthenticated,
    current_principal,
    domain,
    domain_audience,
    platform_subject,
)
from services.kit.cache import Cache

DELEGATED_TOKEN_SECONDS = 300
REPLAY_MARGIN_SECONDS = 60.0

_DOMAIN = re.compile(r"^[a-z][a-z0-9_]*$")
_PERMISSION = re.compile(r"^(\*|([a-z][a-z0-9_]*|\*)\.([a-z][a-z0-9_]*|\*)\.([a-z][a-z0-9_]*|\*))$")
_KINDS = {actor_pb2.ACTOR_KIND_USER: "user", actor_pb2.ACTOR_KIND_SERVICE: "service"}


@dataclass(frozen=True, slots=True)
class _Grant:
    """What the subject holds in the organization right now."""

    kind: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    lifetime: int


class DelegationService:
    """Issues delegated access tokens by token exchange."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        sessions: SessionService,
        keys: KeyRing,
        clock: Clock,
        replays: Cache,
        audit: AuditTrail,
        *,
        issuer: str,
    ) -> None:
        self._repos = repositories
        self._sessions = sessions
        self._keys = keys
        self._clock = clock
        self._replays = replays
        self._audit = audit
        self._issuer = issuer

    async def exchange_for_caller(
        self,
        subject: actor_pb2.Actor,
        organization_id: str,
        audience: str,
        scope: str,
        event_id: str,
        event_type: str,
    ) -> DelegatedToken:
        """`ExchangeToken` for the calling platform service: its client assertion is spent
        (a replay is refused), then the exchange runs as `exchange`."""
        principal = current_principal()
        if principal.kind != PLATFORM_KIND:
            # The access rule already demands a platform-only permission; this keeps the rule
            # and the code that trusts `principal.subject` as a service name together.
            raise PermissionDenied(
                "only platform services exchange tokens", reason="PERMISSION_MISSING"
            )
        await self._spend_assertion(str(principal.claims.get("jti", "")), principal.expires_at)
        request = DelegationRequest(
            actor_domain=principal.subject.removeprefix(platform_subject("")),
            subject=subject,
            organization_id=organization_id,
            audience=audience,
            scope=" ".join(scope.split()),
            event_id=event_id,
            event_type=event_type,
        )
        return await self.exchange(request)

    async def exchange(self, request: DelegationRequest) -> DelegatedToken:
        """A delegated token for `request.subject` in `request.organization_id`, for the
        service of `request.audience`, acted by `request.actor_domain`'s service; audited."""
        _check(request)
        # Dated before the grant is read: a revocation decided after that read refuses it.
        now = self._clock.now()
        grant = await self._grant(request)
        extra: dict[str, object] = {"act": {"sub": platform_subject(request.actor_domain)}}
        if request.scope:
            extra["scope"] = request.scope
        key = await self._keys.active()
        token = key.mint(
            subject=request.subject.id,
            organization_id=request.organization_id,
            issuer=self._issuer,
            audience=domain_audience(request.audience),
            roles=grant.roles,
            permissions=grant.permissions,
            kind=grant.kind,
            lifetime_seconds=grant.lifetime,
            extra=extra,
            # Token times follow the service clock, which also decides when keys retire.
            now=now.timestamp(),
        )
        await self._record(request, ev.TOKEN_EXCHANGED_AUDIT, expiresIn=str(grant.lifetime))
        return DelegatedToken(token, grant.lifetime, request.scope)

    async def _spend_assertion(self, jti: str, expires_at: float) -> None:
        # Kept until the assertion could no longer verify anyway (its expiry plus leeway).
        ttl = max(1.0, expires_at + REPLAY_MARGIN_SECONDS - time.time())
        if not jti or not await self._replays.set_if_absent(
            f"identity:assertion:{jti}", b"1", ttl=ttl
        ):
            raise Unauthenticated(
                "this client assertion was already used", reason="ASSERTION_REPLAYED"
            )

    async def _grant(self, request: DelegationRequest) -> _Grant:
        subject = request.subject
        organization = await self._repos.organizations.get_organization(request.organization_id)
        if organization is None:
            raise _not_in_organization()
        if subject.kind == actor_pb2.ACTOR_KIND_USER:
            access = await self._sessions.grant(request.organization_id, subject.id)
            if access is None:
                await self._refuse(request, "not_a_member")
            return _Grant("user", access.roles, access.permissions, DELEGATED_TOKEN_SECONDS)
        record = await self._repos.service_accounts.get(request.organization_id, subject.id)
        if record is None:
            await self._refuse(request, "unknown_service_account")
        account = record.account
        lifetime = DELEGATED_TOKEN_SECONDS
        if account.HasField("expire_time"):
            left = account.expire_time.ToDatetime(tzinfo=UTC) - self._clock.now()
            lifetime = min(lifetime, int(left.total_seconds()))
        if account.disabled or lifetime <= 0:
            await self._refuse(request, "disabled" if account.disabled else "expired")
        return _Grant("service", (), tuple(account.permissions), lifetime)

    async def _refuse(self, request: DelegationRequest, reason: str) -> NoReturn:
        await self._record(request, ev.TOKEN_EXCHANGE_REFUSED_AUDIT, reason=reason)
        if reason in ("disabled", "expired"):
            raise PermissionDenied(
                "the service account the work is for is disabled or expired",
                reason="SUBJECT_DISABLED",
            )
        raise _not_in_organization()

    async def _record(self, request: DelegationRequest, action: str, **details: str) -> None:
        subject = request.subject
        await self._audit.record(
            request.organization_id,
            action,
            actor_user_id=subject.id if subject.kind == actor_pb2.ACTOR_KIND_USER else "",
            subject_id=subject.id,
            details={
                "actor": platform_subject(request.actor_domain),
                "subjectKind": _KINDS[subject.kind],
                "audience": request.audience,
                "eventId": request.event_id,
                "eventType": request.event_type,
                "scope": request.scope,
                **details,
            },
        )


def _not_in_organization() -> PermissionDenied:
    # One answer for an unknown organization, a non-member and an unknown service account, so
    # an exchange does not reveal which organizations or accounts exist.
    return PermissionDenied(
        "the subject is not a member of the organization", reason="SUBJECT_NOT_IN_ORGANIZATION"
    )


def _check(request: DelegationRequest) -> None:
    """The request's shape, for both ways in (the gRPC one was validated by protovalidate too)."""
    violations = []
    if request.subject.kind not in _KINDS:
        violations.append(FieldViolation("subject.kind", "must be a user or a service account"))
    if not request.subject.id:
        violations.append(FieldViolation("subject.id", "is required"))
    if not request.organization_id:
        violations.append(FieldViolation("organization_id", "is required"))
    try:
        domain(request.audience)
    except KeyError:
        violations.append(FieldViolation("audience", "must be a domain of the suite"))
    if not _DOMAIN.match(request.actor_domain):
        violations.append(FieldViolation("actor", "the acting service must be a domain"))
    outside = [p for p in request.scope.split() if not _PERMISSION.match(p)]
    if outside:
        violations.append(FieldViolation("scope", f"not permission patterns: {' '.join(outside)}"))
    if violations:
        raise InvalidArgument(
            "the token exchange request is invalid",
            reason="INVALID_EXCHANGE",
            violations=violations,
        )
