"""Settings of the secret service, read from `CODER_SECRET_*` environment variables, and the
key ring they describe.

They live here rather than in the kit's Settings because only this service reads them.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit import Settings
from services.secret._keys import (
    KEK_BYTES,
    KeyRing,
    KeyVaultKeyRing,
    LocalKeyRing,
    decode_key,
)

MASTER_KEY_FILE = "secrets-master.key"


class SecretSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_SECRET_", env_file=".env", extra="ignore")

    master_key: str = Field(
        "",
        description="Base64 of 32 bytes: the primary key-encryption key. Required in "
        "distributed mode without Key Vault; embedded mode keeps one under <data_dir>/keys.",
    )
    previous_master_keys: str = Field(
        "",
        description="Comma-separated base64 keys that no longer wrap new data keys but still "
        "unwrap old ones, until a rewrap has moved every version to the primary key.",
    )
    key_vault_key_url: str = Field(
        "",
        description="URL of an RSA key in Azure Key Vault (https://<vault>.vault.azure.net/keys/"
        "<name>[/<version>]); when set, it is the key-encryption key instead of a local one.",
    )
    key_vault_verify_challenge_resource: bool = Field(
        True,
        description="Check that Key Vault's authentication challenge names the vault's domain "
        "(off only for a vault reached under another name).",
    )
    versions_kept: int = Field(10, ge=1, le=100, description="Versions kept per secret.")
    restore_days: float = Field(30.0, gt=0, description="How long a deleted secret is kept.")
    sweep_seconds: float = Field(
        60.0, gt=0, description="How often the sweep of due reminders, purges and rewraps runs."
    )
    sweep_rewrap: bool = Field(
        True,
        description="Whether the sweep also rewraps data keys still under a previous KEK, so a "
        "rotation finishes without a RewrapSecrets call.",
    )
    sweep_batch: int = Field(100, ge=1, le=1000, description="Secrets handled per sweep pass.")


def local_key_ring(settings: SecretSettings, kit: Settings) -> LocalKeyRing:
    """The configured local keys, or in embedded mode (a SQLite store) the key under
    `<data_dir>/keys/secrets-master.key`, created with mode 0600 on first use."""
    previous = [
        decode_key(text, "CODER_SECRET_PREVIOUS_MASTER_KEYS")
        for text in settings.previous_master_keys.split(",")
        if text.strip()
    ]
    if settings.master_key:
        return LocalKeyRing([decode_key(settings.master_key, "CODER_SECRET_MASTER_KEY"), *previous])
    if not kit.resolved_store_url().startswith("sqlite:"):
        raise ValueError(
            "CODER_SECRET_MASTER_KEY (or a Key Vault key) is required with a shared store"
        )
    return LocalKeyRing([_embedded_key(Path(kit.data_dir) / "keys" / MASTER_KEY_FILE), *previous])


def _embedded_key(path: Path) -> bytes:
    if path.exists():
        return decode_key(path.read_text(), str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(KEK_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key(path.read_text(), str(path))
    with os.fdopen(descriptor, "w") as handle:
        handle.write(base64.b64encode(key).decode())
    return key


def open_key_ring(
    settings: SecretSettings, kit: Settings, *, credential: Any = None, **client_options: Any
) -> KeyRing:
    """The key ring the settings describe: Key Vault when a key URL is set (with
    `DefaultAzureCredential` unless a credential is given; the key is looked up on first use),
    else local keys."""
    if not settings.key_vault_key_url:
        return local_key_ring(settings, kit)
    if credential is None:
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
    options = {
        "verify_challenge_resource": settings.key_vault_verify_challenge_resource,
        **client_options,
    }
    return KeyVaultKeyRing(settings.key_vault_key_url, credential, client_options=options)
