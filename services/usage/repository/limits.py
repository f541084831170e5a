"""Quotas and budgets: containers `quotas` and `budgets`, partitioned by organization."""

from __future__ import annotations

from coder.usage.v1 import resources_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, DocumentStore, Query
from services.usage._mapping import (
    budget_document,
    budget_from_document,
    quota_document,
    quota_from_document,
)

QUOTAS = "quotas"
BUDGETS = "budgets"


class LimitsRepository(Repository):
    """Reads and writes of quotas and budgets."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._quotas = self.entities(QUOTAS)
        self._budgets = self.entities(BUDGETS)

    # --- quotas --------------------------------------------------------------------------------

    async def get_quota(self, organization_id: str, quota_id: str) -> resources_pb2.Quota | None:
        document = await self._quotas.get(organization_id, quota_id)
        return None if document is None else quota_from_document(document)

    async def list_quotas(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Quota], str | None]:
        """Newest first."""
        query = Query().order_by("createTime", desc=True).limit(page_size).after(continuation)
        page = await self._quotas.page(query, organization_id)
        return [quota_from_document(d) for d in page.items], page.continuation

    async def all_quotas(self, organization_id: str) -> list[resources_pb2.Quota]:
        return [quota_from_document(d) for d in await self._quotas.every(Query(), organization_id)]

    async def count_quotas(self, organization_id: str) -> int:
        return await self._quotas.count(Query(), organization_id)

    async def create_quota(
        self, organization_id: str, quota: resources_pb2.Quota
    ) -> resources_pb2.Quota:
        written = await self._quotas.commit(
            organization_id, [BatchOp.create(quota_document(quota))]
        )
        return quota_from_document(written[0])

    async def replace_quota(
        self, organization_id: str, quota: resources_pb2.Quota, if_match: str
    ) -> resources_pb2.Quota:
        operation = BatchOp.replace(quota_document(quota), if_match=if_match)
        written = await self._quotas.commit(organization_id, [operation])
        return quota_from_document(written[0])

    async def delete_quota(self, organization_id: str, quota_id: str, if_match: str) -> None:
        await self._quotas.commit(organization_id, [BatchOp.delete(quota_id, if_match=if_match)])

    # --- budgets -------------------------------------------------------------------------------

    async def get_budget(self, organization_id: str, budget_id: str) -> resources_pb2.Budget | None:
        document = await self._budgets.get(organization_id, budget_id)
        return None if document is None else budget_from_document(document)

    async def list_budgets(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Budget], str | None]:
        """Newest first."""
        query = Query().order_by("createTime", desc=True).limit(page_size).after(continuation)
        page = await self._budgets.page(query, organization_id)
        return [budget_from_document(d) for d in page.items], page.continuation

    async def all_budgets(self, organization_id: str) -> list[resources_pb2.Budget]:
        documents = await self._budgets.every(Query(), organization_id)
        return [budget_from_document(d) for d in documents]

    async def count_budgets(self, organization_id: str) -> int:
        return await self._budgets.count(Query(), organization_id)

    async def create_budget(
        self, organization_id: str, budget: resources_pb2.Budget
    ) -> resources_pb2.Budget:
        operation = BatchOp.create(budget_document(budget))
        written = await self._budgets.commit(organization_id, [operation])
        return budget_from_document(written[0])

    async def replace_budget(
        self, organization_id: str, budget: resources_pb2.Budget, if_match: str
    ) -> resources_pb2.Budget:
        operation = BatchOp.replace(budget_document(budget), if_match=if_match)
        written = await self._budgets.commit(organization_id, [operation])
        return budget_from_document(written[0])

    async def delete_budget(self, organization_id: str, budget_id: str, if_match: str) -> None:
        operation = BatchOp.delete(budget_id, if_match=if_match)
        await self._budgets.commit(organization_id, [operation])
