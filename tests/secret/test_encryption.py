"""Envelope encryption: what the store holds is ciphertext only; a changed byte, or a sealed
value moved to another secret, version or organization, does not open; a KEK rotation
(new primary, old key kept for unwrapping, rewrap) keeps every version readable and leaves
no version under the old key, after which the old key can go."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from coder.secret.v1 import secret_pb2 as S
from coder.secret.v1 import secret_service_pb2 as api
from coder.secret.v1.secret_service_pb2_grpc import SecretServiceStub
from services.kit import Resources, Settings
from services.kit.store import Query
from services.secret import SecretSettings, definition
from services.secret._envelope import Envelope, SealBroken, associated_data
from services.secret._keys import LocalKeyRing, local_key_id
from services.secret.repository.secrets import SECRETS
from tests.conftest import HostFactory
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.log_scan import LogScan
from tests.fixtures.tokens import TokenFactory, auth
from tests.secret.conftest import domain_verifier
from tests.secret.factories import Secrets, value_of


async def stored_documents(resources: Resources, organization_id: str) -> list[dict[str, Any]]:
    container = resources.store.container(SECRETS)
    page = await container.query(Query().limit(1000), partition=organization_id)
    return page.items


class TestAtRest:
    async def test_the_store_never_holds_the_value_in_any_form(
        self, member: Secrets, resources: Resources, org: str
    ) -> None:
        secret, value = await member.create(secret_type=S.SECRET_TYPE_USERNAME_PASSWORD)
        await member.add_version(secret.id, value_of(S.SECRET_TYPE_USERNAME_PASSWORD))
        password = value.username_password.password
        forms = [
            password.encode(),
            base64.b64encode(password.encode()),
            value.SerializeToString(),
        ]
        documents = await stored_documents(resources, org)
        assert len([d for d in documents if d.get("kind") == "version"]) == 2
        raw = json.dumps(documents).encode()
        for form in forms:
            assert form not in raw

    async def test_two_versions_of_one_value_share_no_ciphertext_or_data_key(
        self, member: Secrets, resources: Resources, org: str
    ) -> None:
        secret, value = await member.create()
        await member.add_version(secret.id, value)
        versions = [d for d in await stored_documents(resources, org) if d.get("kind") == "version"]
        assert len({d["ciphertext"] for d in versions}) == 2
        assert len({d["wrappedKey"] for d in versions}) == 2
        assert len({d["nonce"] for d in versions}) == 2


def _flip(text: str, at: int = 0) -> str:
    data = bytearray(base64.b64decode(text))
    data[at] ^= 0x01
    return base64.b64encode(bytes(data)).decode()


class TestTampering:
    @pytest.mark.parametrize("field", ["ciphertext", "nonce", "wrappedKey"])
    async def test_a_changed_byte_fails_to_decrypt(
        self, member: Secrets, resources: Resources, org: str, field: str
    ) -> None:
        secret, _ = await member.create()
        container = resources.store.container(SECRETS)
        document = await container.get(org, f"{secret.id}-v1")
        assert document is not None
        document[field] = _flip(document[field], at=len(base64.b64decode(document[field])) // 2)
        await container.replace(org, document)
        error = await rpc_error(member.value(secret.id), grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "SEAL_BROKEN"

    async def test_a_version_copied_under_another_secret_fails(
        self, member: Secrets, resources: Resources, org: str
    ) -> None:
        source, _ = await member.create()
        target, _ = await member.create()
        container = resources.store.container(SECRETS)
        copied = await container.get(org, f"{source.id}-v1")
        assert copied is not None
        target_version = await container.get(org, f"{target.id}-v1")
        assert target_version is not None
        for field in ("ciphertext", "nonce", "wrappedKey", "keyId"):
            target_version[field] = copied[field]
        await container.replace(org, target_version)
        error = await rpc_error(member.value(target.id), grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "SEAL_BROKEN"

    async def test_an_older_version_replayed_as_the_newer_fails(
        self, member: Secrets, resources: Resources, org: str
    ) -> None:
        secret, _ = await member.create()
        await member.add_version(secret.id, value_of(S.SECRET_TYPE_API_KEY))
        container = resources.store.container(SECRETS)
        first = await container.get(org, f"{secret.id}-v1")
        second = await container.get(org, f"{secret.id}-v2")
        assert first is not None and second is not None
        for field in ("ciphertext", "nonce", "wrappedKey", "keyId"):
            second[field] = first[field]
        await container.replace(org, second)
        error = await rpc_error(member.value(secret.id), grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "SEAL_BROKEN"
        assert (await member.value(secret.id, version=1)).version == 1


class TestEnvelope:
    async def test_wrong_associated_data_fails_for_organization_secret_and_version(self) -> None:
        envelope = Envelope(LocalKeyRing([os.urandom(32)]))
        binding = associated_data("org-a", "secret-1", 3)
        sealed = await envelope.seal(b"payload", binding)
        assert await envelope.open(sealed, binding) == b"payload"
        for wrong in (
            associated_data("org-b", "secret-1", 3),
            associated_data("org-a", "secret-2", 3),
            associated_data("org-a", "secret-1", 4),
        ):
            with pytest.raises(SealBroken):
                await envelope.open(sealed, wrong)

    async def test_a_ring_without_the_key_cannot_open(self) -> None:
        binding = associated_data("org-a", "s", 1)
        sealed = await Envelope(LocalKeyRing([os.urandom(32)])).seal(b"x", binding)
        with pytest.raises(SealBroken):
            await Envelope(LocalKeyRing([os.urandom(32)])).open(sealed, binding)

    async def test_a_rewrap_keeps_the_ciphertext_and_moves_the_key(self) -> None:
        old, new = os.urandom(32), os.urandom(32)
        binding = associated_data("org-a", "s", 1)
        sealed = await Envelope(LocalKeyRing([old])).seal(b"x", binding)
        rotated = Envelope(LocalKeyRing([new, old]))
        rewrapped = await rotated.rewrap(sealed, binding)
        assert rewrapped.ciphertext == sealed.ciphertext
        assert rewrapped.wrapped_key.key_id == local_key_id(new) != sealed.wrapped_key.key_id
        assert await Envelope(LocalKeyRing([new])).open(rewrapped, binding) == b"x"


@pytest.fixture
def store_directory(tmp_path: Path) -> Path:
    return tmp_path


class TestKeyRotation:
    async def _host(
        self,
        service_host: HostFactory,
        token: TokenFactory,
        directory: Path,
        keys: list[bytes],
    ) -> AsyncIterator[SecretServiceStub]:
        settings = Settings(
            data_dir=directory,
            store_url=f"sqlite:///{directory / 'store.db'}",
            bus_url="memory://",
            cache_url="memory://",
        )
        # The sweep's own rewrap is off: these tests take the rotation's steps by hand.
        service = definition(
            SecretSettings(sweep_seconds=3600, sweep_rewrap=False), key_ring=LocalKeyRing(keys)
        )
        async with service_host(
            [service], settings=settings, verifier=domain_verifier(token)
        ) as host:
            yield SecretServiceStub(host.channel)

    async def test_every_version_stays_readable_through_a_rotation(
        self,
        service_host: HostFactory,
        token: TokenFactory,
        tmp_path: Path,
        org: str,
        log_scan: LogScan,
    ) -> None:
        old, new = os.urandom(32), os.urandom(32)
        member = auth(token(org=org, sub="user-a"))
        admin = auth(token(org=org, sub="admin-1", roles=("admin",)))
        written: dict[tuple[str, int], S.SecretValue] = {}

        async for stub in self._host(service_host, token, tmp_path, [old]):
            caller = Secrets(stub, member, log_scan)
            for _ in range(3):
                secret, value = await caller.create()
                written[(secret.id, 1)] = value
                for number in (2, 3):
                    fresh = value_of(S.SECRET_TYPE_API_KEY)
                    await caller.add_version(secret.id, fresh)
                    written[(secret.id, number)] = fresh

        # Step 1: the new key is primary, the old one still unwraps.
        async for stub in self._host(service_host, token, tmp_path, [new, old]):
            caller = Secrets(stub, member, log_scan)
            status = await stub.GetKeyStatus(api.GetKeyStatusRequest(), metadata=admin)
            assert status.primary_key_id == local_key_id(new)
            assert {(k.key_id, k.version_count) for k in status.keys} == {
                (local_key_id(new), 0),
                (local_key_id(old), 9),
            }
            for (secret_id, number), value in written.items():
                assert (await caller.value(secret_id, number)).value == value
            # A version written now is under the new key already.
            secret, value = await caller.create()
            written[(secret.id, 1)] = value
            # Step 2: rewrap every data key under the new key.
            rewrapped = await stub.RewrapSecrets(api.RewrapSecretsRequest(), metadata=admin)
            assert rewrapped.rewrapped_count == 9
            assert {(k.key_id, k.version_count) for k in rewrapped.keys} == {
                (local_key_id(new), 10)
            }
            again = await stub.RewrapSecrets(api.RewrapSecretsRequest(), metadata=admin)
            assert again.rewrapped_count == 0

        # Step 3: the old key is gone; every version still reads.
        async for stub in self._host(service_host, token, tmp_path, [new]):
            caller = Secrets(stub, member, log_scan)
            for (secret_id, number), value in written.items():
                assert (await caller.value(secret_id, number)).value == value

    async def test_without_the_rewrap_dropping_the_old_key_loses_the_versions(
        self,
        service_host: HostFactory,
        token: TokenFactory,
        tmp_path: Path,
        org: str,
        log_scan: LogScan,
    ) -> None:
        old, new = os.urandom(32), os.urandom(32)
        member = auth(token(org=org, sub="user-a"))
        async for stub in self._host(service_host, token, tmp_path, [old]):
            secret, _ = await Secrets(stub, member, log_scan).create()
        async for stub in self._host(service_host, token, tmp_path, [new]):
            error = await rpc_error(
                Secrets(stub, member, log_scan).value(secret.id),
                grpc.StatusCode.FAILED_PRECONDITION,
            )
            assert error_reason(error) == "SEAL_BROKEN"

    async def test_rewrap_and_key_status_are_for_administrators(self, member: Secrets) -> None:
        await rpc_error(
            member.stub.RewrapSecrets(api.RewrapSecretsRequest(), metadata=member.metadata),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        await rpc_error(
            member.stub.GetKeyStatus(api.GetKeyStatusRequest(), metadata=member.metadata),
            grpc.StatusCode.PERMISSION_DENIED,
        )


class TestEmbeddedKey:
    async def test_embedded_mode_creates_one_key_file_and_reuses_it(self, tmp_path: Path) -> None:
        from services.secret._settings import MASTER_KEY_FILE, local_key_ring

        kit = Settings(data_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 'db'}")
        first = local_key_ring(SecretSettings(), kit)
        path = tmp_path / "keys" / MASTER_KEY_FILE
        assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
        assert local_key_ring(SecretSettings(), kit).holds(await first.primary_key_id())

    def test_a_shared_store_without_a_master_key_refuses_to_start(self, tmp_path: Path) -> None:
        from services.secret._settings import local_key_ring

        kit = Settings(data_dir=tmp_path, store_url="cosmos://localhost:8081")
        with pytest.raises(ValueError, match="CODER_SECRET_MASTER_KEY"):
            local_key_ring(SecretSettings(), kit)

    def test_the_configured_key_and_the_previous_ones(self) -> None:
        from services.secret._settings import local_key_ring

        new, old = os.urandom(32), os.urandom(32)
        settings = SecretSettings(
            master_key=base64.b64encode(new).decode(),
            previous_master_keys=base64.b64encode(old).decode(),
        )
        ring = local_key_ring(settings, Settings())
        assert ring.holds(local_key_id(new)) and ring.holds(local_key_id(old))

    def test_a_key_of_the_wrong_size_is_refused(self) -> None:
        from services.secret._settings import local_key_ring

        settings = SecretSettings(master_key=base64.b64encode(b"short").decode())
        with pytest.raises(ValueError, match="32 bytes"):
            local_key_ring(settings, Settings())
