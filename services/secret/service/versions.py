"""Versions and values: add a version, list versions, roll back, read a value.

Rules:
- every write of a value is a new version with a fresh data key; the ten newest versions
  (`versions_kept`) are kept, older ones destroyed in the same batch;
- a write can be made conditional on the etag read or on the current version number
  (check-and-set): a stale writer gets ABORTED (412 at REST) and nothing is written;
- a rollback copies a kept version's value into a new version (`restored_from`), so the
  history only grows and the rolled-back-from value stays kept;
- a value comes back only from GetSecretValue, to someone the access rules let READ; every
  call, refused or not, writes an access record first, so no value leaves unaudited.
"""

from __future__ import annotations

from coder.secret.v1 import secret_pb2
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import (
    Aborted,
    DomainError,
    FailedPrecondition,
    NotFound,
    Principal,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    request_id,
    time_text,
)
from services.secret import events
from services.secret._deadlines import scheduled
from services.secret._mapping import SecretRecord, VersionRecord
from services.secret._values import check_value, normalized
from services.secret.events import SecretEvents
from services.secret.service.context import SecretContext

A = secret_pb2


def version_not_found(secret_id: str, number: int) -> NotFound:
    return NotFound(
        f"secret {secret_id} keeps no version {number}", reason="SECRET_VERSION_NOT_FOUND"
    )


def check_expected(expected: int, record: SecretRecord) -> None:
    if expected and expected != record.secret.current_version:
        raise Aborted(
            f"the secret's current version is {record.secret.current_version}, not {expected}; "
            "read it again",
            reason="ETAG_MISMATCH",
            metadata={"current_version": str(record.secret.current_version)},
        )


class VersionService:
    """Versions of the caller's organization's secrets and reads of their values."""

    def __init__(self, context: SecretContext) -> None:
        self._c = context

    async def add_version(
        self, request: api.AddSecretVersionRequest
    ) -> tuple[secret_pb2.Secret, secret_pb2.SecretVersion]:
        principal = current_principal()

        async def attempt() -> tuple[secret_pb2.Secret, secret_pb2.SecretVersion]:
            record, _ = await self._c.acting_on(
                principal, request.secret_id, A.SECRET_ACTION_UPDATE
            )
            check_etag(request.etag, record.etag, "secret")
            check_expected(request.expected_version, record)
            check_value(record.secret.type, request.value)
            value = normalized(record.secret.type, request.value)
            return await self._write(principal, record, value)

        return await read_modify_write(request.etag or str(request.expected_version or ""), attempt)

    async def rollback(
        self, request: api.RollbackSecretRequest
    ) -> tuple[secret_pb2.Secret, secret_pb2.SecretVersion]:
        principal = current_principal()

        async def attempt() -> tuple[secret_pb2.Secret, secret_pb2.SecretVersion]:
            record, _ = await self._c.acting_on(
                principal, request.secret_id, A.SECRET_ACTION_UPDATE
            )
            check_etag(request.etag, record.etag, "secret")
            check_expected(request.expected_version, record)
            if request.version == record.secret.current_version:
                raise FailedPrecondition(
                    f"version {request.version} is already current", reason="VERSION_CURRENT"
                )
            stored = await self._stored_version(record, request.version)
            value = await self._c.open(record, stored)
            return await self._write(principal, record, value, restored_from=request.version)

        return await read_modify_write(request.etag or str(request.expected_version or ""), attempt)

    async def _write(
        self,
        principal: Principal,
        record: SecretRecord,
        value: secret_pb2.SecretValue,
        *,
        restored_from: int = 0,
    ) -> tuple[secret_pb2.Secret, secret_pb2.SecretVersion]:
        now = self._c.now()
        number = record.next_version
        version = await self._c.seal(
            record, number, value, principal.subject, now, restored_from=restored_from
        )
        kept = (*record.versions, number)
        limit = self._c.settings.versions_kept
        dropped, kept = kept[:-limit], kept[-limit:]
        secret = record.public()
        secret.current_version = number
        secret.update_time.FromDatetime(now)
        after = scheduled(
            record.changed(
                secret=secret,
                next_version=number + 1,
                versions=kept,
                last_version_time=time_text(now),
            ),
            now,
        )
        event = SecretEvents.acting(principal, self._c.clock).changed(
            events.ROTATED, after.public(), version=number, restored_from=restored_from
        )
        stored = await self._c.repository.add_version(after, record.etag, version, dropped, [event])
        described = secret_pb2.SecretVersion()
        described.CopyFrom(version.version)
        described.current = True
        return stored.public(), described

    async def list_versions(self, secret_id: str) -> list[secret_pb2.SecretVersion]:
        principal = current_principal()
        record = await self._c.visible(principal, secret_id)
        versions = []
        for stored in await self._c.repository.versions(principal.organization_id, secret_id):
            if stored.version.version not in record.versions:
                continue
            described = secret_pb2.SecretVersion()
            described.CopyFrom(stored.version)
            described.current = described.version == record.secret.current_version
            versions.append(described)
        return versions

    async def _stored_version(self, record: SecretRecord, number: int) -> VersionRecord:
        if number not in record.versions:
            raise version_not_found(record.id, number)
        stored = await self._c.repository.version(record.organization_id, record.id, number)
        if stored is None:
            raise version_not_found(record.id, number)
        return stored

    async def get_value(self, request: api.GetSecretValueRequest) -> api.GetSecretValueResponse:
        principal = current_principal()
        record = await self._c.load(principal.organization_id, request.secret_id)
        number = request.version or record.secret.current_version
        try:
            decision = await self._c.allowed(principal, record, A.SECRET_ACTION_READ)
            stored = await self._stored_version(record, number)
        except DomainError as refusal:
            await self._audit(principal, record, 0, request.reason, False, refusal.reason.lower())
            raise
        await self._audit(principal, record, number, request.reason, True, decision.basis)
        value = await self._c.open(record, stored)
        return api.GetSecretValueResponse(
            secret_id=record.id,
            name=record.secret.name,
            type=record.secret.type,
            version=number,
            value=value,
        )

    async def _audit(
        self,
        principal: Principal,
        record: SecretRecord,
        version: int,
        reason: str,
        granted: bool,
        basis: str,
    ) -> None:
        entry = secret_pb2.AccessRecord(
            id=new_id(),
            secret_id=record.id,
            secret_name=record.secret.name,
            version=version,
            subject=principal.subject,
            calling_service=principal.actor,
            reason=reason,
            granted=granted,
            basis=basis,
            request_id=request_id(),
        )
        entry.access_time.FromDatetime(self._c.now())
        await self._c.audit.record(principal.organization_id, entry)
