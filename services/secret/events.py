"""The events the secret service publishes. It consumes none.

Every event is `secret.<entity>.<past-verb>`, its subject the secret id, and no payload ever
carries a value (SecretChanged holds the metadata only):
- `secret.secret.created|updated|rotated|moved|deleted|restored|purged` (SecretChanged);
  `rotated` is a new version, a rollback included (`restored_from` set);
- `secret.secret.expiring|expired|rotation_due` (SecretReminder), sent by the sweep once per
  deadline and threshold (30, 14, 7, 1 days before; `expired` and `rotation_due` with 0 at it);
- `secret.grant.created|deleted` (SecretGrantChanged);
- `secret.key.rewrapped` (KeysRewrapped), an organization's data keys moved to the primary KEK.
Payload secrets carry no etag: the event is stored in the same batch as the change, before the
store assigns the new one. Events of the sweep have the system as actor.
"""

from __future__ import annotations

from datetime import datetime

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.secret.v1 import events_pb2, secret_pb2
from services.kit import Clock, Principal
from services.kit.bus import EventFactory

CREATED = "secret.secret.created"
UPDATED = "secret.secret.updated"
ROTATED = "secret.secret.rotated"
MOVED = "secret.secret.moved"
DELETED = "secret.secret.deleted"
RESTORED = "secret.secret.restored"
PURGED = "secret.secret.purged"
EXPIRING = "secret.secret.expiring"
EXPIRED = "secret.secret.expired"
ROTATION_DUE = "secret.secret.rotation_due"
GRANT_CREATED = "secret.grant.created"
GRANT_DELETED = "secret.grant.deleted"
KEYS_REWRAPPED = "secret.key.rewrapped"

SWEEP_ACTOR = actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_SYSTEM, id="secret-sweep")
"""Who publishes the reminders and the purges the sweep makes."""


class SecretEvents:
    """Builds the service's events for one actor at one clock."""

    def __init__(self, factory: EventFactory) -> None:
        self._event = factory

    @classmethod
    def acting(cls, principal: Principal, clock: Clock) -> SecretEvents:
        return cls(EventFactory.acting(principal, clock))

    @classmethod
    def sweep(cls, clock: Clock, organization_id: str) -> SecretEvents:
        return cls(EventFactory(SWEEP_ACTOR, clock, organization_id=organization_id))

    def changed(
        self,
        type: str,
        secret: secret_pb2.Secret,
        *,
        version: int = 0,
        restored_from: int = 0,
        changed_fields: list[str] | None = None,
        previous: secret_pb2.Secret | None = None,
    ) -> event_pb2.Event:
        payload = events_pb2.SecretChanged(
            secret=secret,
            version=version,
            restored_from=restored_from,
            changed_fields=changed_fields or [],
        )
        payload.secret.ClearField("etag")
        if previous is not None:
            payload.previous_name = previous.name
            payload.previous_scope = previous.scope
            payload.previous_scope_id = previous.scope_id
        return self._event(type, secret.id, payload)

    def reminder(
        self,
        secret: secret_pb2.Secret,
        kind: int,
        due: datetime,
        days_before: int,
    ) -> event_pb2.Event:
        if kind == events_pb2.REMINDER_KIND_EXPIRY:
            type = EXPIRED if days_before == 0 else EXPIRING
        else:
            type = ROTATION_DUE
        payload = events_pb2.SecretReminder(
            secret_id=secret.id,
            name=secret.name,
            scope=secret.scope,
            scope_id=secret.scope_id,
            owner=secret.created_by,
            kind=kind,  # type: ignore[arg-type]
            days_before=days_before,
        )
        payload.due_time.FromDatetime(due)
        return self._event(type, secret.id, payload)

    def grant(
        self, type: str, secret: secret_pb2.Secret, grant: secret_pb2.SecretGrant
    ) -> event_pb2.Event:
        payload = events_pb2.SecretGrantChanged(
            secret_id=secret.id, secret_name=secret.name, grant=grant
        )
        return self._event(type, secret.id, payload)

    def rewrapped(self, count: int, primary_key_id: str, at: datetime) -> event_pb2.Event:
        payload = events_pb2.KeysRewrapped(rewrapped_count=count, primary_key_id=primary_key_id)
        payload.rewrap_time.FromDatetime(at)
        return self._event(KEYS_REWRAPPED, "keys", payload)
