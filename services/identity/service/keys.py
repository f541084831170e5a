"""The ring of access-token signing keys: one ES256 key per rotation period, stored encrypted.

A key's document id is fixed by its period (`period-<n>`), so replicas that rotate at the
same moment race on one create and all adopt the winner: there is never a second active key.
The private key is stored as PEM sealed with AES-GCM under the master key (the kid as
associated data, so a sealed key cannot be swapped onto another kid). A key stays in the JWKS
until the end of its period plus one access-token lifetime, when every token it signed has
expired.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.identity.repository import IdentityRepositories
from services.identity.repository.keys import SealedKey
from services.kit import Clock, SigningKey

_NONCE_BYTES = 12


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The key that signs now, and the end of its period."""

    key: SigningKey
    period: int


class KeyRing:
    """Signing keys for access tokens, rotated every `rotation_seconds`."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        clock: Clock,
        master_key: bytes,
        *,
        rotation_seconds: float,
        token_seconds: int,
    ) -> None:
        self._repos = repositories
        self._clock = clock
        self._aead = AESGCM(master_key)
        self._rotation = rotation_seconds
        self._token_seconds = token_seconds
        self._active: ActiveKey | None = None
        self._opened: dict[str, SigningKey] = {}

    def _period(self, moment: datetime) -> int:
        return math.floor(moment.timestamp() / self._rotation)

    def _bounds(self, period: int) -> tuple[datetime, datetime]:
        start = datetime.fromtimestamp(period * self._rotation, UTC)
        return start, start + timedelta(seconds=self._rotation)

    async def active(self) -> SigningKey:
        """The key of the current period, created on first use in the period."""
        period = self._period(self._clock.now())
        if self._active is not None and self._active.period == period:
            return self._active.key
        sealed = await self._repos.keys.get_signing_key(period)
        if sealed is None:
            sealed = await self._repos.keys.create_signing_key(self._seal(period))
        key = self._open(sealed)
        self._active = ActiveKey(key, period)
        return key

    async def jwks(self) -> dict[str, Any]:
        """The public keys of every key whose tokens may still be valid."""
        await self.active()
        oldest_useful_end = self._clock.now() - timedelta(seconds=self._token_seconds)
        sealed = await self._repos.keys.signing_keys_valid_after(oldest_useful_end)
        return {"keys": [self._open(key).public_jwk() for key in sealed]}

    def _seal(self, period: int) -> SealedKey:
        key = SigningKey.generate()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, key.private_pem(), key.kid.encode())
        not_before, not_after = self._bounds(period)
        return SealedKey(period, key.kid, nonce, sealed, not_before, not_after)

    def _open(self, sealed: SealedKey) -> SigningKey:
        cached = self._opened.get(sealed.kid)
        if cached is not None:
            return cached
        pem = self._aead.decrypt(sealed.nonce, sealed.sealed_pem, sealed.kid.encode())
        key = SigningKey.from_pem(sealed.kid, pem)
        self._opened[key.kid] = key
        return key
