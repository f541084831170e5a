"""Every storage query of the AI service: providers, models and their name claims, and the
outbox of its events (container `ai`, partitioned by organization).

A name claim (`provider-name:<name>`, `model-name:<name>`) is written in the same batch as the
entity, so two concurrent creates of one name cannot both succeed. Completion events are
committed on their own (a batch of outbox documents only): a completion changes no state.
"""

from __future__ import annotations

from collections.abc import Sequence

from coder.ai.v1 import resources_pb2
from coder.events.v1 import event_pb2
from services.ai._mapping import (
    MODEL_KIND,
    NAME_KIND,
    PROVIDER_KIND,
    model_document,
    model_from_document,
    name_claim,
    name_claim_id,
    provider_document,
    provider_from_document,
)
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, ContainerSpec, DocumentStore, F, Query

AI = "ai"
CONTAINER = ContainerSpec(
    AI, indexes=("/kind", "/name", "/providerId", "/taskTypes", "/priority"), outbox=True
)
CONTAINERS = (CONTAINER,)


class AiRepository(Repository):
    """Reads and atomic writes of providers and models, and the service's events."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._ai = self.entities(AI)

    # --- providers -----------------------------------------------------------------------------

    async def provider(self, partition: str, provider_id: str) -> resources_pb2.Provider | None:
        document = await self._ai.get(partition, provider_id)
        if document is None or document.get("kind") != PROVIDER_KIND:
            return None
        return provider_from_document(document)

    async def list_providers(
        self, partition: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Provider], str | None]:
        query = Query().where(F("kind") == PROVIDER_KIND).order_by("name").limit(page_size)
        page = await self._ai.page(query.after(continuation), partition)
        return [provider_from_document(d) for d in page.items], page.continuation

    async def create_provider(
        self, partition: str, provider: resources_pb2.Provider
    ) -> resources_pb2.Provider:
        """The provider and its name claim; DocumentExists when the name is taken."""
        written = await self._ai.commit(
            partition,
            [
                BatchOp.create(name_claim(PROVIDER_KIND, provider.name, provider.id)),
                BatchOp.create(provider_document(provider)),
            ],
        )
        return provider_from_document(written[1])

    async def replace_provider(
        self, partition: str, provider: resources_pb2.Provider, etag: str, old_name: str
    ) -> resources_pb2.Provider:
        operations = self._rename(PROVIDER_KIND, provider.id, old_name, provider.name)
        operations.append(BatchOp.replace(provider_document(provider), if_match=etag))
        written = await self._ai.commit(partition, operations)
        return provider_from_document(written[-1])

    async def delete_provider(
        self, partition: str, provider: resources_pb2.Provider, etag: str
    ) -> None:
        await self._ai.commit(
            partition,
            [
                BatchOp.delete(name_claim_id(PROVIDER_KIND, provider.name)),
                BatchOp.delete(provider.id, if_match=etag or None),
            ],
        )

    async def provider_in_use(self, partition: str, provider_id: str) -> bool:
        return await self._ai.exists(
            partition, F("kind") == MODEL_KIND, F("providerId") == provider_id
        )

    # --- models --------------------------------------------------------------------------------

    async def model(self, partition: str, model_id: str) -> resources_pb2.Model | None:
        document = await self._ai.get(partition, model_id)
        if document is None or document.get("kind") != MODEL_KIND:
            return None
        return model_from_document(document)

    async def model_by_name(self, partition: str, name: str) -> resources_pb2.Model | None:
        claim = await self._ai.get(partition, name_claim_id(MODEL_KIND, name))
        if claim is None or claim.get("kind") != NAME_KIND:
            return None
        return await self.model(partition, claim["owner"])

    async def models_for_task(self, partition: str, task_type: str) -> list[resources_pb2.Model]:
        query = (
            Query()
            .where(F("kind") == MODEL_KIND, F("taskTypes").contains(task_type))
            .order_by("priority")
            .limit(50)
        )
        return [model_from_document(d) for d in (await self._ai.page(query, partition)).items]

    async def list_models(
        self, partition: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Model], str | None]:
        query = Query().where(F("kind") == MODEL_KIND).order_by("name").limit(page_size)
        page = await self._ai.page(query.after(continuation), partition)
        return [model_from_document(d) for d in page.items], page.continuation

    async def create_model(self, partition: str, model: resources_pb2.Model) -> resources_pb2.Model:
        written = await self._ai.commit(
            partition,
            [
                BatchOp.create(name_claim(MODEL_KIND, model.name, model.id)),
                BatchOp.create(model_document(model)),
            ],
        )
        return model_from_document(written[1])

    async def replace_model(
        self, partition: str, model: resources_pb2.Model, etag: str, old_name: str
    ) -> resources_pb2.Model:
        operations = self._rename(MODEL_KIND, model.id, old_name, model.name)
        operations.append(BatchOp.replace(model_document(model), if_match=etag))
        written = await self._ai.commit(partition, operations)
        return model_from_document(written[-1])

    async def delete_model(self, partition: str, model: resources_pb2.Model, etag: str) -> None:
        await self._ai.commit(
            partition,
            [
                BatchOp.delete(name_claim_id(MODEL_KIND, model.name)),
                BatchOp.delete(model.id, if_match=etag or None),
            ],
        )

    # --- events --------------------------------------------------------------------------------

    async def publish(self, partition: str, events: Sequence[event_pb2.Event]) -> None:
        """Store events in the outbox; the relay publishes them."""
        await self._ai.commit(partition, [], events)

    @staticmethod
    def _rename(kind: str, owner: str, old: str, new: str) -> list[BatchOp]:
        if old == new:
            return []
        return [
            BatchOp.delete(name_claim_id(kind, old)),
            BatchOp.create(name_claim(kind, new, owner)),
        ]
