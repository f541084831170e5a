"""Every storage query of the knowledge service (container `knowledge`, partitioned by
organization id): spaces, pages, their revisions and comments, templates, and the outbox.
They share a container because a page's change, its revision and its events are written in
one atomic batch, and a batch cannot span containers."""

from __future__ import annotations

from collections.abc import Sequence

from coder.events.v1 import event_pb2
from coder.knowledge.v1 import knowledge_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    Condition,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Query,
)
from services.knowledge._mapping import (
    COMMENT_KIND,
    PAGE_KIND,
    REVISION_KIND,
    SPACE_KIND,
    TEMPLATE_KIND,
    PageCandidate,
    StoredPage,
    candidate_from_document,
    comment_document,
    comment_from_document,
    page_document,
    page_from_document,
    revision_document,
    revision_from_document,
    revision_id,
    space_document,
    space_from_document,
    stored_page_from_document,
    template_document,
    template_from_document,
)
from services.knowledge._search import ParsedQuery

KNOWLEDGE = "knowledge"
CANDIDATE_LIMIT = 1000
"""Most pages the store hands full-text search for one query (the newest ones matching)."""

CONTAINER = ContainerSpec(
    KNOWLEDGE,
    indexes=(
        "/kind",
        "/nameKey",
        "/spaceId",
        "/parentId",
        "/titleKey",
        "/trashed",
        "/trashId",
        "/trashRoot",
        "/trashTime",
        "/linksTo",
        "/terms",
        "/titleTerms",
        "/tagKeys",
        "/pageKind",
        "/createdBy",
        "/updatedBy",
        "/updateTime",
        "/pageId",
        "/revision",
        "/threadId",
        "/createTime",
    ),
    outbox=True,
)
CONTAINERS = (CONTAINER,)

PageWrite = tuple[knowledge_pb2.Page, str, str | None]
"""A page to write: the page, its trash id (empty when live), the etag to match (None: a
create)."""


def _live_any_space() -> tuple[Condition, ...]:
    return (F("kind") == PAGE_KIND, F("trashed") == False)  # noqa: E712


def search_filters(query: ParsedQuery, space_ids: Sequence[str]) -> list[Condition]:
    """The conditions of a search's filters (`[tag]`, `{in_name:…}`, `{updated_by:…}`,
    `{created_by:…}`, `{type:…}`) and the spaces it may see."""
    conditions: list[Condition] = [F("spaceId").in_(space_ids)]
    conditions += [F("tagKeys").contains(tag) for tag in query.tags]
    conditions += [F("titleTerms").contains(word) for word in query.in_name]
    if query.updated_by:
        conditions.append(F("updatedBy") == query.updated_by)
    if query.created_by:
        conditions.append(F("createdBy") == query.created_by)
    if query.kind:
        conditions.append(F("pageKind") == query.kind)
    return conditions


def _live_pages(space_id: str) -> tuple[Condition, ...]:
    return (F("kind") == PAGE_KIND, F("spaceId") == space_id, F("trashed") == False)  # noqa: E712


