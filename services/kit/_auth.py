"""Principals, roles and permissions, and access-token verification.

The principal of a call comes only from its verified bearer token (DESIGN.md, Identity and
tenancy). Permissions are written `<domain>.<resource>.<action>`; a pattern may use `*` for a
whole segment (`planning.*.read`, `*.*.read`) or be `*` alone for everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from jwt import PyJWK, PyJWKSet

from services.kit._access import Policy, permissions_with
from services.kit._errors import Unauthenticated
from services.kit._keys import ISSUED_MS_CLAIM
from services.kit._registry import DOMAINS
from services.kit._registry import domain as registry_domain

if TYPE_CHECKING:
    from services.kit._revocation import Revocations

ROLE_PERMISSIONS: Mapping[str, tuple[str, ...]] = {
    "owner": ("*",),
    "admin": ("*",),
    "member": ("*.*.read", "*.*.write", "*.*.delete", "*.*.execute"),
    "viewer": ("*.*.read",),
}
"""What each system role may do, before an RPC's policy narrows it (`admin_only`: owner and
admin only; `owner_only`: owner only). Organization-level custom roles arrive in the token as
explicit permission patterns (claim `perms`)."""

ADMINISTRATOR_ROLES = frozenset({"owner", "admin"})
"""The system roles that hold `admin_only` permissions through their patterns."""

PLATFORM_KIND = "platform"
"""The principal kind of a platform service authenticated by its client assertion."""

PLATFORM_SUBJECT_PREFIX = "service:"
"""Subjects (and `act.sub`) naming a platform service: `service:<domain>`."""

DOMAIN_AUDIENCE_PREFIX = "coder."
"""A token whose `aud` is `coder.<domain>` is for that domain's service only (delegated tokens,
client assertions to identity); `coder-api` tokens are for every service."""

MAX_ASSERTION_SECONDS = 300
"""Longest lifetime (`exp - iat`) of a client assertion identity accepts."""

ALGORITHMS = ("ES256", "RS256", "EdDSA")
"""Signature algorithms accepted; all are supported by Envoy's jwt_authn. `none` never is."""


def domain_audience(domain: str) -> str:
    """The audience of a token meant only for `domain`'s service: `coder.<domain>`."""
    return f"{DOMAIN_AUDIENCE_PREFIX}{domain}"


def platform_subject(domain: str) -> str:
    """The subject naming a platform service: `service:<domain>`."""
    return f"{PLATFORM_SUBJECT_PREFIX}{domain}"


DOMAIN_AUDIENCES: tuple[str, ...] = tuple(domain_audience(d.name) for d in DOMAINS)


