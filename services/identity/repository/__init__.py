"""Every storage query of the identity service.

Partitioning (see README.md): users exist before any organization, so a user's own records —
account, password credential, sessions with their refresh tokens, and the index of their
memberships — are partitioned by the user's id. Organization data — the organization, its
members, custom roles and audit trail — is partitioned by organization id. Platform-wide
uniqueness (emails, slugs) and the signing keys live in `SYSTEM_PARTITION`.

A write that must be atomic stays inside one container and partition, with its outbox events
in the same batch. Writes that span partitions (a unique email or slug, a membership and its
per-user mirror) are ordered so that a failure leaves nothing a reader trusts, and compensate.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    audit_from_document,
    member_document,
    member_from_document,
    organization_document,
    organization_from_document,
    role_document,
    role_from_document,
    session_from_document,
    time_text,
    user_document,
    user_from_document,
)
from services.kit import DocumentExists, DocumentNotFound
from services.kit.bus import OUTBOX_INDEXES, OutboxRelay, outbox_document
from services.kit.store import (
    SYSTEM_PARTITION,
    BatchOp,
    Container,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    PatchOp,
    Query,
)

USERS = "users"
SESSIONS = "sessions"
ORGANIZATIONS = "organizations"
MEMBERSHIPS = "memberships"
ROLES = "roles"
AUDIT = "audit"
SIGNING_KEYS = "signing_keys"

CONTAINERS = (
    ContainerSpec(USERS, indexes=("/kind", *OUTBOX_INDEXES)),
    ContainerSpec(
        SESSIONS,
        indexes=("/kind", "/sessionId", "/revoked", "/createTime", *OUTBOX_INDEXES),
    ),
    ContainerSpec(ORGANIZATIONS, indexes=("/kind", *OUTBOX_INDEXES)),
    ContainerSpec(
        MEMBERSHIPS, indexes=("/kind", "/role", "/joinTime", "/lastUsedTime", *OUTBOX_INDEXES)
    ),
    ContainerSpec(ROLES, indexes=("/kind", "/createTime", *OUTBOX_INDEXES)),
    ContainerSpec(AUDIT, indexes=("/time",)),
    ContainerSpec(SIGNING_KEYS, indexes=("/kind", "/notAfter")),
)
OUTBOX_CONTAINERS = (USERS, SESSIONS, ORGANIZATIONS, MEMBERSHIPS, ROLES)

PASSWORD_DOC = "password"  # noqa: S105 (the credential document id)
_SCAN = 1000


@dataclass(slots=True)
class Credential:
    """A user's password credential and its lockout state."""

    user_id: str
    password_hash: str
    history: list[str]
    failed_attempts: int
    locked_until: str | None
    etag: str


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


def _email_id(email: str) -> str:
    return f"email:{email}"


def _external_id(issuer: str, subject: str) -> str:
    # Hashed: issuers are URLs and subjects free text, neither fit for a document id.
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()
    return f"ext:{digest}"


def _slug_id(slug: str) -> str:
    return f"slug:{slug}"


def _role_name_id(name: str) -> str:
    return f"name:{name.casefold()}"


