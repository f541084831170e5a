"""The organization's own prices: container `prices`, partitioned by organization."""

from __future__ import annotations

from coder.usage.v1 import resources_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, DocumentStore, F, Query
from services.usage._mapping import price_document, price_from_document

PRICES = "prices"


class PricesRepository(Repository):
    """Reads and writes of prices."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._prices = self.entities(PRICES)

    async def get_price(self, organization_id: str, price_id: str) -> resources_pb2.Price | None:
        document = await self._prices.get(organization_id, price_id)
        return None if document is None else price_from_document(document)

    async def list_prices(
        self, organization_id: str, meter: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Price], str | None]:
        """Newest effective date first."""
        query = Query()
        if meter:
            query = query.where(F("meter") == meter)
        query = query.order_by("effectiveFrom", desc=True).limit(page_size).after(continuation)
        page = await self._prices.page(query, organization_id)
        return [price_from_document(d) for d in page.items], page.continuation

    async def all_prices(self, organization_id: str) -> list[resources_pb2.Price]:
        documents = await self._prices.every(Query(), organization_id)
        return [price_from_document(d) for d in documents]

    async def count_prices(self, organization_id: str) -> int:
        return await self._prices.count(Query(), organization_id)

    async def create_price(
        self, organization_id: str, price: resources_pb2.Price
    ) -> resources_pb2.Price:
        written = await self._prices.commit(
            organization_id, [BatchOp.create(price_document(price))]
        )
        return price_from_document(written[0])

    async def delete_price(self, organization_id: str, price_id: str) -> None:
        await self._prices.commit(organization_id, [BatchOp.delete(price_id)])
