"""Envelope encryption of secret versions.

Each version gets a fresh 256-bit data key; the value (its `SecretValue` bytes) is sealed
with AES-256-GCM under that key and a random 96-bit nonce, and the data key is wrapped by the
key ring's primary KEK. The associated data binds the organization, the secret id and the
version number, so a ciphertext copied to another secret, version or tenant fails to open,
and so does one with a single bit changed. Rewrapping (a KEK rotation) replaces the wrapped
data key only: the sealed value is untouched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.secret._keys import KeyRing, KeyServiceDown, KeyUnavailable, WrappedKey

NONCE_BYTES = 12
SCHEME = "aes-256-gcm/v1"


class SealBroken(Exception):
    """A sealed value did not open: tampered with, bound to another secret or version, or
    under a KEK the ring does not hold. (`KeyServiceDown`, the KEKs' home unreachable, is
    raised as itself: nothing is wrong with the value.)"""


@dataclass(frozen=True, slots=True)
class Sealed:
    """One version's value as stored: the ciphertext and its wrapped data key."""

    ciphertext: bytes
    nonce: bytes
    wrapped_key: WrappedKey
    scheme: str = SCHEME


def associated_data(organization_id: str, secret_id: str, version: int) -> bytes:
    """What a sealed value is bound to. Length-prefixed, so no two bindings share bytes."""
    parts = [SCHEME, organization_id, secret_id, str(version)]
    return b"".join(len(p.encode()).to_bytes(2, "big") + p.encode() for p in parts)


class Envelope:
    """Seals and opens values under a key ring."""

    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    @property
    def keys(self) -> KeyRing:
        return self._keys

    async def seal(self, plaintext: bytes, binding: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, binding)
        wrapped = await self._keys.wrap(data_key, binding)
        return Sealed(ciphertext, nonce, wrapped)

    async def open(self, sealed: Sealed, binding: bytes) -> bytes:
        if sealed.scheme != SCHEME:
            raise SealBroken(f"unknown sealing scheme {sealed.scheme!r}")
        try:
            data_key = await self._keys.unwrap(sealed.wrapped_key, binding)
        except KeyServiceDown:
            raise
        except KeyUnavailable as error:
            raise SealBroken(str(error)) from error
        try:
            return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, binding)
        except (InvalidTag, ValueError) as error:
            raise SealBroken("the sealed value failed its integrity check") from error

    async def rewrap(self, sealed: Sealed, binding: bytes) -> Sealed:
        """The same ciphertext with its data key wrapped under the primary KEK."""
        if sealed.wrapped_key.key_id == await self._keys.primary_key_id():
            return sealed
        try:
            data_key = await self._keys.unwrap(sealed.wrapped_key, binding)
        except KeyServiceDown:
            raise
        except KeyUnavailable as error:
            raise SealBroken(str(error)) from error
        wrapped = await self._keys.wrap(data_key, binding)
        return Sealed(sealed.ciphertext, sealed.nonce, wrapped, sealed.scheme)