def permission_matches(pattern: str, permission: str) -> bool:
    """True when `pattern` (with `*` segments) covers `permission`."""
    if pattern == "*":
        return True
    wanted = permission.split(".")
    parts = pattern.split(".")
    if len(parts) != len(wanted):
        return False
    return all(p in ("*", w) for p, w in zip(parts, wanted, strict=True))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user in an organization, a service account, or a platform service.

    A delegated token (RFC 8693) names the user or service account it acts for as the subject
    and the platform service using it as `actor` (`service:<domain>`); it is `bound_to` the
    domains of its audience and may be narrowed by a `scope`.
    """

    subject: str
    organization_id: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    session_id: str = ""
    kind: str = "user"
    expires_at: float = 0.0
    issued_at: float = 0.0
    """When the token was issued, in epoch seconds (to the millisecond when it carries
    `iat_ms`): a subject's revocation refuses the tokens issued before it."""
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    actor: str = ""
    """`act.sub` of a delegated token: the platform service acting for the subject."""
    bound_to: frozenset[str] = frozenset()
    """The domains a `coder.<domain>` audience restricts the token to; empty for a `coder-api`
    token, which every service accepts."""
    scope: frozenset[str] | None = None
    """Permission patterns a delegated token is narrowed to (its `scope` claim), or None."""

    def accepted_by(self, domain: str) -> bool:
        """Whether the token's audience lets a service of `domain` accept it."""
        return not self.bound_to or domain in self.bound_to

    def can(self, permission: str, policy: Policy = Policy.DEFAULT) -> bool:
        """Whether the principal holds `permission` under the RPC's access `policy`
        (see access.proto): a role or explicit permission pattern that matches it, within
        what the policy allows (and, for a narrowed token, within its scope too)."""
        if self.scope is not None and not any(
            permission_matches(p, permission) for p in self.scope
        ):
            return False
        if policy is Policy.PLATFORM_ONLY:
            return self.kind == PLATFORM_KIND and permission in self.permissions
        if policy is Policy.OWNER_ONLY:
            return "owner" in self.roles
        if policy is Policy.SELF_SERVICE and self.kind == "user" and not self.actor:
            return True  # the user's own session, not a service acting for them
        for role in self.roles:
            if policy is Policy.ADMIN_ONLY and role not in ADMINISTRATOR_ROLES:
                continue
            if any(permission_matches(p, permission) for p in ROLE_PERMISSIONS.get(role, ())):
                return True
        return any(permission_matches(p, permission) for p in self.permissions)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, api_audience: str = "") -> Principal:
        """The principal of verified access-token claims. `api_audience` is the audience every
        service accepts (`coder-api`); a token without it is bound to its `coder.<domain>`
        audiences and must name its actor (`act`)."""
        organization = claims.get("org")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject", reason="TOKEN_INVALID")
        if not isinstance(organization, str) or not organization:
            raise Unauthenticated("token has no organization", reason="TOKEN_INVALID")
        actor = _actor(claims.get("act"))
        bound = _bound_domains(claims.get("aud"), api_audience)
        if bound and not actor:
            raise Unauthenticated(
                "a token bound to a service's audience must name its actor (act)",
                reason="TOKEN_INVALID",
            )
        scope = claims.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise Unauthenticated("token scope must be a string", reason="TOKEN_INVALID")
        return cls(
            subject=subject,
            organization_id=organization,
            roles=frozenset(_strings(claims.get("roles"))),
            permissions=frozenset(_strings(claims.get("perms"))),
            session_id=str(claims.get("sid", "")),
            kind=str(claims.get("kind", "user")),
            expires_at=float(claims.get("exp", 0)),
            issued_at=issued_at(claims),
            claims=dict(claims),
            actor=actor,
            bound_to=bound,
            scope=None if scope is None else frozenset(scope.split()),
        )


def issued_at(claims: Mapping[str, Any]) -> float:
    """A token's issue time in epoch seconds: `iat_ms` when it agrees with `iat`, else `iat`."""
    seconds = claims.get("iat", 0)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return 0.0
    millis = claims.get(ISSUED_MS_CLAIM)
    if isinstance(millis, int) and not isinstance(millis, bool) and millis // 1000 == seconds:
        return millis / 1000
    return float(seconds)


def _actor(value: Any) -> str:
    """`act.sub` (RFC 8693 §4.1), or '' without an `act` claim."""
    if value is None:
        return ""
    if not isinstance(value, Mapping) or not isinstance(value.get("sub"), str) or not value["sub"]:
        raise Unauthenticated("token act claim must name a subject", reason="TOKEN_INVALID")
    return str(value["sub"])


def _bound_domains(audience: Any, api_audience: str) -> frozenset[str]:
    audiences = [audience] if isinstance(audience, str) else list(audience or ())
    if not api_audience or api_audience in audiences:
        return frozenset()
    return frozenset(
        a.removeprefix(DOMAIN_AUDIENCE_PREFIX)
        for a in audiences
        if isinstance(a, str) and a in DOMAIN_AUDIENCES
    )


def _strings(value: Any) -> Iterable[str]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unauthenticated("token claim must be a list of strings", reason="TOKEN_INVALID")
    return value


JwksFetcher = Callable[[], Awaitable[Mapping[str, Any]]]
"""An in-process source of a JWKS document (the identity service's key ring)."""


