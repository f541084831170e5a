"""Every storage query of invitations: container `invitations`, partitioned by organization id.
Each write carries its outbox events in the same batch; the writes that consume or replace a
token are conditional on the version read, so a token is spent at most once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    invitation_document,
    invitation_from_document,
    stamp_text,
    time_text,
)
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, ContainerSpec, DocumentStore, F, PatchOp, Query

INVITATIONS = "invitations"
CONTAINERS = (ContainerSpec(INVITATIONS, indexes=("/kind", "/createTime"), outbox=True),)

PENDING = resources_pb2.InvitationState.Name(resources_pb2.INVITATION_STATE_PENDING)
ACCEPTED = resources_pb2.InvitationState.Name(resources_pb2.INVITATION_STATE_ACCEPTED)
REVOKED = resources_pb2.InvitationState.Name(resources_pb2.INVITATION_STATE_REVOKED)


@dataclass(slots=True)
class InvitationRecord:
    """A stored invitation (its state as of `now`), the hash of its token and its version."""

    invitation: resources_pb2.Invitation
    token_hash: str
    etag: str


class InvitationRepository(Repository):
    """Reads and atomic writes of invitations."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._invitations = self.entities(INVITATIONS)

    async def create(
        self,
        invitation: resources_pb2.Invitation,
        token_hash: str,
        events: Sequence[event_pb2.Event],
    ) -> None:
        document = invitation_document(invitation, token_hash)
        await self._invitations.commit(
            invitation.organization_id, [BatchOp.create(document)], events
        )

    async def get(
        self, organization_id: str, invitation_id: str, now: datetime
    ) -> InvitationRecord | None:
        document = await self._invitations.get(organization_id, invitation_id)
        if document is None or document.get("kind") != "invitation":
            return None
        return InvitationRecord(
            invitation_from_document(organization_id, document, now),
            str(document["tokenHash"]),
            str(document["_etag"]),
        )

    async def page(
        self, organization_id: str, page_size: int, continuation: str | None, now: datetime
    ) -> tuple[list[resources_pb2.Invitation], str | None]:
        query = (
            Query()
            .where(F("kind") == "invitation")
            .order_by("createTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._invitations.page(query, organization_id)
        found = [invitation_from_document(organization_id, d, now) for d in page.items]
        return found, page.continuation

    async def revoke(
        self, record: InvitationRecord, updated: datetime, event: event_pb2.Event
    ) -> None:
        """EtagMismatch when the invitation changed meanwhile (accepted, resent)."""
        ops = [
            PatchOp("set", "/state", REVOKED),
            PatchOp("set", "/updateTime", time_text(updated)),
        ]
        await self._patch(record, ops, [event])

    async def resend(
        self,
        record: InvitationRecord,
        token_hash: str,
        events: Sequence[event_pb2.Event],
    ) -> None:
        """Replace the token (the old one dies) and renew the expiry, conditionally."""
        invitation = record.invitation
        ops = [
            PatchOp("set", "/tokenHash", token_hash),
            PatchOp("set", "/resendCount", invitation.resend_count),
            PatchOp("set", "/expireTime", stamp_text(invitation.expire_time)),
            PatchOp("set", "/updateTime", stamp_text(invitation.update_time)),
        ]
        await self._patch(record, ops, events)

    async def accept(
        self, record: InvitationRecord, user_id: str, accepted: datetime, event: event_pb2.Event
    ) -> None:
        """Spend the token; EtagMismatch when it was spent, resent or revoked concurrently."""
        ops = [
            PatchOp("set", "/state", ACCEPTED),
            PatchOp("set", "/acceptedBy", user_id),
            PatchOp("set", "/updateTime", time_text(accepted)),
        ]
        await self._patch(record, ops, [event])

    async def _patch(
        self, record: InvitationRecord, ops: list[PatchOp], events: Sequence[event_pb2.Event]
    ) -> None:
        invitation = record.invitation
        operation = BatchOp.patch_doc(invitation.id, ops, if_match=record.etag)
        await self._invitations.commit(invitation.organization_id, [operation], events)