class KnowledgeRepository(Repository):
    """Reads and atomic writes of the knowledge base."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._items = self.entities(KNOWLEDGE)

    async def _kind(self, partition: str, id: str, kind: str) -> Document | None:
        document = await self._items.get(partition, id)
        return document if document is not None and document.get("kind") == kind else None

    async def _delete_all(
        self, partition: str, ids: Sequence[str], events: Sequence[event_pb2.Event] = ()
    ) -> None:
        """Delete in batches; the events ride with the first one."""
        if not ids and not events:
            return
        pending = list(ids)
        first = True
        while pending or first:
            room = MAX_BATCH_OPERATIONS - (len(events) if first else 0)
            chunk, pending = pending[:room], pending[room:]
            await self._items.commit(
                partition, [BatchOp.delete(id) for id in chunk], events if first else ()
            )
            first = False

    # --- spaces ----------------------------------------------------------------------------

    async def space(self, partition: str, space_id: str) -> knowledge_pb2.Space | None:
        document = await self._kind(partition, space_id, SPACE_KIND)
        return None if document is None else space_from_document(document)

    async def list_spaces(
        self, partition: str, page_size: int, continuation: str | None
    ) -> tuple[list[knowledge_pb2.Space], str | None]:
        query = (
            Query()
            .where(F("kind") == SPACE_KIND)
            .order_by("nameKey")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [space_from_document(d) for d in page.items], page.continuation

    async def every_space(self, partition: str) -> list[knowledge_pb2.Space]:
        documents = await self._items.every(Query().where(F("kind") == SPACE_KIND), partition)
        return [space_from_document(d) for d in documents]

    async def save_space(
        self,
        space: knowledge_pb2.Space,
        if_match: str | None,
        events: Sequence[event_pb2.Event],
    ) -> knowledge_pb2.Space:
        """Create (if_match None) or replace conditionally."""
        document = space_document(space)
        operation = (
            BatchOp.create(document)
            if if_match is None
            else BatchOp.replace(document, if_match=if_match)
        )
        written = await self._items.commit(space.organization_id, [operation], events)
        return space_from_document(written[0])

    async def delete_space(
        self, partition: str, space_id: str, if_match: str, events: Sequence[event_pb2.Event]
    ) -> None:
        await self._items.commit(partition, [BatchOp.delete(space_id, if_match=if_match)], events)

    async def space_has_pages(self, partition: str, space_id: str) -> bool:
        return await self._items.exists(partition, F("kind") == PAGE_KIND, F("spaceId") == space_id)

    # --- pages -----------------------------------------------------------------------------

    async def stored_page(self, partition: str, page_id: str) -> StoredPage | None:
        """The page, live or trashed."""
        document = await self._kind(partition, page_id, PAGE_KIND)
        return None if document is None else stored_page_from_document(document)

    async def list_pages(
        self,
        partition: str,
        space_id: str,
        parent_id: str,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[knowledge_pb2.Page], str | None]:
        """One level of a space's live tree, by title."""
        query = (
            Query()
            .where(*_live_pages(space_id), F("parentId") == parent_id)
            .order_by("titleKey")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [page_from_document(d) for d in page.items], page.continuation

    async def live_children(
        self, partition: str, space_id: str, parent_id: str
    ) -> list[knowledge_pb2.Page]:
        query = Query().where(*_live_pages(space_id), F("parentId") == parent_id)
        return [page_from_document(d) for d in await self._items.every(query, partition)]

    async def live_pages(self, partition: str, space_id: str) -> list[knowledge_pb2.Page]:
        """Every live page of a space (for an export)."""
        documents = await self._items.every(Query().where(*_live_pages(space_id)), partition)
        return [page_from_document(d) for d in documents]

    async def create_page(
        self,
        page: knowledge_pb2.Page,
        revision: knowledge_pb2.PageRevision,
        events: Sequence[event_pb2.Event],
    ) -> knowledge_pb2.Page:
        """The page and its first revision in one batch."""
        operations = [
            BatchOp.create(page_document(page)),
            BatchOp.create(revision_document(revision)),
        ]
        written = await self._items.commit(page.organization_id, operations, events)
        return page_from_document(written[0])

    async def save_page(
        self,
        page: knowledge_pb2.Page,
        if_match: str,
        revision: knowledge_pb2.PageRevision | None,
        events: Sequence[event_pb2.Event],
    ) -> knowledge_pb2.Page:
        """The live page replaced (EtagMismatch when it changed since `if_match`), with its
        new revision when the content changed, in one batch."""
        operations = [BatchOp.replace(page_document(page), if_match=if_match)]
        if revision is not None:
            operations.append(BatchOp.create(revision_document(revision)))
        written = await self._items.commit(page.organization_id, operations, events)
        return page_from_document(written[0])

    async def write_pages(
        self,
        partition: str,
        writes: Sequence[PageWrite],
        events: Sequence[event_pb2.Event],
    ) -> None:
        """Replace pages, each with its event, in as few batches as the limit allows. The
        first batch holds the first page (the one asked for), so it either moves or nothing
        does; a crash between batches leaves a part of its subtree not yet moved, which the
        same request moves when repeated."""
        per_batch = MAX_BATCH_OPERATIONS // 2
        for start in range(0, len(writes), per_batch):
            chunk = writes[start : start + per_batch]
            operations = [
                BatchOp.replace(page_document(page, trash_id=trash_id), if_match=if_match)
                for page, trash_id, if_match in chunk
            ]
            await self._items.commit(partition, operations, events[start : start + per_batch])

    async def trashed_with(self, partition: str, trash_id: str) -> list[knowledge_pb2.Page]:
        """The pages one deletion put in the recycle bin."""
        query = Query().where(F("kind") == PAGE_KIND, F("trashId") == trash_id)
        return [page_from_document(d) for d in await self._items.every(query, partition)]

    async def list_bin(
        self,
        partition: str,
        space_ids: Sequence[str],
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[knowledge_pb2.Page], str | None]:
        """The deleted pages (each the root of what its deletion trashed), newest first."""
        query = (
            Query()
            .where(
                F("kind") == PAGE_KIND,
                F("trashRoot") == True,  # noqa: E712
                F("spaceId").in_(space_ids),
            )
            .order_by("trashTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [page_from_document(d) for d in page.items], page.continuation

    async def purge(
        self, partition: str, page_ids: Sequence[str], events: Sequence[event_pb2.Event]
    ) -> None:
        """The pages gone, each batch with their events, then their revisions and comments.
        Once the pages are gone the rest is unreachable, so a crash in between leaves
        unreachable documents, never a half-deleted page."""
        per_batch = MAX_BATCH_OPERATIONS // 2
        for start in range(0, len(page_ids), per_batch):
            deletions = [BatchOp.delete(id) for id in page_ids[start : start + per_batch]]
            await self._items.commit(partition, deletions, events[start : start + per_batch])
        for page_id in page_ids:
            query = Query().where(F("pageId") == page_id)
            documents = await self._items.every(query, partition)
            await self._delete_all(partition, [d["id"] for d in documents])

    async def backlinks(
        self, partition: str, page_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[knowledge_pb2.Page], str | None]:
        query = (
            Query()
            .where(
                F("kind") == PAGE_KIND,
                F("trashed") == False,  # noqa: E712
                F("linksTo").contains(page_id),
            )
            .order_by("titleKey")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [page_from_document(d) for d in page.items], page.continuation

    # --- search ----------------------------------------------------------------------------

    async def candidates(
        self,
        partition: str,
        query: ParsedQuery,
        space_ids: Sequence[str],
        limit: int = CANDIDATE_LIMIT,
    ) -> list[PageCandidate]:
        """The newest live pages of the spaces that pass the query's filters and hold every
        word of it (ARRAY_CONTAINS on the indexed words), at most `limit`."""
        words = [F("terms").contains(term) for term in query.required]
        selection = (
            Query()
            .where(*_live_any_space(), *search_filters(query, space_ids), *words)
            .order_by("updateTime", desc=True)
            .limit(limit)
        )
        page = await self._items.page(selection, partition)
        return [candidate_from_document(d) for d in page.items]

    async def live_page_count(self, partition: str, term: str = "") -> int:
        """How many live pages the organization has (holding `term`, when given)."""
        holding = [F("terms").contains(term)] if term else []
        return await self._items.count(Query().where(*_live_any_space(), *holding), partition)

    async def pages_by_id(
        self, partition: str, ids: Sequence[str], query: ParsedQuery, space_ids: Sequence[str]
    ) -> list[PageCandidate]:
        """The live pages among `ids` that pass the query's filters (not its words)."""
        if not ids:
            return []
        selection = Query().where(
            *_live_any_space(), F("id").in_(ids), *search_filters(query, space_ids)
        )
        documents = await self._items.every(selection, partition)
        return [candidate_from_document(d) for d in documents]

    # --- revisions -------------------------------------------------------------------------

    async def revision(
        self, partition: str, page_id: str, number: int
    ) -> knowledge_pb2.PageRevision | None:
        document = await self._kind(partition, revision_id(page_id, number), REVISION_KIND)
        return None if document is None else revision_from_document(document)

    async def list_revisions(
        self, partition: str, page_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[knowledge_pb2.PageRevision], str | None]:
        query = (
            Query()
            .where(F("kind") == REVISION_KIND, F("pageId") == page_id)
            .order_by("revision", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [revision_from_document(d) for d in page.items], page.continuation

    # --- comments --------------------------------------------------------------------------

    async def comment(self, partition: str, comment_id: str) -> knowledge_pb2.Comment | None:
        document = await self._kind(partition, comment_id, COMMENT_KIND)
        return None if document is None else comment_from_document(document)

    async def list_comments(
        self, partition: str, page_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[knowledge_pb2.Comment], str | None]:
        query = (
            Query()
            .where(F("kind") == COMMENT_KIND, F("pageId") == page_id)
            .order_by("createTime")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [comment_from_document(d) for d in page.items], page.continuation

    async def thread(self, partition: str, thread_id: str) -> list[knowledge_pb2.Comment]:
        query = Query().where(F("kind") == COMMENT_KIND, F("threadId") == thread_id)
        return [comment_from_document(d) for d in await self._items.every(query, partition)]

    async def save_comment(
        self,
        partition: str,
        comment: knowledge_pb2.Comment,
        if_match: str | None,
        events: Sequence[event_pb2.Event] = (),
    ) -> knowledge_pb2.Comment:
        document = comment_document(comment)
        operation = (
            BatchOp.create(document)
            if if_match is None
            else BatchOp.replace(document, if_match=if_match)
        )
        written = await self._items.commit(partition, [operation], events)
        return comment_from_document(written[0])

    async def delete_comments(self, partition: str, ids: Sequence[str]) -> None:
        await self._delete_all(partition, ids)

    # --- templates -------------------------------------------------------------------------

    async def template(
        self, partition: str, page_template_id: str
    ) -> knowledge_pb2.PageTemplate | None:
        document = await self._kind(partition, page_template_id, TEMPLATE_KIND)
        return None if document is None else template_from_document(document)

    async def list_templates(
        self, partition: str, page_size: int, continuation: str | None
    ) -> tuple[list[knowledge_pb2.PageTemplate], str | None]:
        query = (
            Query()
            .where(F("kind") == TEMPLATE_KIND)
            .order_by("nameKey")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._items.page(query, partition)
        return [template_from_document(d) for d in page.items], page.continuation

    async def save_template(
        self, partition: str, template: knowledge_pb2.PageTemplate, if_match: str | None
    ) -> knowledge_pb2.PageTemplate:
        document = template_document(template)
        operation = (
            BatchOp.create(document)
            if if_match is None
            else BatchOp.replace(document, if_match=if_match)
        )
        written = await self._items.commit(partition, [operation])
        return template_from_document(written[0])

    async def delete_template(self, partition: str, page_template_id: str, if_match: str) -> None:
        await self._items.commit(partition, [BatchOp.delete(page_template_id, if_match=if_match)])