class KeySource:
    """Where verification keys come from: a JWKS URL (refetched on an unknown `kid`, at most
    every `min_refresh_seconds`), a JWKS file (reread when it changes), and in-process
    fetchers attached at start-up (in embedded mode the identity service's key ring, so tokens
    it issues verify without a network hop)."""

    def __init__(
        self,
        *,
        url: str = "",
        path: Path | None = None,
        jwks: Mapping[str, Any] | None = None,
        min_refresh_seconds: float = 30.0,
    ) -> None:
        if not (url or path or jwks is not None):
            raise ValueError("a JWKS url, file or document is required")
        self._url = url
        self._path = path
        self._keys: dict[str, PyJWK] = {}
        self._loaded_at = float("-inf")
        self._mtime = 0.0
        self._min_refresh = min_refresh_seconds
        self._lock = asyncio.Lock()
        self._fetchers: list[JwksFetcher] = []
        self._attached: set[str] = set()
        self._fetched_at = float("-inf")
        if jwks is not None:
            self._install(jwks)
            self._loaded_at = float("inf")

    @classmethod
    def in_process(cls, fetch: JwksFetcher, *, min_refresh_seconds: float = 5.0) -> KeySource:
        """A source fed only by an in-process fetcher."""
        source = cls(jwks={"keys": []}, min_refresh_seconds=min_refresh_seconds)
        source.attach(fetch)
        return source

    def attach(self, fetch: JwksFetcher) -> None:
        """Also take keys from `fetch`, called on an unknown `kid` (rate-limited)."""
        self._fetchers.append(fetch)
        self._fetched_at = float("-inf")

    def _install(self, document: Mapping[str, Any]) -> None:
        if not document.get("keys"):
            self._keys = {}
            return
        keyset = PyJWKSet.from_dict(dict(document))
        self._keys = {key.key_id: key for key in keyset.keys if key.key_id}

    def _read(self) -> Mapping[str, Any]:
        if self._path is not None:
            return json.loads(self._path.read_text())  # type: ignore[no-any-return]
        with urllib.request.urlopen(self._url, timeout=5) as response:  # noqa: S310
            return json.loads(response.read())  # type: ignore[no-any-return]

    async def key(self, kid: str) -> PyJWK | None:
        found = self._keys.get(kid)
        if found is not None and not self._file_changed():
            return found
        async with self._lock:
            if kid in self._keys and not self._file_changed():
                return self._keys[kid]
            if self._fetchers and time.monotonic() - self._fetched_at >= self._min_refresh:
                await self._fetch_attached()
                if kid in self._keys:
                    return self._keys[kid]
            if not (self._url or self._path):
                return None
            if time.monotonic() - self._loaded_at < self._min_refresh and not self._file_changed():
                return None
            try:
                document = await asyncio.to_thread(self._read)
            except OSError as error:
                raise Unauthenticated(
                    f"signing keys unavailable: {error}", reason="JWKS_UNAVAILABLE"
                ) from error
            attached = {k: v for k, v in self._keys.items() if k in self._attached}
            self._install(document)
            self._keys.update(attached)
            self._loaded_at = time.monotonic()
            if self._path is not None:
                self._mtime = self._path.stat().st_mtime
            return self._keys.get(kid)

    async def _fetch_attached(self) -> None:
        self._fetched_at = time.monotonic()
        found: dict[str, PyJWK] = {}
        for fetch in self._fetchers:
            try:
                document = await fetch()
            except Exception as error:
                raise Unauthenticated(
                    f"signing keys unavailable: {error}", reason="JWKS_UNAVAILABLE"
                ) from error
            keyset = PyJWKSet.from_dict(dict(document)) if document.get("keys") else None
            if keyset is not None:
                found.update({key.key_id: key for key in keyset.keys if key.key_id})
        for stale in self._attached - set(found):
            self._keys.pop(stale, None)
        self._attached = set(found)
        self._keys.update(found)

    def _file_changed(self) -> bool:
        if self._path is None:
            return False
        try:
            return self._path.stat().st_mtime != self._mtime
        except OSError:
            return False


@dataclass(frozen=True, slots=True)
class _PlatformKey:
    key: PyJWK
    domains: frozenset[str]


