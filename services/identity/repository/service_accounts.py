"""Every storage query of service accounts: container `service_accounts`, partitioned by
organization id. Each write carries its outbox event in the same batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import (
    service_account_document,
    service_account_from_document,
    stamp_text,
    time_text,
)
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, ContainerSpec, DocumentStore, F, PatchOp, Query

SERVICE_ACCOUNTS = "service_accounts"
CONTAINERS = (ContainerSpec(SERVICE_ACCOUNTS, indexes=("/kind", "/createTime"), outbox=True),)


@dataclass(slots=True)
class ServiceAccountRecord:
    """A stored service account with the hash of its secret and its version."""

    account: resources_pb2.ServiceAccount
    secret_hash: str
    etag: str


class ServiceAccountRepository(Repository):
    """Reads and atomic writes of service accounts."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._accounts = self.entities(SERVICE_ACCOUNTS)

    async def create(
        self, account: resources_pb2.ServiceAccount, secret_hash: str, event: event_pb2.Event
    ) -> None:
        document = service_account_document(account, secret_hash)
        await self._accounts.commit(account.organization_id, [BatchOp.create(document)], [event])

    async def get(self, organization_id: str, account_id: str) -> ServiceAccountRecord | None:
        document = await self._accounts.get(organization_id, account_id)
        if document is None or document.get("kind") != "service_account":
            return None
        return ServiceAccountRecord(
            service_account_from_document(organization_id, document),
            str(document["secretHash"]),
            str(document["_etag"]),
        )

    async def page(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.ServiceAccount], str | None]:
        query = (
            Query()
            .where(F("kind") == "service_account")
            .order_by("createTime")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._accounts.page(query, organization_id)
        accounts = [service_account_from_document(organization_id, d) for d in page.items]
        return accounts, page.continuation

    async def replace_secret(
        self, record: ServiceAccountRecord, secret_hash: str, event: event_pb2.Event
    ) -> None:
        """The new secret's hash, unless the account changed meanwhile (EtagMismatch)."""
        account = record.account
        ops = [
            PatchOp("set", "/secretHash", secret_hash),
            PatchOp("set", "/secretCreateTime", stamp_text(account.secret_create_time)),
            PatchOp("set", "/updateTime", stamp_text(account.update_time)),
        ]
        operation = BatchOp.patch_doc(account.id, ops, if_match=record.etag)
        await self._accounts.commit(account.organization_id, [operation], [event])

    async def disable(self, record: ServiceAccountRecord, event: event_pb2.Event) -> None:
        account = record.account
        ops = [
            PatchOp("set", "/disabled", True),
            PatchOp("set", "/updateTime", stamp_text(account.update_time)),
        ]
        await self._accounts.commit(
            account.organization_id, [BatchOp.patch_doc(account.id, ops)], [event]
        )

    async def delete(self, account: resources_pb2.ServiceAccount, event: event_pb2.Event) -> None:
        await self._accounts.commit(account.organization_id, [BatchOp.delete(account.id)], [event])

    async def record_use(
        self, account: resources_pb2.ServiceAccount, used: datetime, event: event_pb2.Event
    ) -> None:
        ops = [PatchOp("set", "/lastUsedTime", time_text(used))]
        await self._accounts.commit(
            account.organization_id, [BatchOp.patch_doc(account.id, ops)], [event]
        )
