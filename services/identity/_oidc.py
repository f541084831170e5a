"""Verification of OpenID Connect ID tokens from configured providers (joserfc, the JOSE
library authlib ≥ 1.7 is built on and recommends over its deprecated `authlib.jose`).

The caller of LoginExternal is not trusted: the token is verified here against the issuer's
own keys, found by discovery and cached; an unknown `kid` refetches them (at most once a
minute), so a provider's key rotation is followed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from services.identity._settings import OidcProvider
from services.kit import Clock, FieldViolation, InvalidArgument, Unauthenticated, Unavailable

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
"""Asymmetric algorithms only: a provider's ID token is never verified with a shared secret."""

LEEWAY_SECONDS = 60
REFETCH_SECONDS = 60.0


@dataclass(slots=True)
class _Keys:
    keys: KeySet
    fetched_at: float


def _refused(message: str) -> Unauthenticated:
    return Unauthenticated(f"the ID token is not valid: {message}", reason="ID_TOKEN_INVALID")


class OidcVerifier:
    """Verifies ID tokens of the configured providers."""

    def __init__(self, providers: dict[str, OidcProvider], clock: Clock) -> None:
        self._providers = providers
        self._clock = clock
        self._keys: dict[str, _Keys] = {}
        self._lock = asyncio.Lock()

    def provider(self, name: str) -> OidcProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise InvalidArgument(
                f"no identity provider {name!r} is configured",
                reason="OIDC_PROVIDER_UNKNOWN",
                violations=[FieldViolation("provider", "is not a configured provider")],
            )
        return provider

    async def verify(self, provider: OidcProvider, id_token: str, nonce: str) -> dict[str, Any]:
        """The token's claims once signature, issuer, audience, expiry and nonce hold."""
        token = await self._decode(provider, id_token)
        now = int(self._clock.now().timestamp())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(token.claims)
        except JoseError as error:
            raise _refused(error.description or error.error) from error
        if nonce and token.claims.get("nonce") != nonce:
            raise _refused("nonce mismatch")
        return dict(token.claims)

    async def _decode(self, provider: OidcProvider, id_token: str) -> jwt.Token:
        keys = await self._key_set(provider, refresh=False)
        try:
            return jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        except JoseError as error:
            stale = time.monotonic() - self._keys[provider.name].fetched_at > REFETCH_SECONDS
            if not stale:
                raise _refused(error.description or error.error) from error
        # Perhaps signed by a key the provider added since the last fetch.
        keys = await self._key_set(provider, refresh=True)
        try:
            return jwt.decode(id_token, keys, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as error:
            raise _refused(str(error)) from error

    async def _key_set(self, provider: OidcProvider, *, refresh: bool) -> KeySet:
        async with self._lock:
            cached = self._keys.get(provider.name)
            if cached is not None and not refresh:
                return cached.keys
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    discovery = (await client.get(provider.discovery_url)).raise_for_status()
                    document = discovery.json()
                    if document.get("issuer") != provider.issuer:
                        raise Unavailable(
                            f"provider {provider.name} announces another issuer",
                            reason="OIDC_DISCOVERY_MISMATCH",
                        )
                    response = (await client.get(document["jwks_uri"])).raise_for_status()
                    keys = KeySet.import_key_set(response.json())
            except (httpx.HTTPError, ValueError, KeyError) as error:
                raise Unavailable(
                    f"the keys of provider {provider.name} are unreachable",
                    reason="OIDC_PROVIDER_UNAVAILABLE",
                ) from error
            self._keys[provider.name] = _Keys(keys, time.monotonic())
            return keys
