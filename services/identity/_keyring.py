"""The ring of access-token signing keys: one ES256 key per rotation period, stored encrypted.

A key's document id is fixed by its period (`period-<n>`), so replicas that rotate at the
same moment race on one create and all adopt the winner: there is never a second active key.
The private key is stored as PEM sealed with AES-GCM under the master key (the kid as
associated data, so a sealed key cannot be swapped onto another kid). A key stays in the JWKS
until the end of its period plus one access-token lifetime, when every token it signed has
expired.
"""

from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.identity._mapping import time_text
from services.identity.repository import IdentityRepository
from services.kit import Clock, SigningKey
from services.kit.store import Document

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
        repository: IdentityRepository,
        clock: Clock,
        master_key: bytes,
        *,
        rotation_seconds: float,
        token_seconds: int,
    ) -> None:
        self._repository = repository
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
        document_id = f"period-{period}"
        document = await self._repository.get_signing_key(document_id)
        if document is None:
            document = await self._repository.create_signing_key(self._seal(period))
        key = self._open(document)
        self._active = ActiveKey(key, period)
        return key

    async def jwks(self) -> dict[str, Any]:
        """The public keys of every key whose tokens may still be valid."""
        await self.active()
        oldest_useful_end = self._clock.now() - timedelta(seconds=self._token_seconds)
        documents = await self._repository.signing_keys_valid_after(time_text(oldest_useful_end))
        documents.sort(key=lambda d: str(d["notBefore"]), reverse=True)
        return {"keys": [self._open(document).public_jwk() for document in documents]}

    def _seal(self, period: int) -> Document:
        key = SigningKey.generate()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, key.private_pem(), key.kid.encode())
        not_before, not_after = self._bounds(period)
        return {
            "id": f"period-{period}",
            "kind": "signing_key",
            "kid": key.kid,
            "nonce": base64.b64encode(nonce).decode(),
            "sealedPem": base64.b64encode(sealed).decode(),
            "notBefore": time_text(not_before),
            "notAfter": time_text(not_after),
        }

    def _open(self, document: Document) -> SigningKey:
        cached = self._opened.get(document["kid"])
        if cached is not None:
            return cached
        pem = self._aead.decrypt(
            base64.b64decode(document["nonce"]),
            base64.b64decode(document["sealedPem"]),
            str(document["kid"]).encode(),
        )
        key = SigningKey.from_pem(document["kid"], pem)
        self._opened[key.kid] = key
        return key
