"""Grants: who besides the owner may read, update, delete or share a secret.

Rules: a grant names a user (or service account) id, a team id or a role name, and 1 to 4
actions; at most `MAX_GRANTS` per secret; one grant per grantee (a second one for the same
grantee is ALREADY_EXISTS: change it by deleting and granting again); an expiry, when set, is
in the future. Creating and deleting grants takes the GRANT action.
"""

from __future__ import annotations

from datetime import UTC

from coder.secret.v1 import secret_pb2
from services.kit import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    check_time_range,
    current_principal,
    new_id,
)
from services.secret import events
from services.secret.events import SecretEvents
from services.secret.service.context import SecretContext

A = secret_pb2
MAX_GRANTS = 50


class GrantService:
    """Grants on the caller's organization's secrets."""

    def __init__(self, context: SecretContext) -> None:
        self._c = context

    async def create_grant(
        self, secret_id: str, draft: secret_pb2.SecretGrant
    ) -> secret_pb2.SecretGrant:
        principal = current_principal()
        record, _ = await self._c.acting_on(principal, secret_id, A.SECRET_ACTION_GRANT)
        now = self._c.now()
        check_time_range(draft, ("expire_time",), "grant.")
        if draft.HasField("expire_time") and draft.expire_time.ToDatetime(tzinfo=UTC) <= now:
            raise InvalidArgument(
                "the grant's expiry is in the past",
                violations=[FieldViolation("grant.expire_time", "must be in the future")],
            )
        for existing in record.grants:
            if (existing.grantee_type, existing.grantee_id) == (
                draft.grantee_type,
                draft.grantee_id,
            ):
                raise AlreadyExists(
                    f"{draft.grantee_id} already has grant {existing.id} on this secret",
                    reason="GRANT_EXISTS",
                )
        if len(record.grants) >= MAX_GRANTS:
            raise FailedPrecondition(
                f"a secret holds at most {MAX_GRANTS} grants", reason="TOO_MANY_GRANTS"
            )
        grant = A.SecretGrant(
            id=new_id(),
            secret_id=record.id,
            grantee_type=draft.grantee_type,
            grantee_id=draft.grantee_id,
            actions=sorted(set(draft.actions)),
            created_by=principal.subject,
        )
        if draft.HasField("expire_time"):
            grant.expire_time.CopyFrom(draft.expire_time)
        grant.create_time.FromDatetime(now)
        after = record.changed(grants=(*record.grants, grant))
        event = SecretEvents.acting(principal, self._c.clock).grant(
            events.GRANT_CREATED, record.public(), grant
        )
        await self._c.repository.replace(after, record.etag, [event])
        return grant

    async def list_grants(self, secret_id: str) -> list[secret_pb2.SecretGrant]:
        record = await self._c.visible(current_principal(), secret_id)
        return list(record.grants)

    async def delete_grant(self, secret_id: str, grant_id: str) -> None:
        principal = current_principal()
        record, _ = await self._c.acting_on(principal, secret_id, A.SECRET_ACTION_GRANT)
        found = [g for g in record.grants if g.id == grant_id]
        if not found:
            raise NotFound(f"grant {grant_id} not found", reason="GRANT_NOT_FOUND")
        after = record.changed(grants=tuple(g for g in record.grants if g.id != grant_id))
        event = SecretEvents.acting(principal, self._c.clock).grant(
            events.GRANT_DELETED, record.public(), found[0]
        )
        await self._c.repository.replace(after, record.etag, [event])
