"""Proto ↔ document mapping of secrets, their versions, name claims and access records.

A secret's document carries more than the Secret message shows: the numbers of its kept
versions and the next number (never reused), its grants (read with the secret on every value
read, so one point read decides access), the reminders already sent, and `nextDeadline`, the
earliest time the sweep has work on it (a reminder, a purge). `SecretRecord` is that document
as the service works with it. A version's document holds only ciphertext: the sealed value,
its nonce and its wrapped data key, each base64.

Documents use lowerCamelCase names and the kit's time text.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Any

from google.protobuf.duration_pb2 import Duration

from coder.secret.v1 import secret_pb2
from services.kit import fill_timestamp, optional_timestamp_text, timestamp_text
from services.kit.store import Document, reservation_id
from services.secret._envelope import Sealed
from services.secret._keys import WrappedKey

SECRET_KIND = "secret"  # noqa: S105 - a document kind, not a credential
VERSION_KIND = "version"
NAME_KIND = "name"


def scope_key(scope: int, scope_id: str) -> str:
    """The namespace a name is unique in: `<scope number>/<scope id>`."""
    return f"{scope}/{scope_id}"


def name_claim_id(scope: int, scope_id: str, name: str) -> str:
    """Id of the document that claims a name in its scope (the claim keeps names unique in one
    atomic batch with the secret)."""
    return reservation_id("name", f"{scope_key(scope, scope_id)}/{name}")


def version_id(secret_id: str, number: int) -> str:
    """A version's id: its secret's id and number, so a read finds it by one point read."""
    return f"{secret_id}-v{number}"


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """A stored secret with what its message does not show."""

    secret: secret_pb2.Secret
    next_version: int
    versions: tuple[int, ...]
    """Numbers of the kept versions, oldest first."""
    grants: tuple[secret_pb2.SecretGrant, ...] = ()
    reminders: tuple[str, ...] = ()
    """Keys of the reminders already sent (`expiry:<deadline>:<days>`)."""
    next_deadline: str = ""
    last_version_time: str = ""
    """When the newest version was written: where the rotation period counts from."""

    @property
    def id(self) -> str:
        return self.secret.id

    @property
    def organization_id(self) -> str:
        return self.secret.organization_id

    @property
    def etag(self) -> str:
        return self.secret.etag

    def changed(self, **changes: Any) -> SecretRecord:
        return replace(self, **changes)

    def public(self) -> secret_pb2.Secret:
        """The Secret message, a copy."""
        message = secret_pb2.Secret()
        message.CopyFrom(self.secret)
        return message


def _duration_seconds(value: Duration) -> float:
    return value.seconds + value.nanos / 1e9


def secret_document(record: SecretRecord) -> Document:
    """The stored form of a secret (its etag is the store's, never stored)."""
    secret = record.secret
    document: Document = {
        "id": secret.id,
        "kind": SECRET_KIND,
        "organizationId": secret.organization_id,
        "name": secret.name,
        "type": secret.type,
        "scope": secret.scope,
        "scopeId": secret.scope_id,
        "scopeKey": scope_key(secret.scope, secret.scope_id),
        "description": secret.description,
        "metadata": dict(secret.metadata),
        "state": secret.state,
        "currentVersion": secret.current_version,
        "nextVersion": record.next_version,
        "versions": list(record.versions),
        "expireTime": optional_timestamp_text(secret, "expire_time"),
        "rotationPeriod": (
            {"seconds": secret.rotation_period.seconds, "nanos": secret.rotation_period.nanos}
            if secret.HasField("rotation_period")
            else None
        ),
        "nextRotationTime": optional_timestamp_text(secret, "next_rotation_time"),
        "lastVersionTime": record.last_version_time,
        "createdBy": secret.created_by,
        "createTime": timestamp_text(secret.create_time),
        "updateTime": timestamp_text(secret.update_time),
        "deleteTime": optional_timestamp_text(secret, "delete_time"),
        "purgeTime": optional_timestamp_text(secret, "purge_time"),
        "grants": [grant_document(g) for g in record.grants],
        "reminders": list(record.reminders),
    }
    if record.next_deadline:
        # Absent rather than empty, so the sweep's range on the field skips it.
        document["nextDeadline"] = record.next_deadline
    return document


def secret_from_document(document: Document) -> SecretRecord:
    secret = secret_pb2.Secret(
        id=document["id"],
        organization_id=document["organizationId"],
        name=document["name"],
        type=document["type"],
        scope=document["scope"],
        scope_id=document["scopeId"],
        description=document["description"],
        metadata=document["metadata"],
        state=document["state"],
        current_version=document["currentVersion"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    for name in ("expireTime", "nextRotationTime", "deleteTime", "purgeTime"):
        if document.get(name):
            fill_timestamp(getattr(secret, _snake(name)), document[name])
    if document.get("rotationPeriod"):
        secret.rotation_period.seconds = document["rotationPeriod"]["seconds"]
        secret.rotation_period.nanos = document["rotationPeriod"]["nanos"]
    fill_timestamp(secret.create_time, document["createTime"])
    fill_timestamp(secret.update_time, document["updateTime"])
    return SecretRecord(
        secret=secret,
        next_version=document["nextVersion"],
        versions=tuple(document["versions"]),
        grants=tuple(grant_from_document(g, secret.id) for g in document["grants"]),
        reminders=tuple(document["reminders"]),
        next_deadline=document.get("nextDeadline", ""),
        last_version_time=document["lastVersionTime"],
    )


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def grant_document(grant: secret_pb2.SecretGrant) -> Document:
    return {
        "id": grant.id,
        "granteeType": grant.grantee_type,
        "granteeId": grant.grantee_id,
        "actions": sorted(grant.actions),
        "expireTime": optional_timestamp_text(grant, "expire_time"),
        "createdBy": grant.created_by,
        "createTime": timestamp_text(grant.create_time),
    }


def grant_from_document(document: Document, secret_id: str) -> secret_pb2.SecretGrant:
    grant = secret_pb2.SecretGrant(
        id=document["id"],
        secret_id=secret_id,
        grantee_type=document["granteeType"],
        grantee_id=document["granteeId"],
        actions=document["actions"],
        created_by=document["createdBy"],
    )
    if document.get("expireTime"):
        fill_timestamp(grant.expire_time, document["expireTime"])
    fill_timestamp(grant.create_time, document["createTime"])
    return grant


def name_claim_document(record: SecretRecord) -> Document:
    secret = record.secret
    return {
        "id": name_claim_id(secret.scope, secret.scope_id, secret.name),
        "kind": NAME_KIND,
        "organizationId": secret.organization_id,
        "secretId": secret.id,
    }


# --- versions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A stored version: its description and its sealed value."""

    version: secret_pb2.SecretVersion
    sealed: Sealed
    secret_id: str = field(default="")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def version_document(organization_id: str, secret_id: str, record: VersionRecord) -> Document:
    version = record.version
    return {
        "id": version_id(secret_id, version.version),
        "kind": VERSION_KIND,
        "organizationId": organization_id,
        "secretId": secret_id,
        "version": version.version,
        "createTime": timestamp_text(version.create_time),
        "createdBy": version.created_by,
        "restoredFrom": version.restored_from,
        "keyId": record.sealed.wrapped_key.key_id,
        "scheme": record.sealed.scheme,
        "nonce": _b64(record.sealed.nonce),
        "ciphertext": _b64(record.sealed.ciphertext),
        "wrappedKey": _b64(record.sealed.wrapped_key.wrapped),
    }


def version_from_document(document: Document) -> VersionRecord:
    version = secret_pb2.SecretVersion(
        version=document["version"],
        created_by=document["createdBy"],
        restored_from=document["restoredFrom"],
        key_id=document["keyId"],
    )
    fill_timestamp(version.create_time, document["createTime"])
    sealed = Sealed(
        ciphertext=base64.b64decode(document["ciphertext"]),
        nonce=base64.b64decode(document["nonce"]),
        wrapped_key=WrappedKey(document["keyId"], base64.b64decode(document["wrappedKey"])),
        scheme=document["scheme"],
    )
    return VersionRecord(version, sealed, document["secretId"])


# --- access records ------------------------------------------------------------------------------


def access_document(record: secret_pb2.AccessRecord, organization_id: str) -> Document:
    return {
        "id": record.id,
        "organizationId": organization_id,
        "secretId": record.secret_id,
        "secretName": record.secret_name,
        "version": record.version,
        "subject": record.subject,
        "callingService": record.calling_service,
        "reason": record.reason,
        "accessTime": timestamp_text(record.access_time),
        "granted": record.granted,
        "basis": record.basis,
        "requestId": record.request_id,
    }


def access_from_document(document: Document) -> secret_pb2.AccessRecord:
    record = secret_pb2.AccessRecord(
        id=document["id"],
        secret_id=document["secretId"],
        secret_name=document["secretName"],
        version=document["version"],
        subject=document["subject"],
        calling_service=document["callingService"],
        reason=document["reason"],
        granted=document["granted"],
        basis=document["basis"],
        request_id=document["requestId"],
    )
    fill_timestamp(record.access_time, document["accessTime"])
    return record
