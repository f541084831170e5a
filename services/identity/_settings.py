"""Settings of the identity service, read from `CODER_IDENTITY_*` environment variables.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit import Settings

MASTER_KEY_BYTES = 32


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_IDENTITY_", env_file=".env", extra="ignore")

    master_key: str = Field(
        "",
        description="Base64 of 32 bytes: the AES-GCM key that encrypts the signing keys at rest. "
        "Required in distributed mode; embedded mode keeps one under <data_dir>/keys.",
    )
    key_rotation_days: float = Field(30.0, gt=0, description="A new signing key every N days.")
    access_token_seconds: int = Field(900, gt=0, description="Access-token lifetime.")
    refresh_token_days: float = Field(30.0, gt=0, description="Idle lifetime of a session.")
    max_sessions: int = Field(10, ge=1, description="Sessions per user; the oldest is evicted.")
    lockout_attempts: int = Field(5, ge=1, description="Failed logins before a lockout.")
    lockout_minutes: float = Field(30.0, gt=0, description="How long a lockout lasts.")
    password_min_length: int = Field(12, ge=8, description="Shortest password accepted.")
    password_history: int = Field(5, ge=0, description="Recent passwords that may not return.")
    argon2_time_cost: int = Field(3, ge=1, description="argon2id iterations.")
    argon2_memory_kib: int = Field(65_536, ge=8, description="argon2id memory, KiB.")
    argon2_parallelism: int = Field(4, ge=1, description="argon2id lanes.")
    invitation_days: float = Field(7.0, gt=0, description="How long an invitation token works.")
    invitation_max_resends: int = Field(5, ge=0, description="Resends allowed per invitation.")
    service_keys: str = Field(
        "",
        description="Public keys of the platform services allowed to exchange tokens, JSON: "
        '{"knowledge": [{"kty": "EC", "crv": "P-256", "x": …, "y": …, "kid": …}]}.',
    )
    oidc_providers: str = Field(
        "",
        description='OpenID Connect providers, JSON: {"google": {"issuer": '
        '"https://accounts.google.com", "client_id": "…"}}; optional "discovery_url".',
    )


@dataclass(frozen=True, slots=True)
class OidcProvider:
    """One OpenID Connect provider whose ID tokens LoginExternal accepts."""

    name: str
    issuer: str
    client_id: str
    discovery_url: str


def oidc_providers(settings: IdentitySettings) -> dict[str, OidcProvider]:
    """The configured providers by name; ValueError when the JSON is malformed."""
    if not settings.oidc_providers:
        return {}
    try:
        raw = json.loads(settings.oidc_providers)
        return {
            name: OidcProvider(
                name=name,
                issuer=str(entry["issuer"]),
                client_id=str(entry["client_id"]),
                discovery_url=str(
                    entry.get("discovery_url")
                    or str(entry["issuer"]).rstrip("/") + "/.well-known/openid-configuration"
                ),
            )
            for name, entry in raw.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"CODER_IDENTITY_OIDC_PROVIDERS is malformed: {error}") from error


def master_key(settings: IdentitySettings, kit: Settings) -> bytes:
    """The key-encryption key: from the settings, or in embedded mode (a SQLite store) from
    `<data_dir>/keys/identity-master.key`, created with mode 0600 on first use."""
    if settings.master_key:
        try:
            key = base64.b64decode(settings.master_key, validate=True)
        except binascii.Error as error:
            raise ValueError("CODER_IDENTITY_MASTER_KEY is not base64") from error
        if len(key) != MASTER_KEY_BYTES:
            raise ValueError("CODER_IDENTITY_MASTER_KEY must decode to 32 bytes")
        return key
    if not kit.resolved_store_url().startswith("sqlite:"):
        raise ValueError("CODER_IDENTITY_MASTER_KEY is required with a shared store")
    path = Path(kit.data_dir) / "keys" / "identity-master.key"
    if path.exists():
        return base64.b64decode(path.read_text().strip(), validate=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(MASTER_KEY_BYTES)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    return key
