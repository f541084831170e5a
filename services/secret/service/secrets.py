"""Secrets: create, read, list, update, move, delete, restore and purge.

Rules:
- a name is unique within its scope (organization, a team, a project, a user); a deleted
  secret gives its name up until it is restored;
- ORGANIZATION secrets name no scope id; TEAM and PROJECT secrets name one; a USER secret
  belongs to the caller unless an administrator names another user;
- the type is fixed at creation; the value changes through versions (versions.py);
- moving (rename, or another scope of the organization) keeps id, versions, grants and audit:
  the ciphertext is bound to the organization, id and version, not to the name;
- a delete is soft: hidden from listings, nothing readable, restorable until the purge time
  (`restore_days` later), when the sweep purges it; an administrator may purge it sooner.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf.field_mask_pb2 import FieldMask

from coder.secret.v1 import secret_pb2
from coder.secret.v1 import secret_service_pb2 as api
from services.kit import (
    AlreadyExists,
    DocumentExists,
    FieldViolation,
    InvalidArgument,
    PageRequest,
    Principal,
    apply_update,
    check_etag,
    check_time_range,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    time_text,
    update_paths,
)
from services.secret import events
from services.secret._deadlines import scheduled
from services.secret._mapping import SecretRecord
from services.secret._values import check_value, normalized
from services.secret.events import SecretEvents
from services.secret.service.access import is_admin
from services.secret.service.context import SecretContext

A = secret_pb2
WRITABLE = ("description", "metadata", "expire_time", "rotation_period")
OUTPUT_ONLY = (
    "id",
    "organization_id",
    "state",
    "current_version",
    "next_rotation_time",
    "created_by",
    "create_time",
    "update_time",
    "delete_time",
    "purge_time",
)


def check_scope(principal: Principal, scope: int, scope_id: str, field: str) -> str:
    """The scope id a secret of `scope` gets (the caller's own for USER when none is given);
    InvalidArgument naming `field` when it does not fit the scope."""
    if scope == A.SECRET_SCOPE_UNSPECIFIED:
        raise InvalidArgument(
            "the secret needs a scope",
            violations=[FieldViolation(field.replace("scope_id", "scope"), "name the scope")],
        )
    if scope == A.SECRET_SCOPE_ORGANIZATION:
        if scope_id:
            raise InvalidArgument(
                "an organization secret names no scope id",
                violations=[FieldViolation(field, "must be empty for SECRET_SCOPE_ORGANIZATION")],
            )
        return ""
    if scope == A.SECRET_SCOPE_USER:
        scope_id = scope_id or principal.subject
        if scope_id != principal.subject and not is_admin(principal):
            raise InvalidArgument(
                "a user secret belongs to its creator",
                violations=[FieldViolation(field, "only an administrator names another user")],
            )
        return scope_id
    require_field(scope_id, field, "name the team or project of the scope")
    return scope_id


def name_taken(secret: secret_pb2.Secret) -> AlreadyExists:
    return AlreadyExists(
        f"a secret named {secret.name} exists in this scope", reason="SECRET_NAME_TAKEN"
    )


class SecretService:
    """The caller's organization's secrets, metadata only."""

    def __init__(self, context: SecretContext) -> None:
        self._c = context

    async def create_secret(
        self, draft: secret_pb2.Secret, value: secret_pb2.SecretValue
    ) -> secret_pb2.Secret:
        principal = current_principal()
        now = self._c.now()
        require_field(draft.name, "secret.name", "name the secret")
        check_value(draft.type, value)
        scope_id = check_scope(principal, draft.scope, draft.scope_id, "secret.scope_id")
        _check_expiry(draft, now, "secret.")
        secret = A.Secret(
            id=new_id(),
            organization_id=principal.organization_id,
            name=draft.name,
            type=draft.type,
            scope=draft.scope,
            scope_id=scope_id,
            description=draft.description,
            metadata=draft.metadata,
            state=A.SECRET_STATE_ACTIVE,
            current_version=1,
            created_by=principal.subject,
        )
        if draft.HasField("expire_time"):
            secret.expire_time.CopyFrom(draft.expire_time)
        if draft.HasField("rotation_period"):
            secret.rotation_period.CopyFrom(draft.rotation_period)
        secret.create_time.FromDatetime(now)
        secret.update_time.FromDatetime(now)
        record = scheduled(
            SecretRecord(secret, next_version=2, versions=(1,), last_version_time=time_text(now)),
            now,
        )
        version = await self._c.seal(
            record, 1, normalized(draft.type, value), principal.subject, now
        )
        event = SecretEvents.acting(principal, self._c.clock).changed(
            events.CREATED, record.public(), version=1
        )
        try:
            created = await self._c.repository.create(record, version, [event])
        except DocumentExists as error:
            raise name_taken(secret) from error
        return created.public()

    async def get_secret(self, secret_id: str) -> secret_pb2.Secret:
        return (await self._c.visible(current_principal(), secret_id)).public()

    async def list_secrets(
        self, request: api.ListSecretsRequest
    ) -> tuple[list[secret_pb2.Secret], str]:
        principal = current_principal()
        if request.scope_id and not request.scope:
            raise InvalidArgument(
                "a scope id needs its scope",
                violations=[FieldViolation("scope", "name the scope of scope_id")],
            )
        page = PageRequest.of(request, principal.organization_id)
        state = A.SECRET_STATE_DELETED if request.show_deleted else A.SECRET_STATE_ACTIVE
        records, continuation = await self._c.repository.list_secrets(
            principal.organization_id,
            state=state,
            scope=request.scope,
            scope_id=request.scope_id if request.scope_id or request.scope == 1 else None,
            type=request.type,
            name_prefix=request.name_prefix,
            page_size=page.size,
            continuation=page.continuation,
        )
        now = self._c.now()
        secrets = [r.public() for r in records if self._c.access.visible(principal, r, now)]
        return secrets, page.seal(continuation)

    async def update_secret(self, changes: secret_pb2.Secret, mask: FieldMask) -> secret_pb2.Secret:
        paths = update_paths(mask, changes, "secret", WRITABLE, output_only=OUTPUT_ONLY)
        for path in paths:
            if path not in WRITABLE:
                raise InvalidArgument(
                    f"{path} is changed by MoveSecret or AddSecretVersion, not UpdateSecret",
                    violations=[FieldViolation("update_mask", f"{path} cannot be updated here")],
                    reason="UPDATE_MASK_INVALID",
                )
        require_field(changes.id, "secret.id", "name the secret to update")
        principal = current_principal()

        async def attempt() -> secret_pb2.Secret:
            record, _ = await self._c.acting_on(principal, changes.id, A.SECRET_ACTION_UPDATE)
            check_etag(changes.etag, record.etag, "secret")
            updated, changed = apply_update(record.secret, changes, paths)
            if not changed:
                return record.public()
            now = self._c.now()
            if "expire_time" in changed:
                _check_expiry(updated, now, "secret.")
            updated.update_time.FromDatetime(now)
            after = scheduled(record.changed(secret=updated), now)
            event = SecretEvents.acting(principal, self._c.clock).changed(
                events.UPDATED, after.public(), changed_fields=changed
            )
            return (await self._c.repository.replace(after, record.etag, [event])).public()

        return await read_modify_write(changes.etag, attempt)

    async def move_secret(self, request: api.MoveSecretRequest) -> secret_pb2.Secret:
        principal = current_principal()
        record, _ = await self._c.acting_on(principal, request.secret_id, A.SECRET_ACTION_UPDATE)
        check_etag(request.etag, record.etag, "secret")
        before = record.secret
        moved = record.public()
        moved.name = request.name or before.name
        if request.scope:
            moved.scope = request.scope
            moved.scope_id = check_scope(principal, request.scope, request.scope_id, "scope_id")
        elif request.scope_id:
            raise InvalidArgument(
                "a scope id needs its scope",
                violations=[FieldViolation("scope", "name the scope of scope_id")],
            )
        if (moved.name, moved.scope, moved.scope_id) == (
            before.name,
            before.scope,
            before.scope_id,
        ):
            return record.public()
        moved.update_time.FromDatetime(self._c.now())
        after = record.changed(secret=moved)
        event = SecretEvents.acting(principal, self._c.clock).changed(
            events.MOVED, after.public(), previous=before
        )
        try:
            return (await self._c.repository.move(record, after, [event])).public()
        except DocumentExists as error:
            raise name_taken(moved) from error

    async def delete_secret(self, secret_id: str, etag: str) -> secret_pb2.Secret:
        principal = current_principal()
        record, _ = await self._c.acting_on(principal, secret_id, A.SECRET_ACTION_DELETE)
        check_etag(etag, record.etag, "secret")
        now = self._c.now()
        deleted = record.public()
        deleted.state = A.SECRET_STATE_DELETED
        deleted.delete_time.FromDatetime(now)
        deleted.purge_time.FromDatetime(now + timedelta(days=self._c.settings.restore_days))
        deleted.update_time.FromDatetime(now)
        after = scheduled(record.changed(secret=deleted), now)
        event = SecretEvents.acting(principal, self._c.clock).changed(
            events.DELETED, after.public()
        )
        return (await self._c.repository.soft_delete(after, record.etag, [event])).public()

    async def restore_secret(self, secret_id: str, etag: str) -> secret_pb2.Secret:
        principal = current_principal()
        record, _ = await self._c.acting_on(
            principal, secret_id, A.SECRET_ACTION_DELETE, deleted=True
        )
        check_etag(etag, record.etag, "secret")
        now = self._c.now()
        restored = record.public()
        restored.state = A.SECRET_STATE_ACTIVE
        restored.ClearField("delete_time")
        restored.ClearField("purge_time")
        restored.update_time.FromDatetime(now)
        after = scheduled(record.changed(secret=restored), now)
        event = SecretEvents.acting(principal, self._c.clock).changed(
            events.RESTORED, after.public()
        )
        try:
            return (await self._c.repository.restore(after, record.etag, [event])).public()
        except DocumentExists as error:
            raise name_taken(restored) from error

    async def purge_secret(self, secret_id: str, etag: str) -> None:
        principal = current_principal()
        record, _ = await self._c.acting_on(
            principal, secret_id, A.SECRET_ACTION_DELETE, deleted=True
        )
        check_etag(etag, record.etag, "secret")
        event = SecretEvents.acting(principal, self._c.clock).changed(
            events.PURGED, record.public()
        )
        await self._c.repository.purge(record, record.etag, [event])


def _check_expiry(secret: secret_pb2.Secret, now: datetime, prefix: str) -> None:
    check_time_range(secret, ("expire_time",), prefix)
    if secret.HasField("expire_time") and secret.expire_time.ToDatetime(tzinfo=UTC) <= now:
        raise InvalidArgument(
            "the expiry is in the past",
            violations=[FieldViolation(f"{prefix}expire_time", "must be in the future")],
        )
