"""Every storage query of the workflow service.

Three containers, all partitioned by organization id: `definitions` (the latest revision of
each, with the outbox of `workflow.definition.*`), `definition_revisions` (every saved
revision; a Cosmos batch spans one container, so the revision is written before the
definition, and a revision whose definition write then failed is overwritten by the next save
of that number) and `runs` (one record per run: its status, which the concurrency limit
counts, and the outbox of `workflow.run.*`).
"""

from __future__ import annotations

from collections.abc import Sequence

from coder.events.v1 import event_pb2
from coder.workflow.v1 import definition_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, ContainerSpec, Document, DocumentStore, F, Query
from services.workflow._mapping import (
    definition_document,
    definition_from_document,
    definition_from_revision,
    revision_document,
    revision_id,
)

DEFINITIONS = "definitions"
REVISIONS = "definition_revisions"
RUNS = "runs"

CONTAINERS = (
    ContainerSpec(DEFINITIONS, indexes=("/createTime",), outbox=True),
    ContainerSpec(REVISIONS, indexes=("/definitionId", "/revision")),
    ContainerSpec(RUNS, indexes=("/definitionId", "/status"), outbox=True),
)

ACTIVE = ("RUN_STATUS_RUNNING", "RUN_STATUS_WAITING")
"""The statuses of a run that counts against its definition's concurrency limit."""


class WorkflowRepository(Repository):
    """Reads and atomic writes of definitions, revisions and run records."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._definitions = self.entities(DEFINITIONS)
        self._revisions = self.entities(REVISIONS)
        self._runs = self.entities(RUNS)

    # --- definitions -----------------------------------------------------------------------

    async def get_definition(
        self, organization_id: str, definition_id: str
    ) -> definition_pb2.Definition | None:
        document = await self._definitions.get(organization_id, definition_id)
        return None if document is None else definition_from_document(document)

    async def get_revision(
        self, organization_id: str, definition_id: str, revision: int
    ) -> definition_pb2.Definition | None:
        document = await self._revisions.get(organization_id, revision_id(definition_id, revision))
        return None if document is None else definition_from_revision(document)

    async def list_definitions(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[definition_pb2.Definition], str | None]:
        """Newest first."""
        query = Query().order_by("createTime", desc=True).limit(page_size).after(continuation)
        page = await self._definitions.page(query, organization_id)
        return [definition_from_document(d) for d in page.items], page.continuation

    async def list_revisions(
        self, organization_id: str, definition_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[definition_pb2.Definition], str | None]:
        """Newest first."""
        query = (
            Query()
            .where(F("definitionId") == definition_id)
            .order_by("revision", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._revisions.page(query, organization_id)
        return [definition_from_revision(d) for d in page.items], page.continuation

    async def listening_to(
        self, organization_id: str, event_type: str
    ) -> list[definition_pb2.Definition]:
        """The definitions with an event trigger on `event_type`."""
        query = Query().where(F("eventTypes").contains(event_type))
        return [
            definition_from_document(d)
            for d in await self._definitions.every(query, organization_id)
        ]

    async def save_definition(
        self,
        definition: definition_pb2.Definition,
        if_match: str | None,
        event: event_pb2.Event,
    ) -> definition_pb2.Definition:
        """Store the revision, then the definition (created when `if_match` is None, else
        replaced unless it changed since: EtagMismatch) with its event."""
        await self._revisions.container.upsert(
            definition.organization_id, revision_document(definition)
        )
        document = definition_document(definition)
        operation = (
            BatchOp.create(document)
            if if_match is None
            else BatchOp.replace(document, if_match=if_match)
        )
        written = await self._definitions.commit(definition.organization_id, [operation], [event])
        return definition_from_document(written[0])

    async def delete_definition(
        self, organization_id: str, definition_id: str, if_match: str, event: event_pb2.Event
    ) -> None:
        operation = BatchOp.delete(definition_id, if_match=if_match)
        await self._definitions.commit(organization_id, [operation], [event])
        revisions = await self._revisions.every(
            Query().where(F("definitionId") == definition_id), organization_id
        )
        for revision in revisions:
            await self._revisions.container.delete(organization_id, revision["id"])

    # --- runs ------------------------------------------------------------------------------

    async def active_runs(self, organization_id: str, definition_id: str) -> int:
        query = Query().where(F("definitionId") == definition_id, F("status").in_(ACTIVE))
        return await self._runs.count(query, organization_id)

    async def get_run(self, organization_id: str, run_id: str) -> Document | None:
        return await self._runs.get(organization_id, run_id)

    async def reserve_run(self, document: Document) -> None:
        """The record of a run about to start (counted by `active_runs` from now on)."""
        await self._runs.container.create(document["organizationId"], document)

    async def forget_run(self, organization_id: str, run_id: str) -> None:
        """Drop the record of a run that could not start."""
        await self._runs.container.delete(organization_id, run_id)

    async def record_run(
        self, document: Document, if_match: str | None, events: Sequence[event_pb2.Event]
    ) -> None:
        """Write a run's record with its events (created when `if_match` is None, else
        replaced unless it changed since: EtagMismatch)."""
        operation = (
            BatchOp.create(document)
            if if_match is None
            else BatchOp.replace(document, if_match=if_match)
        )
        await self._runs.commit(document["organizationId"], [operation], events)