class PlatformKeys:
    """The public keys of platform services, by key id, each registered for the domains whose
    services may sign client assertions with it (RFC 7523 `private_key_jwt`).

    Configured on identity's side (`CODER_IDENTITY_SERVICE_KEYS`) as JSON: domain → list of
    public JWKs, for example `{"knowledge": [{"kty": "EC", "crv": "P-256", "x": …, "y": …,
    "kid": "knowledge-1"}]}`. Several keys per domain allow rotation without downtime.
    """

    def __init__(self, keys: Mapping[str, _PlatformKey] | None = None) -> None:
        self._keys = dict(keys or {})

    @classmethod
    def parse(cls, raw: str) -> PlatformKeys:
        """Keys from their JSON text; ValueError names what is wrong (unknown domain, private
        key material, missing or conflicting key id)."""
        if not raw.strip():
            return cls()
        try:
            parsed = json.loads(raw)
        except ValueError as error:
            raise ValueError(f"service keys are not JSON: {error}") from error
        if not isinstance(parsed, dict):
            raise ValueError("service keys must be a JSON object of domain → [public JWK]")
        jwks: dict[str, dict[str, Any]] = {}
        domains: dict[str, set[str]] = {}
        for name, entries in parsed.items():
            registry_domain(name)
            if not isinstance(entries, list):
                raise ValueError(f"service keys of {name!r} must be a list of JWKs")
            for entry in entries:
                if not isinstance(entry, dict) or not entry.get("kid"):
                    raise ValueError(f"every service key of {name!r} needs a kid")
                if "d" in entry:
                    raise ValueError(
                        f"service key {entry['kid']!r} holds private key material; "
                        "identity needs only the public key"
                    )
                kid = str(entry["kid"])
                if kid in jwks and jwks[kid] != entry:
                    raise ValueError(f"service key id {kid!r} names two different keys")
                jwks[kid] = entry
                domains.setdefault(kid, set()).add(name)
        keys = {}
        for kid, entry in jwks.items():
            try:
                key = PyJWK.from_dict({"alg": "ES256", **entry})
            except jwt.PyJWTError as error:
                raise ValueError(f"service key {kid!r} is not a usable JWK: {error}") from error
            keys[kid] = _PlatformKey(key, frozenset(domains[kid]))
        return cls(keys)

    def __bool__(self) -> bool:
        return bool(self._keys)

    def get(self, kid: str) -> _PlatformKey | None:
        return self._keys.get(kid)


