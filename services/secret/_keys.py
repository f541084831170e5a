"""Key-encryption keys (KEKs): the keys that wrap each version's data key.

A `KeyRing` wraps a fresh data key under its primary key and unwraps one under any key it
still holds, by the key id stored beside the wrapped key. Rotating the KEK is: make a new key
primary, keep the old one for unwrapping, rewrap every stored data key (`RewrapSecrets`, or
the sweep), and drop the old key once no version names it (`GetKeyStatus`). Values are never
decrypted or re-encrypted for a rotation.

Two rings:
- `LocalKeyRing`: AES-256-GCM keys held by the process (`CODER_SECRET_MASTER_KEY`, older ones
  in `CODER_SECRET_PREVIOUS_MASTER_KEYS`; embedded mode keeps one under `<data_dir>/keys`).
  The wrap binds the same associated data as the value, so a data key moved to another
  secret or version does not unwrap.
- `KeyVaultKeyRing`: an RSA key in Azure Key Vault, through `azure-keyvault-keys`'
  CryptographyClient (RSA-OAEP-256 wrapKey / unwrapKey). The key id is the key version's URL,
  so a new key version in the vault is a rotation; the private key never leaves the vault.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEK_BYTES = 32
NONCE_BYTES = 12


class KeyUnavailable(Exception):
    """A wrapped data key names a key the ring does not hold, or the key refused to unwrap it
    (tampered, or bound to other associated data)."""


class KeyServiceDown(KeyUnavailable):
    """The place the KEKs live could not be reached or failed (not a refusal): try again."""


def _vault_failure(error: Exception, what: str) -> KeyUnavailable:
    """A refusal by the vault (a 4xx: bad ciphertext, unknown or disabled key) or an outage."""
    status = getattr(error, "status_code", None)
    kind = KeyUnavailable if status is not None and 400 <= status < 500 else KeyServiceDown
    return kind(f"Key Vault {what}: {type(error).__name__} {status or ''}".rstrip())


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key wrapped under one KEK."""

    key_id: str
    wrapped: bytes


class KeyRing(Protocol):
    """Wraps data keys under the primary KEK and unwraps them under any KEK it holds."""

    @property
    def provider(self) -> str:
        """Where the KEKs live: `local` or `azure-key-vault`."""
        ...

    async def primary_key_id(self) -> str:
        """Id of the key new data keys are wrapped under."""
        ...

    async def wrap(self, data_key: bytes, associated_data: bytes) -> WrappedKey: ...

    async def unwrap(self, wrapped: WrappedKey, associated_data: bytes) -> bytes: ...

    def holds(self, key_id: str) -> bool:
        """Whether the ring can unwrap under `key_id`."""
        ...

    async def close(self) -> None: ...


def local_key_id(key: bytes) -> str:
    """The id of a local KEK: a digest of the key, so the same key always has the same id and
    an id reveals nothing of the key."""
    return "local-" + hashlib.sha256(b"coder.secret.kek\x00" + key).hexdigest()[:24]


class LocalKeyRing:
    """AES-256-GCM KEKs held by this process; the first is primary."""

    provider = "local"

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        for key in keys:
            if len(key) != KEK_BYTES:
                raise ValueError(f"a key-encryption key is {KEK_BYTES} bytes")
        self._keys = {local_key_id(key): AESGCM(key) for key in keys}
        self._primary = local_key_id(keys[0])

    async def primary_key_id(self) -> str:
        return self._primary

    def holds(self, key_id: str) -> bool:
        return key_id in self._keys

    async def wrap(self, data_key: bytes, associated_data: bytes) -> WrappedKey:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self._primary].encrypt(nonce, data_key, associated_data)
        return WrappedKey(self._primary, nonce + sealed)

    async def unwrap(self, wrapped: WrappedKey, associated_data: bytes) -> bytes:
        key = self._keys.get(wrapped.key_id)
        if key is None:
            raise KeyUnavailable(f"no key-encryption key {wrapped.key_id} in this ring")
        nonce, sealed = wrapped.wrapped[:NONCE_BYTES], wrapped.wrapped[NONCE_BYTES:]
        try:
            return key.decrypt(nonce, sealed, associated_data)
        except InvalidTag as error:
            raise KeyUnavailable(f"key {wrapped.key_id} refused the wrapped data key") from error

    async def close(self) -> None:
        return None


