"""The recycle bin: a deleted page waits there with the subtree deleted with it, until it is
restored (all of it together) or purged (for good, with revisions and comments)."""

from __future__ import annotations

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import Clock, PageRequest, current_principal
from services.knowledge import events
from services.knowledge.events import KnowledgeEvents
from services.knowledge.repository import KnowledgeRepository, PageWrite
from services.knowledge.service.access import WRITE, SpaceAccess
from services.knowledge.service.pages import PageService, page_not_found


class RecycleBin:
    """ListRecycleBin, RestorePage, PurgePage."""

    def __init__(
        self,
        repository: KnowledgeRepository,
        access: SpaceAccess,
        pages: PageService,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._access = access
        self._pages = pages
        self._clock = clock

    async def list_bin(
        self, request: knowledge_service_pb2.ListRecycleBinRequest
    ) -> tuple[list[knowledge_pb2.Page], str]:
        principal = current_principal()
        if request.space_id:
            spaces = [(await self._access.space(principal, request.space_id, WRITE)).id]
        else:
            spaces = sorted(await self._access.spaces(principal, WRITE))
        page = PageRequest.of(request, principal.organization_id)
        pages, continuation = await self._repository.list_bin(
            principal.organization_id, spaces, page.size, page.continuation
        )
        return pages, page.seal(continuation)

    async def _deleted(self, page_id: str) -> tuple[knowledge_pb2.Page, list[knowledge_pb2.Page]]:
        """The deleted page and what went with it; NotFound for a page that is live or was
        trashed with another."""
        principal = current_principal()
        found = await self._pages.stored(principal, page_id, WRITE, trashed=True)
        if found.trash_id != page_id:
            raise page_not_found(page_id)
        pages = await self._repository.trashed_with(principal.organization_id, page_id)
        return found.page, pages

    async def restore(self, page_id: str) -> tuple[knowledge_pb2.Page, int]:
        """Every page of the deletion back where it was; the deleted page at the top of its
        space when its parent is no longer live."""
        principal = current_principal()
        root, pages = await self._deleted(page_id)
        if root.parent_id:
            parent = await self._repository.stored_page(principal.organization_id, root.parent_id)
            if parent is None or parent.trashed:
                root.parent_id = ""
        factory = KnowledgeEvents.acting(principal, self._clock)
        ordered = [root, *(p for p in pages if p.id != root.id)]
        writes: list[PageWrite] = []
        restored = []
        for page in ordered:
            etag = page.etag
            if page.id == root.id:
                page = root
            page.ClearField("trash_time")
            writes.append((page, "", etag))
            restored.append(factory.page(events.PAGE_RESTORED, page))
        await self._repository.write_pages(principal.organization_id, writes, restored)
        back = await self._pages.stored(principal, page_id, WRITE)
        return back.page, len(writes)

    async def purge(self, page_id: str) -> int:
        principal = current_principal()
        _, pages = await self._deleted(page_id)
        factory = KnowledgeEvents.acting(principal, self._clock)
        ordered = sorted(pages, key=lambda p: p.id != page_id)
        deleted = [factory.page(events.PAGE_DELETED, page) for page in ordered]
        await self._repository.purge(principal.organization_id, [p.id for p in ordered], deleted)
        return len(ordered)
