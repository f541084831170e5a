"""The Azure Key Vault key ring, through the real `azure-keyvault-keys` SDK against a local
HTTPS server speaking Key Vault's REST protocol: challenge authentication, the primary key
version looked up, data keys wrapped with RSA-OAEP-256 and unwrapped by the vault, a new key
version in the vault as a KEK rotation, and the service storing and reading through it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from coder.secret.v1 import secret_service_pb2 as api
from coder.secret.v1.secret_service_pb2_grpc import SecretServiceStub
from services.kit import Settings
from services.secret import SecretSettings, definition
from services.secret._envelope import Envelope, SealBroken, associated_data
from services.secret._keys import KeyRing, KeyUnavailable, KeyVaultKeyRing, WrappedKey
from services.secret._settings import open_key_ring
from tests.conftest import HostFactory
from tests.fixtures.log_scan import LogScan
from tests.fixtures.tokens import TokenFactory, auth
from tests.secret.conftest import domain_verifier
from tests.secret.factories import Secrets
from tests.secret.key_vault import LocalKeyVault, StaticCredential, local_key_vault


@pytest.fixture
async def vault(tmp_path: Path) -> AsyncIterator[LocalKeyVault]:
    async with local_key_vault(tmp_path) as running:
        yield running


def ring_of(vault: LocalKeyVault, credential: StaticCredential) -> KeyRing:
    settings = SecretSettings(
        key_vault_key_url=vault.key_url, key_vault_verify_challenge_resource=False
    )
    return open_key_ring(
        settings, Settings(), credential=credential, connection_verify=str(vault.ca_file)
    )


class TestKeyVaultRing:
    async def test_wrap_and_unwrap_through_the_vault(self, vault: LocalKeyVault) -> None:
        credential = StaticCredential()
        ring = ring_of(vault, credential)
        assert isinstance(ring, KeyVaultKeyRing)
        try:
            envelope = Envelope(ring)
            binding = associated_data("org-a", "s1", 1)
            sealed = await envelope.seal(b"the value", binding)
            assert sealed.wrapped_key.key_id == vault.kid(vault.order[0])
            assert await envelope.open(sealed, binding) == b"the value"
        finally:
            await ring.close()
        assert vault.unauthorized >= 1  # the challenge came first
        assert credential.scopes and all(s.endswith("/.default") for s in credential.scopes)
        assert f"POST unwrapkey {vault.order[0]}" in vault.calls

    async def test_a_new_key_version_rotates_and_old_versions_still_unwrap(
        self, vault: LocalKeyVault
    ) -> None:
        binding = associated_data("org-a", "s1", 1)
        first_ring = ring_of(vault, StaticCredential())
        try:
            old = await Envelope(first_ring).seal(b"old value", binding)
        finally:
            await first_ring.close()
        vault.rotate()
        ring = ring_of(vault, StaticCredential())
        try:
            envelope = Envelope(ring)
            assert await ring.primary_key_id() == vault.kid(vault.order[1])
            rewrapped = await envelope.rewrap(old, binding)
            assert rewrapped.wrapped_key.key_id == vault.kid(vault.order[1])
            assert rewrapped.ciphertext == old.ciphertext
            assert await envelope.open(rewrapped, binding) == b"old value"
            assert await envelope.open(old, binding) == b"old value"
        finally:
            await ring.close()

    async def test_a_wrapped_key_of_another_vault_or_altered_is_refused(
        self, vault: LocalKeyVault
    ) -> None:
        ring = ring_of(vault, StaticCredential())
        try:
            with pytest.raises(KeyUnavailable):
                await ring.unwrap(WrappedKey("https://elsewhere/keys/k/1", b"x"), b"")
            wrapped = await ring.wrap(os.urandom(32), b"")
            flipped = bytes([wrapped.wrapped[0] ^ 1]) + wrapped.wrapped[1:]
            altered = WrappedKey(wrapped.key_id, flipped)
            with pytest.raises(KeyUnavailable):
                await ring.unwrap(altered, b"")
            sealed = await Envelope(ring).seal(b"v", associated_data("o", "s", 1))
            with pytest.raises(SealBroken):
                await Envelope(ring).open(sealed, associated_data("o", "s", 2))
        finally:
            await ring.close()


class TestServiceOnKeyVault:
    async def test_secrets_are_stored_and_read_with_the_vaults_key(
        self,
        vault: LocalKeyVault,
        service_host: HostFactory,
        token: TokenFactory,
        tmp_path: Path,
        org: str,
        log_scan: LogScan,
    ) -> None:
        settings = SecretSettings(
            sweep_seconds=3600,
            key_vault_key_url=vault.key_url,
            key_vault_verify_challenge_resource=False,
        )
        service = definition(
            settings, credential=StaticCredential(), connection_verify=str(vault.ca_file)
        )
        kit = Settings(
            data_dir=tmp_path,
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
            bus_url="memory://",
            cache_url="memory://",
        )
        async with service_host([service], settings=kit, verifier=domain_verifier(token)) as host:
            stub = SecretServiceStub(host.channel)
            member = Secrets(stub, auth(token(org=org, sub="user-a")), log_scan)
            secret, value = await member.create()
            assert (await member.value(secret.id)).value == value
            admin = auth(token(org=org, sub="admin-1", roles=("admin",)))
            status = await stub.GetKeyStatus(api.GetKeyStatusRequest(), metadata=admin)
            assert (status.provider, status.primary_key_id) == (
                "azure-key-vault",
                vault.kid(vault.order[0]),
            )

    async def test_an_unreachable_vault_fails_the_write_cleanly(
        self,
        service_host: HostFactory,
        token: TokenFactory,
        tmp_path: Path,
        org: str,
        log_scan: LogScan,
    ) -> None:
        settings = SecretSettings(
            sweep_seconds=3600,
            key_vault_key_url="https://localhost:9/keys/missing",
            key_vault_verify_challenge_resource=False,
        )
        service = definition(settings, credential=StaticCredential(), retry_total=0)
        kit = Settings(
            data_dir=tmp_path,
            store_url=f"sqlite:///{tmp_path / 'store.db'}",
            bus_url="memory://",
            cache_url="memory://",
        )
        async with service_host([service], settings=kit, verifier=domain_verifier(token)) as host:
            member = Secrets(
                SecretServiceStub(host.channel), auth(token(org=org, sub="user-a")), log_scan
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await member.create()
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
