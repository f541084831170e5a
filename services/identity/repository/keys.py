"""Every storage query of the token signing keys: container `signing_keys`, platform-wide in
`SYSTEM_PARTITION`, one document per rotation period (its private key sealed).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from services.identity._mapping import parse_time, time_text
from services.kit import DocumentExists, Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    SYSTEM_PARTITION,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Query,
)

SIGNING_KEYS = "signing_keys"

CONTAINERS = (ContainerSpec(SIGNING_KEYS, indexes=("/kind", "/notAfter")),)


@dataclass(frozen=True, slots=True)
class SealedKey:
    """A signing key of one rotation period, its private key encrypted (AES-GCM, the key id
    as associated data) under the identity master key."""

    period: int
    kid: str
    nonce: bytes
    sealed_pem: bytes
    not_before: datetime
    not_after: datetime


def _document(key: SealedKey) -> Document:
    return {
        "id": _period_id(key.period),
        "kind": "signing_key",
        "kid": key.kid,
        "nonce": base64.b64encode(key.nonce).decode(),
        "sealedPem": base64.b64encode(key.sealed_pem).decode(),
        "notBefore": time_text(key.not_before),
        "notAfter": time_text(key.not_after),
    }


def _sealed(document: Document) -> SealedKey:
    return SealedKey(
        period=int(str(document["id"]).removeprefix("period-")),
        kid=str(document["kid"]),
        nonce=base64.b64decode(document["nonce"]),
        sealed_pem=base64.b64decode(document["sealedPem"]),
        not_before=parse_time(document["notBefore"]),
        not_after=parse_time(document["notAfter"]),
    )


def _period_id(period: int) -> str:
    return f"period-{period}"


class KeyRepository(Repository):
    """Reads and creation of signing keys."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._keys = self.entities(SIGNING_KEYS)

    async def get_signing_key(self, period: int) -> SealedKey | None:
        document = await self._keys.get(SYSTEM_PARTITION, _period_id(period))
        return None if document is None else _sealed(document)

    async def create_signing_key(self, key: SealedKey) -> SealedKey:
        """Create the key of a rotation period; the winner's key if another replica created
        it first (its document id is fixed per period)."""
        try:
            return _sealed(await self._keys.container.create(SYSTEM_PARTITION, _document(key)))
        except DocumentExists:
            existing = await self.get_signing_key(key.period)
            assert existing is not None
            return existing

    async def signing_keys_valid_after(self, moment: datetime) -> list[SealedKey]:
        """Keys whose period ends after `moment`, newest first."""
        query = Query().where(F("kind") == "signing_key", F("notAfter") > time_text(moment))
        keys = [_sealed(d) for d in await self._keys.every(query, SYSTEM_PARTITION)]
        return sorted(keys, key=lambda key: key.not_before, reverse=True)
