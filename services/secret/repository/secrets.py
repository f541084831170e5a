"""Secrets, their name claims and versions (container `secrets`)."""

from __future__ import annotations

from collections.abc import Sequence

from coder.events.v1 import event_pb2
from services.kit import Repository
from services.kit.bus import ENTITIES_ONLY, OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    DocumentStore,
    F,
    Query,
)
from services.secret._mapping import (
    NAME_KIND,
    SECRET_KIND,
    VERSION_KIND,
    SecretRecord,
    VersionRecord,
    name_claim_document,
    name_claim_id,
    scope_key,
    secret_document,
    secret_from_document,
    version_document,
    version_from_document,
    version_id,
)

SECRETS = "secrets"


class SecretRepository(Repository):
    """Reads and atomic writes of secrets and their versions."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._secrets = self.entities(SECRETS)

    # --- secrets: reads ------------------------------------------------------------------------

    async def secret(self, organization_id: str, secret_id: str) -> SecretRecord | None:
        document = await self._secrets.get(organization_id, secret_id)
        if document is None or document.get("kind") != SECRET_KIND:
            return None
        return secret_from_document(document)

    async def secret_by_name(
        self, organization_id: str, scope: int, scope_id: str, name: str
    ) -> SecretRecord | None:
        """Two point reads: the name's claim, then the secret it names."""
        claim = await self._secrets.get(organization_id, name_claim_id(scope, scope_id, name))
        if claim is None or claim.get("kind") != NAME_KIND:
            return None
        return await self.secret(organization_id, claim["secretId"])

    async def list_secrets(
        self,
        organization_id: str,
        *,
        state: int,
        scope: int,
        scope_id: str | None,
        type: int,
        name_prefix: str,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[SecretRecord], str | None]:
        """By name, then id."""
        query = Query().where(F("kind") == SECRET_KIND, F("state") == state)
        if scope and scope_id is not None:
            query = query.where(F("scopeKey") == scope_key(scope, scope_id))
        elif scope:
            query = query.where(F("scope") == scope)
        if type:
            query = query.where(F("type") == type)
        if name_prefix:
            query = query.where(F("name").startswith(name_prefix))
        query = query.order_by("name").limit(page_size).after(continuation)
        page = await self._secrets.page(query, organization_id)
        return [secret_from_document(d) for d in page.items], page.continuation

    async def every_secret(
        self, organization_id: str, *, state: int, scope: int, scope_id: str | None
    ) -> list[SecretRecord]:
        query = Query().where(F("kind") == SECRET_KIND, F("state") == state)
        if scope and scope_id is not None:
            query = query.where(F("scopeKey") == scope_key(scope, scope_id))
        elif scope:
            query = query.where(F("scope") == scope)
        return [secret_from_document(d) for d in await self._secrets.every(query, organization_id)]

    async def due(self, now: str, limit: int) -> list[SecretRecord]:
        """Secrets of every organization whose next deadline has come, earliest first."""
        query = (
            Query()
            .where(ENTITIES_ONLY, F("kind") == SECRET_KIND, F("nextDeadline") <= now)
            .order_by("nextDeadline")
            .limit(limit)
        )
        page = await self._secrets.container.query(query, partition=None)
        return [secret_from_document(d) for d in page.items]

    # --- secrets: writes -----------------------------------------------------------------------

    async def create(
        self,
        record: SecretRecord,
        version: VersionRecord,
        events: Sequence[event_pb2.Event],
    ) -> SecretRecord:
        """The secret, its name claim and its first version in one batch; DocumentExists when
        the name is taken in its scope."""
        organization_id = record.organization_id
        operations = [
            BatchOp.create(name_claim_document(record)),
            BatchOp.create(secret_document(record)),
            BatchOp.create(version_document(organization_id, record.id, version)),
        ]
        written = await self._secrets.commit(organization_id, operations, events)
        return secret_from_document(written[1])

    async def replace(
        self,
        record: SecretRecord,
        if_match: str,
        events: Sequence[event_pb2.Event] = (),
    ) -> SecretRecord:
        operation = BatchOp.replace(secret_document(record), if_match=if_match)
        written = await self._secrets.commit(record.organization_id, [operation], events)
        return secret_from_document(written[0])

    async def add_version(
        self,
        record: SecretRecord,
        if_match: str,
        version: VersionRecord,
        dropped: Sequence[int],
        events: Sequence[event_pb2.Event],
    ) -> SecretRecord:
        """The new version, the secret pointing at it and the removal of the versions past
        those kept, in one batch; EtagMismatch when the secret changed since `if_match`."""
        organization_id = record.organization_id
        operations = [
            BatchOp.replace(secret_document(record), if_match=if_match),
            BatchOp.create(version_document(organization_id, record.id, version)),
            *(BatchOp.delete(version_id(record.id, number)) for number in dropped),
        ]
        written = await self._secrets.commit(organization_id, operations, events)
        return secret_from_document(written[0])

    async def move(
        self,
        before: SecretRecord,
        after: SecretRecord,
        events: Sequence[event_pb2.Event],
    ) -> SecretRecord:
        """Release the old name claim, claim the new one and store the secret, in one batch;
        DocumentExists when the new name is taken."""
        old = before.secret
        operations = [
            BatchOp.delete(name_claim_id(old.scope, old.scope_id, old.name)),
            BatchOp.create(name_claim_document(after)),
            BatchOp.replace(secret_document(after), if_match=before.etag),
        ]
        written = await self._secrets.commit(after.organization_id, operations, events)
        return secret_from_document(written[2])

    async def soft_delete(
        self, record: SecretRecord, if_match: str, events: Sequence[event_pb2.Event]
    ) -> SecretRecord:
        """The secret marked deleted and its name released, in one batch."""
        secret = record.secret
        operations = [
            BatchOp.replace(secret_document(record), if_match=if_match),
            BatchOp.delete(name_claim_id(secret.scope, secret.scope_id, secret.name)),
        ]
        written = await self._secrets.commit(record.organization_id, operations, events)
        return secret_from_document(written[0])

    async def restore(
        self, record: SecretRecord, if_match: str, events: Sequence[event_pb2.Event]
    ) -> SecretRecord:
        """The name claimed again and the secret active, in one batch; DocumentExists when
        another secret took the name meanwhile."""
        operations = [
            BatchOp.create(name_claim_document(record)),
            BatchOp.replace(secret_document(record), if_match=if_match),
        ]
        written = await self._secrets.commit(record.organization_id, operations, events)
        return secret_from_document(written[1])

    async def purge(
        self, record: SecretRecord, if_match: str, events: Sequence[event_pb2.Event]
    ) -> None:
        """The secret in one batch with its event, then its versions batch by batch. Once the
        first batch is in, the versions are unreachable (no secret names them), so a crash
        between batches leaves unreachable ciphertext (under a data key only its KEK opens),
        never a half-purged secret."""
        operations = [BatchOp.delete(record.id, if_match=if_match)]
        await self._secrets.commit(record.organization_id, operations, events)
        await self._delete_versions(record.organization_id, record.id)

    async def _delete_versions(self, organization_id: str, secret_id: str) -> None:
        query = (
            Query()
            .where(F("kind") == VERSION_KIND, F("secretId") == secret_id)
            .limit(MAX_BATCH_OPERATIONS)
        )
        while True:
            page = await self._secrets.page(query, organization_id)
            if not page.items:
                return
            deletions = [BatchOp.delete(d["id"]) for d in page.items]
            await self._secrets.commit(organization_id, deletions)

    async def record_event(self, organization_id: str, event: event_pb2.Event) -> None:
        """An event of no single secret (a rewrap), through the outbox."""
        await self._secrets.commit(organization_id, [], [event])

    # --- versions ------------------------------------------------------------------------------

    async def version(
        self, organization_id: str, secret_id: str, number: int
    ) -> VersionRecord | None:
        """One point read."""
        document = await self._secrets.get(organization_id, version_id(secret_id, number))
        if document is None or document.get("kind") != VERSION_KIND:
            return None
        return version_from_document(document)

    async def versions(self, organization_id: str, secret_id: str) -> list[VersionRecord]:
        """Newest first."""
        query = (
            Query()
            .where(F("kind") == VERSION_KIND, F("secretId") == secret_id)
            .order_by("version", desc=True)
        )
        documents = await self._secrets.every(query, organization_id)
        return [version_from_document(d) for d in documents]

    async def versions_not_under(
        self, organization_id: str | None, key_id: str, limit: int
    ) -> list[tuple[str, VersionRecord, str]]:
        """Up to `limit` versions (of one organization, or of all) whose data key another KEK
        wraps, each with its organization and etag."""
        query = (
            Query()
            .where(ENTITIES_ONLY, F("kind") == VERSION_KIND, F("keyId") != key_id)
            .limit(limit)
        )
        page = await self._secrets.container.query(query, partition=organization_id)
        return [
            (d["organizationId"], version_from_document(d), d.get("_etag", "")) for d in page.items
        ]

    async def replace_version(
        self, organization_id: str, version: VersionRecord, if_match: str
    ) -> None:
        """A version's rewrapped data key; EtagMismatch when it changed meanwhile."""
        document = version_document(organization_id, version.secret_id, version)
        await self._secrets.container.replace(organization_id, document, if_match=if_match)

    async def key_usage(self, organization_id: str) -> dict[str, int]:
        """How many of the organization's versions each KEK wraps."""
        query = Query().where(F("kind") == VERSION_KIND)
        usage: dict[str, int] = {}
        for document in await self._secrets.every(query, organization_id):
            usage[document["keyId"]] = usage.get(document["keyId"], 0) + 1
        return usage
