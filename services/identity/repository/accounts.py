"""Every storage query of accounts: container `users`.

A user's records — the account and its password credential — are partitioned by the user's id
(users exist before any organization). Platform-wide uniqueness of emails and of linked
external identities lives in `SYSTEM_PARTITION` of the same container.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    user_document,
    user_from_document,
)
from services.kit import DocumentExists, DocumentNotFound, EtagMismatch, Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    SYSTEM_PARTITION,
    BatchOp,
    ContainerSpec,
    DocumentStore,
    PatchOp,
    reservation_id,
)

USERS = "users"

CONTAINERS = (ContainerSpec(USERS, indexes=("/kind",), outbox=True),)

PASSWORD_DOC = "password"  # noqa: S105 (the credential document id)


@dataclass(slots=True)
class Credential:
    """A user's password credential and its lockout state: `failed_attempts` counts the
    attempts since the last success or lock, those still being checked included."""

    user_id: str
    password_hash: str
    history: list[str]
    failed_attempts: int
    locked_until: str | None
    etag: str


def _email_id(email: str) -> str:
    return reservation_id("email", email)


def _external_id(issuer: str, subject: str) -> str:
    # Hashed: issuers are URLs and subjects free text, neither fit for a document id.
    digest = hashlib.sha256(f"{issuer}\0{subject}".encode()).hexdigest()
    return f"ext:{digest}"


class AccountRepository(Repository):
    """Reads and atomic writes of accounts, credentials and external identities."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._users = self.entities(USERS)

    # --- users and credentials -----------------------------------------------------------------

    async def claim_email(self, email: str, user_id: str) -> bool:
        """Reserve an email for a user; False when another account holds it."""
        try:
            await self._users.container.create(
                SYSTEM_PARTITION, {"id": _email_id(email), "kind": "email", "userId": user_id}
            )
        except DocumentExists:
            return False
        return True

    async def release_email(self, email: str) -> None:
        with contextlib.suppress(DocumentNotFound):
            await self._users.container.delete(SYSTEM_PARTITION, _email_id(email))

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
        await self._users.commit(user.id, operations, [event])

    async def get_user(self, user_id: str) -> resources_pb2.User | None:
        document = await self._users.get(user_id, user_id)
        if document is None or document.get("kind") != "user":
            return None
        return user_from_document(document)

    async def replace_user(
        self, user: resources_pb2.User, if_match: str, event: event_pb2.Event
    ) -> resources_pb2.User:
        """Overwrite the account unless it changed since `if_match` (EtagMismatch)."""
        operation = BatchOp.replace(user_document(user), if_match=if_match)
        written = await self._users.commit(user.id, [operation], [event])
        return user_from_document(written[0])

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

    async def reserve_attempt(self, credential: Credential, attempts: int) -> bool:
        """Count a sign-in attempt before its password is checked: store `attempts` (and clear
        an expired lock) unless the credential changed since it was read. False means another
        attempt got there first: read again. The etag makes it one compare-and-set for every
        replica sharing the store."""
        ops = [PatchOp("set", "/failedAttempts", attempts), PatchOp("set", "/lockedUntil", None)]
        try:
            await self._users.container.patch(
                credential.user_id, PASSWORD_DOC, ops, if_match=credential.etag
            )
        except EtagMismatch:
            return False
        return True

    async def lock_account(self, user_id: str, locked_until: str) -> None:
        ops = [
            PatchOp("set", "/failedAttempts", 0),
            PatchOp("set", "/lockedUntil", locked_until),
        ]
        await self._users.container.patch(user_id, PASSWORD_DOC, ops)

    async def record_success(self, user_id: str, new_hash: str | None) -> None:
        """Clear the attempt count (and store a rehash done with current parameters)."""
        ops = [PatchOp("set", "/failedAttempts", 0), PatchOp("set", "/lockedUntil", None)]
        if new_hash is not None:
            ops.append(PatchOp("set", "/hash", new_hash))
        await self._users.container.patch(user_id, PASSWORD_DOC, ops)

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
        await self._users.commit(credential.user_id, [operation], [event])

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
            await self._users.commit(SYSTEM_PARTITION, [BatchOp.create(link)], [event])
        except DocumentExists:
            winner = await self.external_user(issuer, subject)
            assert winner is not None
            return winner
        return user_id
