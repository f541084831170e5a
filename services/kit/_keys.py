"""Signing keys for access tokens (ES256), their JWKS, and token minting.

The identity service's key ring issues tokens with these; tests mint their own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.kit._ids import new_id

ISSUED_MS_CLAIM = "iat_ms"
"""The claim holding a token's issue time in epoch milliseconds (`iat` has whole seconds)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One ES256 key pair with its key id."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or new_id().lower(), ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "ES256", "use": "sig"})
        return jwk

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def private_jwk(self) -> dict[str, Any]:
        """The key pair as a private JWK (with `d`), for a service's `CODER_SERVICE_KEY`."""
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private_key))
        jwk.update({"kid": self.kid, "alg": "ES256"})
        return jwk

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> SigningKey:
        """A key pair from a private EC P-256 JWK with a `kid`; ValueError otherwise."""
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or "d" not in jwk:
            raise ValueError("a private JWK with a kid is required")
        key = ECAlgorithm.from_jwk(json.dumps(dict(jwk)))
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the service key must be an EC P-256 private key")
        return cls(kid, key)

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("signing key must be an EC P-256 key")
        return cls(kid, key)

    def mint(
        self,
        *,
        subject: str,
        organization_id: str,
        issuer: str,
        audience: str,
        roles: Iterable[str] = (),
        permissions: Iterable[str] = (),
        session_id: str = "",
        kind: str = "user",
        lifetime_seconds: float = 900,
        extra: Mapping[str, Any] | None = None,
        now: float | None = None,
    ) -> str:
        """A signed access token; `now` (epoch seconds) lets a service use its own clock.

        Besides the whole seconds of `iat`, the token carries its issue time in milliseconds
        (`ISSUED_MS_CLAIM`): a revocation refuses the tokens issued before it, and a token
        issued in the same second just after it must still pass."""
        issued = time.time() if now is None else now
        seconds = int(issued)
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "org": organization_id,
            "roles": list(roles),
            "perms": list(permissions),
            "kind": kind,
            "iat": seconds,
            "nbf": seconds,
            "exp": seconds + int(lifetime_seconds),
            ISSUED_MS_CLAIM: int(issued * 1000),
            "jti": new_id(),
        }
        if session_id:
            claims["sid"] = session_id
        claims.update(extra or {})
        return jwt.encode(claims, self.private_key, algorithm="ES256", headers={"kid": self.kid})


def jwks(keys: Iterable[SigningKey]) -> dict[str, Any]:
    """The public JWKS document of the given keys."""
    return {"keys": [key.public_jwk() for key in keys]}
