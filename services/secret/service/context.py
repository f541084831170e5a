"""What every part of the secret service shares: its repositories, the envelope, the access
rules, the clock and settings, and the steps they all take (load a secret, seal and open a
version)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coder.secret.v1 import secret_pb2
from services.kit import Clock, FailedPrecondition, Principal, Unavailable, get_logger
from services.secret._envelope import Envelope, SealBroken, associated_data
from services.secret._keys import KeyServiceDown, KeyUnavailable
from services.secret._mapping import SecretRecord, VersionRecord
from services.secret._settings import SecretSettings
from services.secret.repository.audit import AuditRepository
from services.secret.repository.secrets import SecretRepository
from services.secret.service.access import Decision, SecretAccess, not_found

_log = get_logger("coder.secret")


@dataclass(frozen=True, slots=True)
class SecretContext:
    repository: SecretRepository
    audit: AuditRepository
    envelope: Envelope
    access: SecretAccess
    clock: Clock
    settings: SecretSettings

    def now(self) -> datetime:
        return self.clock.now()

    async def load(self, organization_id: str, secret_id: str) -> SecretRecord:
        record = await self.repository.secret(organization_id, secret_id)
        if record is None:
            raise not_found(secret_id)
        return record

    async def visible(self, principal: Principal, secret_id: str) -> SecretRecord:
        """The secret if the caller may see it (NotFound otherwise)."""
        record = await self.load(principal.organization_id, secret_id)
        if not self.access.visible(principal, record, self.now()):
            raise not_found(secret_id)
        return record

    async def acting_on(
        self, principal: Principal, secret_id: str, action: int, *, deleted: bool = False
    ) -> tuple[SecretRecord, Decision]:
        """The secret and why the caller may take `action` on it. An active secret unless
        `deleted`, which asks for a deleted one (FailedPrecondition for the other state)."""
        record = await self.load(principal.organization_id, secret_id)
        return record, await self.allowed(principal, record, action, deleted=deleted)

    async def allowed(
        self, principal: Principal, record: SecretRecord, action: int, *, deleted: bool = False
    ) -> Decision:
        """Why the caller may take `action` on the loaded secret (see `acting_on`)."""
        decision = await self.access.require(principal, record, action, self.now())
        is_deleted = record.secret.state == secret_pb2.SECRET_STATE_DELETED
        if is_deleted and not deleted:
            raise FailedPrecondition(
                f"secret {record.id} is deleted; restore it first", reason="SECRET_DELETED"
            )
        if deleted and not is_deleted:
            raise FailedPrecondition(f"secret {record.id} is not deleted", reason="SECRET_ACTIVE")
        return decision

    async def seal(
        self,
        record: SecretRecord,
        number: int,
        value: secret_pb2.SecretValue,
        principal_subject: str,
        now: datetime,
        *,
        restored_from: int = 0,
    ) -> VersionRecord:
        """Version `number` of the secret holding `value`, sealed under a fresh data key."""
        binding = associated_data(record.organization_id, record.id, number)
        try:
            sealed = await self.envelope.seal(value.SerializeToString(), binding)
        except KeyUnavailable as error:
            _log.error("secret.kek_unavailable", secret_id=record.id, error=str(error))
            raise Unavailable(
                "the key-encryption key cannot be reached; try again", reason="KEK_UNAVAILABLE"
            ) from error
        version = secret_pb2.SecretVersion(
            version=number,
            created_by=principal_subject,
            restored_from=restored_from,
            key_id=sealed.wrapped_key.key_id,
        )
        version.create_time.FromDatetime(now)
        return VersionRecord(version, sealed, record.id)

    async def open(self, record: SecretRecord, version: VersionRecord) -> secret_pb2.SecretValue:
        """The value of a stored version; FailedPrecondition SEAL_BROKEN when its ciphertext or
        wrapped key was altered (logged with the secret, version and key, never content)."""
        binding = associated_data(record.organization_id, record.id, version.version.version)
        try:
            plaintext = await self.envelope.open(version.sealed, binding)
        except KeyServiceDown as error:
            _log.error("secret.kek_unavailable", secret_id=record.id, error=str(error))
            raise Unavailable(
                "the key-encryption key cannot be reached; try again", reason="KEK_UNAVAILABLE"
            ) from error
        except SealBroken as error:
            _log.error(
                "secret.seal_broken",
                secret_id=record.id,
                version=version.version.version,
                key_id=version.sealed.wrapped_key.key_id,
                error=str(error),
            )
            raise FailedPrecondition(
                f"version {version.version.version} of secret {record.id} cannot be decrypted",
                reason="SEAL_BROKEN",
            ) from error
        return secret_pb2.SecretValue.FromString(plaintext)