class IdentityRepository:
    """Reads and atomic writes of the identity entities, for one process's store."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        self._users = store.container(USERS)
        self._sessions = store.container(SESSIONS)
        self._organizations = store.container(ORGANIZATIONS)
        self._memberships = store.container(MEMBERSHIPS)
        self._roles = store.container(ROLES)
        self._audit = store.container(AUDIT)
        self._keys = store.container(SIGNING_KEYS)
        self._relay = relay

    async def _commit(
        self,
        container: Container,
        partition: str,
        operations: Sequence[BatchOp],
        events: Sequence[event_pb2.Event],
    ) -> list[Document]:
        """A state change and its events in one atomic batch (the transactional outbox)."""
        outbox = [BatchOp.create(outbox_document(event)) for event in events]
        written = await container.batch(partition, [*operations, *outbox])
        if self._relay is not None and events:
            self._relay.notify()
        return written

    async def _all(self, container: Container, query: Query, partition: str) -> list[Document]:
        found: list[Document] = []
        continuation: str | None = None
        while True:
            page = await container.query(
                query.limit(_SCAN).after(continuation), partition=partition
            )
            found.extend(page.items)
            continuation = page.continuation
            if not continuation:
                return found

    # --- users and credentials -----------------------------------------------------------------

    async def claim_email(self, email: str, user_id: str) -> bool:
        """Reserve an email for a user; False when another account holds it."""
        try:
            await self._users.create(
                SYSTEM_PARTITION, {"id": _email_id(email), "kind": "email", "userId": user_id}
            )
        except DocumentExists:
            return False
        return True

    async def release_email(self, email: str) -> None:
        with contextlib.suppress(DocumentNotFound):
            await self._users.delete(SYSTEM_PARTITION, _email_id(email))

    async def user_id_by_email(self, email: str) -> str | None:
        document = await self._users.get(SYSTEM_PARTITION, _email_id(email))
        return None if document is None else str(document["userId"])

    async def create_user(
        self, user: resources_pb2.User, password_hash: str | None, event: event_pb2.Event
    ) -> None:
        """The account, with its password credential unless it signs in only externally."""
        operations = [BatchOp.create(user_document(user))]
        if password_hash is not None:
            credential = {
                "id": PASSWORD_DOC,
                "kind": "credential",
                "hash": password_hash,
                "history": [],
                "failedAttempts": 0,
                "lockedUntil": None,
            }
            operations.append(BatchOp.create(credential))
        await self._commit(self._users, user.id, operations, [event])

    async def get_user(self, user_id: str) -> resources_pb2.User | None:
        document = await self._users.get(user_id, user_id)
        if document is None or document.get("kind") != "user":
            return None
        return user_from_document(document)

    async def replace_user(self, user: resources_pb2.User, event: event_pb2.Event) -> None:
        await self._commit(self._users, user.id, [BatchOp.upsert(user_document(user))], [event])

    async def get_credential(self, user_id: str) -> Credential | None:
        document = await self._users.get(user_id, PASSWORD_DOC)
        if document is None:
            return None
        return Credential(
            user_id=user_id,
            password_hash=document["hash"],
            history=list(document["history"]),
            failed_attempts=int(document["failedAttempts"]),
            locked_until=document["lockedUntil"],
            etag=document["_etag"],
        )

    async def record_failure(self, user_id: str) -> int:
        """Count a failed attempt; the count after it (concurrent failures all count)."""
        written = await self._users.patch(
            user_id, PASSWORD_DOC, [PatchOp("incr", "/failedAttempts", 1)]
        )
        return int(written["failedAttempts"])

    async def lock_account(self, user_id: str, locked_until: str) -> None:
        ops = [
            PatchOp("set", "/failedAttempts", 0),
            PatchOp("set", "/lockedUntil", locked_until),
        ]
        await self._users.patch(user_id, PASSWORD_DOC, ops)

    async def record_success(self, credential: Credential, new_hash: str | None) -> None:
        """Clear the failure count (and store a rehash done with current parameters)."""
        ops = [PatchOp("set", "/failedAttempts", 0), PatchOp("set", "/lockedUntil", None)]
        if new_hash is not None:
            ops.append(PatchOp("set", "/hash", new_hash))
        if credential.failed_attempts or credential.locked_until or new_hash is not None:
            await self._users.patch(credential.user_id, PASSWORD_DOC, ops)

    async def change_password(
        self,
        credential: Credential,
        new_hash: str,
        history: list[str],
        event: event_pb2.Event,
    ) -> None:
        """Replace the hash unless the credential changed meanwhile (EtagMismatch)."""
        ops = [
            PatchOp("set", "/hash", new_hash),
            PatchOp("set", "/history", history),
            PatchOp("set", "/failedAttempts", 0),
            PatchOp("set", "/lockedUntil", None),
        ]
        operation = BatchOp.patch_doc(PASSWORD_DOC, ops, if_match=credential.etag)
        await self._commit(self._users, credential.user_id, [operation], [event])

    # --- external identities -----------------------------------------------------------------

    async def external_user(self, issuer: str, subject: str) -> str | None:
        """The account an OIDC issuer + subject is linked to."""
        document = await self._users.get(SYSTEM_PARTITION, _external_id(issuer, subject))
        return None if document is None else str(document["userId"])

    async def link_external(
        self, issuer: str, subject: str, user_id: str, event: event_pb2.Event
    ) -> str:
        """Link issuer + subject to an account; the account it is linked to (another one when
        a concurrent sign-in linked it first)."""
        link = {
            "id": _external_id(issuer, subject),
            "kind": "external_identity",
            "issuer": issuer,
            "subject": subject,
            "userId": user_id,
        }
        try:
            await self._commit(self._users, SYSTEM_PARTITION, [BatchOp.create(link)], [event])
        except DocumentExists:
            winner = await self.external_user(issuer, subject)
            assert winner is not None
            return winner
        return user_id

    # --- sessions and refresh tokens -----------------------------------------------------------

    async def active_sessions(self, user_id: str) -> list[SessionRecord]:
        """Active sessions, oldest first."""
        query = (
            Query()
            .where(F("kind") == "session", F("revoked") == False)  # noqa: E712
            .order_by("createTime")
        )
        documents = await self._all(self._sessions, query, user_id)
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
        await self._commit(self._sessions, user_id, operations, events)

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
        await self._commit(self._sessions, user_id, operations, [event])

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
        await self._commit(self._sessions, user_id, operations, events)

    # --- organizations -------------------------------------------------------------------------

    async def claim_slug(self, slug: str, organization_id: str) -> bool:
        try:
            await self._organizations.create(
                SYSTEM_PARTITION,
                {"id": _slug_id(slug), "kind": "slug", "organizationIdRef": organization_id},
            )
        except DocumentExists:
            return False
        return True

    async def release_slug(self, slug: str) -> None:
        with contextlib.suppress(DocumentNotFound):
            await self._organizations.delete(SYSTEM_PARTITION, _slug_id(slug))

    async def create_organization(
        self, organization: resources_pb2.Organization, event: event_pb2.Event
    ) -> None:
        operation = BatchOp.create(organization_document(organization))
        await self._commit(self._organizations, organization.id, [operation], [event])

    async def get_organization(self, organization_id: str) -> resources_pb2.Organization | None:
        document = await self._organizations.get(organization_id, organization_id)
        if document is None or document.get("kind") != "organization":
            return None
        return organization_from_document(document)

    async def replace_organization(
        self, organization: resources_pb2.Organization, event: event_pb2.Event
    ) -> None:
        operation = BatchOp.upsert(organization_document(organization))
        await self._commit(self._organizations, organization.id, [operation], [event])

    # --- memberships ---------------------------------------------------------------------------

    async def add_member(self, member: resources_pb2.Member, event: event_pb2.Event) -> None:
        """The authoritative membership first, then the user's mirror of it."""
        operation = BatchOp.create(member_document(member))
        await self._commit(self._memberships, member.organization_id, [operation], [event])
        await self._memberships.upsert(
            member.user_id,
            {
                "id": member.organization_id,
                "kind": "membership",
                "organizationIdRef": member.organization_id,
                "lastUsedTime": time_text(member.join_time.ToDatetime(tzinfo=UTC)),
            },
        )

    async def get_member(self, organization_id: str, user_id: str) -> resources_pb2.Member | None:
        document = await self._memberships.get(organization_id, user_id)
        if document is None or document.get("kind") != "member":
            return None
        return member_from_document(organization_id, document)

    async def list_members(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Member], str | None]:
        query = (
            Query()
            .where(F("kind") == "member")
            .order_by("joinTime")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._memberships.query(query, partition=organization_id)
        return [member_from_document(organization_id, d) for d in page.items], page.continuation

    async def count_role(self, organization_id: str, role: str) -> int:
        query = Query().where(F("kind") == "member", F("role") == role)
        return await self._memberships.count(query, partition=organization_id)

    async def set_member_role(self, member: resources_pb2.Member, event: event_pb2.Event) -> None:
        operation = BatchOp.patch_doc(member.user_id, [PatchOp("set", "/role", member.role)])
        await self._commit(self._memberships, member.organization_id, [operation], [event])

    async def remove_member(self, member: resources_pb2.Member, event: event_pb2.Event) -> None:
        """The authoritative membership first; a leftover mirror is ignored by readers."""
        operation = BatchOp.delete(member.user_id)
        await self._commit(self._memberships, member.organization_id, [operation], [event])
        with contextlib.suppress(DocumentNotFound):
            await self._memberships.delete(member.user_id, member.organization_id)

    async def user_memberships(self, user_id: str) -> list[tuple[str, str]]:
        """(organization id, last used time) of the user's mirror docs, most recent first."""
        query = Query().where(F("kind") == "membership").order_by("lastUsedTime", desc=True)
        documents = await self._all(self._memberships, query, user_id)
        return [(d["organizationIdRef"], d["lastUsedTime"]) for d in documents]

    async def touch_membership(self, user_id: str, organization_id: str, used: datetime) -> None:
        with contextlib.suppress(DocumentNotFound):
            await self._memberships.patch(
                user_id, organization_id, [PatchOp("set", "/lastUsedTime", time_text(used))]
            )

    # --- roles ---------------------------------------------------------------------------------

    async def create_role(self, role: resources_pb2.Role, event: event_pb2.Event) -> None:
        """The role and its name reservation in one batch, so names stay unique."""
        operations = [
            BatchOp.create(role_document(role)),
            BatchOp.create({"id": _role_name_id(role.name), "kind": "role_name"}),
        ]
        await self._commit(self._roles, role.organization_id, operations, [event])

    async def get_role(self, organization_id: str, role_id: str) -> resources_pb2.Role | None:
        document = await self._roles.get(organization_id, role_id)
        if document is None or document.get("kind") != "role":
            return None
        return role_from_document(organization_id, document)

    async def list_roles(self, organization_id: str) -> list[resources_pb2.Role]:
        query = Query().where(F("kind") == "role").order_by("createTime")
        documents = await self._all(self._roles, query, organization_id)
        return [role_from_document(organization_id, d) for d in documents]

    async def replace_role(
        self, role: resources_pb2.Role, previous_name: str, if_match: str, event: event_pb2.Event
    ) -> resources_pb2.Role:
        operations = [BatchOp.replace(role_document(role), if_match=if_match)]
        if _role_name_id(previous_name) != _role_name_id(role.name):
            operations += [
                BatchOp.delete(_role_name_id(previous_name)),
                BatchOp.create({"id": _role_name_id(role.name), "kind": "role_name"}),
            ]
        written = await self._commit(self._roles, role.organization_id, operations, [event])
        return role_from_document(role.organization_id, written[0])

    async def delete_role(self, role: resources_pb2.Role, event: event_pb2.Event) -> None:
        operations = [BatchOp.delete(role.id), BatchOp.delete(_role_name_id(role.name))]
        await self._commit(self._roles, role.organization_id, operations, [event])

    # --- audit ---------------------------------------------------------------------------------

    async def add_audit(self, partition: str, document: Document) -> None:
        await self._audit.create(partition, document)

    async def list_audit(
        self, partition: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.AuditEvent], str | None]:
        query = Query().order_by("time", desc=True).limit(page_size).after(continuation)
        page = await self._audit.query(query, partition=partition)
        return [audit_from_document(d) for d in page.items], page.continuation

    # --- signing keys --------------------------------------------------------------------------

    async def get_signing_key(self, key_id: str) -> Document | None:
        return await self._keys.get(SYSTEM_PARTITION, key_id)

    async def create_signing_key(self, document: Document) -> Document:
        """Create the key of a rotation period; the winner's document if another replica
        created it first (its id is fixed per period)."""
        try:
            return await self._keys.create(SYSTEM_PARTITION, document)
        except DocumentExists:
            existing = await self._keys.get(SYSTEM_PARTITION, document["id"])
            assert existing is not None
            return existing

    async def signing_keys_valid_after(self, not_after: str) -> list[Document]:
        query = Query().where(F("kind") == "signing_key", F("notAfter") > not_after)
        return await self._all(self._keys, query, SYSTEM_PARTITION)


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
