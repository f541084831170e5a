"""Every storage query of sessions: container `sessions`, partitioned by the user's id.

A session and its refresh tokens (stored by hash) share the user's partition, so a refresh
spends the old token, issues the next and touches the session in one atomic batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    session_from_document,
    time_text,
)
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    PatchOp,
    Query,
)

SESSIONS = "sessions"

REVOCATIONS_PER_BATCH = MAX_BATCH_OPERATIONS // 2
"""Each revoked session travels with its `identity.session.revoked` outbox document."""

CONTAINERS = (
    ContainerSpec(
        SESSIONS, indexes=("/kind", "/sessionId", "/revoked", "/createTime"), outbox=True
    ),
)


@dataclass(slots=True)
class RefreshRecord:
    """A stored refresh token (by hash) of a session."""

    token_hash: str
    session_id: str
    spent: bool
    etag: str


@dataclass(slots=True)
class SessionRecord:
    """A stored session with what tokens need."""

    session: resources_pb2.Session
    user_id: str
    revoked: bool
    etag: str


def _refresh_id(token_hash: str) -> str:
    return f"rt-{token_hash}"


class SessionRepository(Repository):
    """Reads and atomic writes of sessions and their refresh tokens."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._sessions = self.entities(SESSIONS)

    async def active_sessions(self, user_id: str) -> list[SessionRecord]:
        """Active sessions, oldest first."""
        query = (
            Query()
            .where(F("kind") == "session", F("revoked") == False)  # noqa: E712
            .order_by("createTime")
        )
        documents = await self._sessions.every(query, user_id)
        return [_session_record(user_id, d) for d in documents]

    async def get_session(self, user_id: str, session_id: str) -> SessionRecord | None:
        document = await self._sessions.get(user_id, session_id)
        if document is None or document.get("kind") != "session":
            return None
        return _session_record(user_id, document)

    async def start_session(
        self,
        user_id: str,
        session: resources_pb2.Session,
        token_hash: str,
        ttl_seconds: int,
        evict: Sequence[SessionRecord],
        events: Sequence[event_pb2.Event],
    ) -> None:
        """Store a new session and its first refresh token; revoke the evicted ones with it."""
        operations = [
            BatchOp.create(_session_document(session, ttl_seconds)),
            BatchOp.create(_refresh_document(token_hash, session.id, ttl_seconds)),
        ]
        operations += [_revoke_op(record, "evicted") for record in evict]
        await self._sessions.commit(user_id, operations, events)

    async def get_refresh(self, user_id: str, token_hash: str) -> RefreshRecord | None:
        document = await self._sessions.get(user_id, _refresh_id(token_hash))
        if document is None or document.get("kind") != "refresh":
            return None
        return RefreshRecord(
            token_hash, document["sessionId"], document["spent"], document["_etag"]
        )

    async def rotate_refresh(
        self,
        user_id: str,
        spent: RefreshRecord,
        record: SessionRecord,
        new_hash: str,
        organization_id: str,
        last_seen: datetime,
        ttl_seconds: int,
        event: event_pb2.Event,
    ) -> None:
        """Spend a refresh token and issue its successor atomically; EtagMismatch when the old
        token was spent (or the session changed) concurrently."""
        operations = [
            BatchOp.patch_doc(
                _refresh_id(spent.token_hash),
                [PatchOp("set", "/spent", True)],
                if_match=spent.etag,
            ),
            BatchOp.create(_refresh_document(new_hash, record.session.id, ttl_seconds)),
            BatchOp.patch_doc(
                record.session.id,
                [
                    PatchOp("set", "/lastSeenTime", time_text(last_seen)),
                    PatchOp("set", "/scopeOrganizationId", organization_id),
                    PatchOp("set", "/ttl", ttl_seconds),
                ],
                if_match=record.etag,
            ),
        ]
        await self._sessions.commit(user_id, operations, [event])

    async def revoke_sessions(
        self,
        user_id: str,
        records: Sequence[SessionRecord],
        reason: str,
        events: Sequence[event_pb2.Event],
    ) -> None:
        if not records:
            return
        operations = [_revoke_op(record, reason) for record in records]
        await self._sessions.commit(user_id, operations, events)


def _session_document(session: resources_pb2.Session, ttl_seconds: int) -> Document:
    return {
        "id": session.id,
        "kind": "session",
        "deviceLabel": session.device_label,
        "ipAddress": session.ip_address,
        "userAgent": session.user_agent,
        "scopeOrganizationId": session.organization_id,
        "createTime": time_text(session.create_time.ToDatetime(tzinfo=UTC)),
        "lastSeenTime": time_text(session.last_seen_time.ToDatetime(tzinfo=UTC)),
        "revoked": False,
        "revokeReason": "",
        "ttl": ttl_seconds,
    }


def _refresh_document(token_hash: str, session_id: str, ttl_seconds: int) -> Document:
    return {
        "id": _refresh_id(token_hash),
        "kind": "refresh",
        "sessionId": session_id,
        "spent": False,
        "ttl": ttl_seconds,
    }


def _revoke_op(record: SessionRecord, reason: str) -> BatchOp:
    ops = [PatchOp("set", "/revoked", True), PatchOp("set", "/revokeReason", reason)]
    return BatchOp.patch_doc(record.session.id, ops)


def _session_record(user_id: str, document: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        session=session_from_document(document),
        user_id=user_id,
        revoked=bool(document["revoked"]),
        etag=document["_etag"],
    )
