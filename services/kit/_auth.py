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
from typing import Any

import jwt
from jwt import PyJWK, PyJWKSet

from services.kit._access import Policy
from services.kit._errors import Unauthenticated

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

ALGORITHMS = ("ES256", "RS256", "EdDSA")
"""Signature algorithms accepted; all are supported by Envoy's jwt_authn. `none` never is."""


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
    """Who is calling: a user in an organization, or a service account."""

    subject: str
    organization_id: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    session_id: str = ""
    kind: str = "user"
    expires_at: float = 0.0
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def can(self, permission: str, policy: Policy = Policy.DEFAULT) -> bool:
        """Whether the principal holds `permission` under the RPC's access `policy`
        (see access.proto): a role or explicit permission pattern that matches it, within
        what the policy allows."""
        if policy is Policy.OWNER_ONLY:
            return "owner" in self.roles
        if policy is Policy.SELF_SERVICE and self.kind == "user" and "act" not in self.claims:
            return True  # the user's own session, not a service acting for them
        for role in self.roles:
            if policy is Policy.ADMIN_ONLY and role not in ADMINISTRATOR_ROLES:
                continue
            if any(permission_matches(p, permission) for p in ROLE_PERMISSIONS.get(role, ())):
                return True
        return any(permission_matches(p, permission) for p in self.permissions)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        organization = claims.get("org")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token has no subject", reason="TOKEN_INVALID")
        if not isinstance(organization, str) or not organization:
            raise Unauthenticated("token has no organization", reason="TOKEN_INVALID")
        return cls(
            subject=subject,
            organization_id=organization,
            roles=frozenset(_strings(claims.get("roles"))),
            permissions=frozenset(_strings(claims.get("perms"))),
            session_id=str(claims.get("sid", "")),
            kind=str(claims.get("kind", "user")),
            expires_at=float(claims.get("exp", 0)),
            claims=dict(claims),
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


class TokenVerifier:
    """Verifies bearer access tokens and turns them into principals.

    Verified tokens are cached until they expire (tokens are short-lived; revocation takes
    effect at the next refresh), so a hot path pays one dictionary lookup, not a signature check.
    """

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        cache_size: int = 10_000,
    ) -> None:
        self.keys = keys
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        digest = hashlib.blake2b(token.encode(), digest_size=16).digest()
        cached = self._cache.get(digest)
        if cached is not None and cached.expires_at + self._leeway > time.time():
            self._cache.move_to_end(digest)
            return cached
        principal = await self._verify(token)
        self._cache[digest] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
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
                audience=self._audience,
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
        return Principal.from_claims(claims)