class TokenVerifier:
    """Verifies bearer access tokens and turns them into principals.

    Verified tokens are cached until they expire, so a hot path pays one dictionary lookup,
    not a signature check. With `honour(revocations)` (every service process), a token whose
    session or subject has been revoked is refused, cached or not, by a second lookup in the
    process's mirror of revocations (docs/auth.md, "Revocation").
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        cache_size: int = 10_000,
        domain_audiences: bool = False,
        max_lifetime: float | None = None,
    ) -> None:
        """`audience` is the API audience every service accepts (`coder-api`). With
        `domain_audiences`, tokens for one domain's service only (`aud` `coder.<domain>`, as
        delegated tokens have) verify too; their principal is `bound_to` those domains and the
        access interceptor accepts them only on RPCs of those domains. The edge leaves it off.
        A token living longer than `max_lifetime` seconds (`exp - iat`) is refused: revocations
        are kept that long, so none can outlive the revocation that refuses it."""
        self.keys = keys
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._audiences = [audience, *DOMAIN_AUDIENCES] if domain_audiences else [audience]
        self._leeway = leeway
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._cache_size = cache_size
        self._platform = PlatformKeys()
        self._max_lifetime = max_lifetime
        self._revocations: Revocations | None = None

    def honour(self, revocations: Revocations) -> None:
        """Refuse the tokens `revocations` says are revoked (`TOKEN_REVOKED`)."""
        self._revocations = revocations

    def trust_platform(self, keys: PlatformKeys) -> None:
        """Also accept client assertions signed by platform services' keys (only the process
        hosting identity does): they become principals of kind `platform`."""
        self._platform = keys

    async def verify(self, token: str) -> Principal:
        digest = hashlib.blake2b(token.encode(), digest_size=16).digest()
        principal = self._cache.get(digest)
        if principal is not None and principal.expires_at + self._leeway > time.time():
            self._cache.move_to_end(digest)
        else:
            principal = await self._verify(token)
            self._cache[digest] = principal
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if self._revocations is not None and (why := self._revocations.refusal(principal)):
            raise Unauthenticated(f"the access token is revoked: {why}", reason="TOKEN_REVOKED")
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthenticated("malformed access token", reason="TOKEN_INVALID") from error
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise Unauthenticated(f"algorithm {algorithm!r} not accepted", reason="TOKEN_INVALID")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token has no key id", reason="TOKEN_INVALID")
        if _issuer_of(token).startswith(PLATFORM_SUBJECT_PREFIX):
            return self._verify_assertion(token, algorithm, kid)
        key = await self._keys.key(kid)
        if key is None:
            raise Unauthenticated("token signed by an unknown key", reason="TOKEN_UNKNOWN_KEY")
        if key.algorithm_name != algorithm:
            raise Unauthenticated("token algorithm does not match its key", reason="TOKEN_INVALID")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self._audiences,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("access token expired", reason="TOKEN_EXPIRED") from error
        except jwt.PyJWTError as error:
            raise Unauthenticated(
                f"access token refused: {error}", reason="TOKEN_INVALID"
            ) from error
        if self._max_lifetime is not None and _lifetime(claims) > self._max_lifetime:
            raise Unauthenticated(
                f"an access token lives at most {self._max_lifetime:g} s", reason="TOKEN_INVALID"
            )
        return Principal.from_claims(claims, api_audience=self._audience)

    def _verify_assertion(self, token: str, algorithm: str, kid: str) -> Principal:
        """A platform service's client assertion (RFC 7523 §3): `iss` = `sub` =
        `service:<domain>` for a domain its key is registered for, `aud` identity's domain
        audience, short-lived, with a `jti` (identity refuses a replayed one)."""
        found = self._platform.get(kid)
        if found is None:
            raise Unauthenticated(
                "client assertion signed by an unregistered service key", reason="TOKEN_UNKNOWN_KEY"
            )
        if found.key.algorithm_name != algorithm:
            raise Unauthenticated("token algorithm does not match its key", reason="TOKEN_INVALID")
        try:
            claims = jwt.decode(
                token,
                key=found.key,
                algorithms=[algorithm],
                audience=domain_audience("identity"),
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("client assertion expired", reason="TOKEN_EXPIRED") from error
        except jwt.PyJWTError as error:
            raise Unauthenticated(
                f"client assertion refused: {error}", reason="TOKEN_INVALID"
            ) from error
        subject = claims["sub"]
        domain = str(subject).removeprefix(PLATFORM_SUBJECT_PREFIX)
        if claims["iss"] != subject or domain not in found.domains:
            raise Unauthenticated(
                f"this key does not authenticate {subject}", reason="ASSERTION_SUBJECT_MISMATCH"
            )
        if float(claims["exp"]) - float(claims["iat"]) > MAX_ASSERTION_SECONDS:
            raise Unauthenticated(
                f"a client assertion lives at most {MAX_ASSERTION_SECONDS} s",
                reason="TOKEN_INVALID",
            )
        return Principal(
            subject=str(subject),
            organization_id="",
            permissions=permissions_with(Policy.PLATFORM_ONLY),
            kind=PLATFORM_KIND,
            expires_at=float(claims["exp"]),
            claims=claims,
            bound_to=frozenset({"identity"}),
        )


def _lifetime(claims: Mapping[str, Any]) -> float:
    try:
        return float(claims["exp"]) - float(claims["iat"])
    except (TypeError, ValueError):
        return float("inf")


def _issuer_of(token: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise Unauthenticated("malformed access token", reason="TOKEN_INVALID") from error
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else ""