def decode_key(text: str, setting: str) -> bytes:
    """A KEK from its base64 text; ValueError naming the setting when it is not 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as error:
        raise ValueError(f"{setting} is not base64") from error
    if len(key) != KEK_BYTES:
        raise ValueError(f"{setting} must decode to {KEK_BYTES} bytes")
    return key


# --- Azure Key Vault -----------------------------------------------------------------------------

WRAP_ALGORITHM = "RSA-OAEP-256"


class KeyVaultKeyRing:
    """KEKs in Azure Key Vault: wrap under the configured key (its newest version, or the
    version the URL names), unwrap under whichever version wrapped the data key.

    RSA-OAEP has no associated data; the value's AES-GCM encryption binds it (organization,
    secret, version), so a data key swapped between versions still fails there.
    """

    provider = "azure-key-vault"

    def __init__(
        self,
        key_url: str,
        credential: Any,
        *,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._key_url = key_url.rstrip("/")
        self._credential = credential
        self._options = dict(client_options or {})
        self._clients: dict[str, Any] = {}
        self._primary = ""
        self._opening = asyncio.Lock()
        from azure.keyvault.keys import KeyVaultKeyIdentifier

        identifier = KeyVaultKeyIdentifier(self._key_url)
        self._vault_url = identifier.vault_url.rstrip("/")
        self._key_name = identifier.name
        self._key_version = identifier.version

    async def open(self) -> KeyVaultKeyRing:
        """Resolve the primary key version: the one the URL names, else the key's newest."""
        from azure.core.exceptions import AzureError
        from azure.keyvault.keys.aio import KeyClient

        client = KeyClient(self._vault_url, self._credential, **self._options)
        try:
            key = await client.get_key(self._key_name, self._key_version)
        except AzureError as error:
            raise _vault_failure(error, f"key {self._key_url} is not readable") from error
        finally:
            await client.close()
        self._primary = str(key.id)
        return self

    async def primary_key_id(self) -> str:
        if not self._primary:
            async with self._opening:
                if not self._primary:
                    await self.open()
        return self._primary

    def holds(self, key_id: str) -> bool:
        # Every version of the configured key unwraps, until it is disabled in the vault.
        return key_id.startswith(f"{self._vault_url}/keys/{self._key_name}/")

    def _client(self, key_id: str) -> Any:
        client = self._clients.get(key_id)
        if client is None:
            from azure.keyvault.keys.crypto.aio import CryptographyClient

            client = CryptographyClient(key_id, self._credential, **self._options)
            self._clients[key_id] = client
        return client

    async def wrap(self, data_key: bytes, associated_data: bytes) -> WrappedKey:
        from azure.core.exceptions import AzureError
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        try:
            primary = await self.primary_key_id()
            result = await self._client(primary).wrap_key(KeyWrapAlgorithm.rsa_oaep_256, data_key)
        except AzureError as error:
            raise _vault_failure(error, "did not wrap") from error
        return WrappedKey(str(result.key_id or primary), bytes(result.encrypted_key))

    async def unwrap(self, wrapped: WrappedKey, associated_data: bytes) -> bytes:
        from azure.core.exceptions import AzureError
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        if not self.holds(wrapped.key_id):
            raise KeyUnavailable(f"no key-encryption key {wrapped.key_id} in this ring")
        try:
            result = await self._client(wrapped.key_id).unwrap_key(
                KeyWrapAlgorithm.rsa_oaep_256, wrapped.wrapped
            )
        except AzureError as error:
            raise _vault_failure(error, f"did not unwrap under {wrapped.key_id}") from error
        return bytes(result.key)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
