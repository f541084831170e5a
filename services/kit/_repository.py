"""The base of every service's repository: entity reads that never see the bus's documents, and
one commit that stores a state change together with its events (the transactional outbox).

A repository subclasses `Repository` and opens its containers as `Entities`:

    class PlanningRepository(Repository):
        def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
            super().__init__(store, relay)
            self._tasks = self.entities(TASKS)

        async def create_task(self, task: Task, event: Event) -> Task:
            written = await self._tasks.commit(
                task.organization_id, [BatchOp.create(task_document(task))], [event]
            )
            return task_from_document(written[0])

Containers that hold events are declared `ContainerSpec(name, ..., outbox=True)`; the process's
outbox relay is derived from those declarations.
"""

from __future__ import annotations

from collections.abc import Sequence

from coder.events.v1 import event_pb2
from services.kit.bus import ENTITIES_ONLY, OutboxRelay, outbox_document
from services.kit.store import (
    DOC_TYPE_FIELD,
    BatchOp,
    Condition,
    Container,
    Document,
    DocumentStore,
    Page,
    Query,
    is_valid_id,
)

SCAN_PAGE = 1000
"""Documents per page when a repository reads a whole result set (`Entities.every`)."""


class Entities:
    """One container as a repository uses it: entity documents only, and writes that carry
    their events in the same atomic batch.

    `container` is the store's container itself, for writes without events (a uniqueness
    claim, a counter) and for documents that are not entities of the service.
    """

    __slots__ = ("_filter", "_relay", "container")

    def __init__(self, container: Container, relay: OutboxRelay | None) -> None:
        self.container = container
        self._relay = relay
        # Only a container declared to hold bus documents needs them filtered out.
        self._filter: tuple[Condition, ...] = (ENTITIES_ONLY,) if container.spec.outbox else ()

    @property
    def name(self) -> str:
        return self.container.spec.name

    async def get(self, partition: str, id: str) -> Document | None:
        """The entity document, or None when absent (a bus document with that id is no
        entity, and an id the store could never hold — a caller's `a/b` — names none)."""
        if not is_valid_id(id):
            return None
        document = await self.container.get(partition, id)
        if document is None or DOC_TYPE_FIELD in document:
            return None
        return document

    async def page(self, query: Query, partition: str) -> Page:
        """One page of the entity documents `query` matches, in one partition."""
        return await self.container.query(query.where(*self._filter), partition=partition)

    async def every(self, query: Query, partition: str) -> list[Document]:
        """Every entity document `query` matches, read page by page (for bounded sets: the
        tasks of one project, the sessions of one user)."""
        found: list[Document] = []
        scan = query.where(*self._filter).limit(query.page_size or SCAN_PAGE)
        continuation: str | None = None
        while True:
            page = await self.container.query(scan.after(continuation), partition=partition)
            found.extend(page.items)
            continuation = page.continuation
            if not continuation:
                return found

    async def count(self, query: Query, partition: str) -> int:
        """How many entity documents match."""
        return await self.container.count(query.where(*self._filter), partition=partition)

    async def exists(self, partition: str, *conditions: Condition) -> bool:
        """Whether any entity document matches every condition."""
        page = await self.page(Query().where(*conditions).limit(1), partition)
        return bool(page.items)

    async def commit(
        self,
        partition: str,
        operations: Sequence[BatchOp],
        events: Sequence[event_pb2.Event] = (),
    ) -> list[Document]:
        """Apply `operations` and store `events` in one atomic batch of one partition (either
        all are written or none), then wake the relay so the events leave now rather than at
        its next poll. Returns the written documents of `operations`, in order.

        The batch limit (`MAX_BATCH_OPERATIONS`) counts the events too.
        """
        if events and not self.container.spec.outbox:
            raise ValueError(
                f"container {self.name!r} holds no outbox; declare it with "
                "ContainerSpec(..., outbox=True) to commit events in it"
            )
        outbox = [BatchOp.create(outbox_document(event)) for event in events]
        written = await self.container.batch(partition, [*operations, *outbox])
        if events and self._relay is not None:
            self._relay.notify()
        return written[: len(operations)]


class Repository:
    """Base of a service's repository: the store and relay it was opened with, and its
    containers as `Entities`. Every storage query of a service lives in its subclass."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None = None) -> None:
        self._store = store
        self._relay = relay

    def entities(self, name: str) -> Entities:
        """A declared container of the store, as entities; KeyError if it was not declared."""
        return Entities(self._store.container(name), self._relay)
