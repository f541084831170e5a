"""Revisions: list, read, diff two, restore one (as a new revision)."""

from __future__ import annotations

import difflib

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import (
    FieldViolation,
    NotFound,
    PageRequest,
    check_etag,
    current_principal,
    read_modify_write,
)
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import READ, WRITE
from services.knowledge.service.pages import PageService

CONTEXT_LINES = 3


def unified_diff(before: knowledge_pb2.PageRevision, after: knowledge_pb2.PageRevision) -> str:
    """`---`/`+++` naming the revisions, `@@` hunks with three lines of context; empty when
    the Markdown is equal. (The prompt service diffs its versions the same way, difflib on
    lines; the shape is small enough that each keeps its own.)"""
    lines = difflib.unified_diff(
        before.markdown.splitlines(),
        after.markdown.splitlines(),
        fromfile=f"r{before.revision}",
        tofile=f"r{after.revision}",
        n=CONTEXT_LINES,
        lineterm="",
    )
    text = "\n".join(lines)
    return f"{text}\n" if text else ""


class RevisionService:
    """ListPageRevisions, GetPageRevision, DiffPageRevisions, RestorePageRevision."""

    def __init__(self, repository: KnowledgeRepository, pages: PageService) -> None:
        self._repository = repository
        self._pages = pages

    async def _revision(
        self, organization_id: str, page_id: str, number: int, field: str
    ) -> knowledge_pb2.PageRevision:
        revision = await self._repository.revision(organization_id, page_id, number)
        if revision is None:
            raise NotFound(
                f"page {page_id} has no revision {number}",
                reason="REVISION_NOT_FOUND",
                violations=[FieldViolation(field, f"no revision {number}")],
            )
        return revision

    async def list_revisions(
        self, request: knowledge_service_pb2.ListPageRevisionsRequest
    ) -> tuple[list[knowledge_pb2.PageRevision], str]:
        principal = current_principal()
        await self._pages.stored(principal, request.page_id, READ)
        page = PageRequest.of(request, principal.organization_id)
        revisions, continuation = await self._repository.list_revisions(
            principal.organization_id, request.page_id, page.size, page.continuation
        )
        return revisions, page.seal(continuation)

    async def get(self, page_id: str, number: int) -> knowledge_pb2.PageRevision:
        principal = current_principal()
        await self._pages.stored(principal, page_id, READ)
        return await self._revision(principal.organization_id, page_id, number, "revision")

    async def diff(
        self, page_id: str, from_number: int, to_number: int
    ) -> knowledge_service_pb2.DiffPageRevisionsResponse:
        principal = current_principal()
        found = await self._pages.stored(principal, page_id, READ)
        to_number = to_number or found.page.revision
        from_number = from_number or max(to_number - 1, 1)
        before = await self._revision(
            principal.organization_id, page_id, from_number, "from_revision"
        )
        after = await self._revision(principal.organization_id, page_id, to_number, "to_revision")
        return knowledge_service_pb2.DiffPageRevisionsResponse(
            unified_diff=unified_diff(before, after),
            title_changed=before.title != after.title,
            tags_changed=list(before.tags) != list(after.tags),
        )

    async def restore(self, page_id: str, number: int, etag: str) -> knowledge_pb2.Page:
        """The page with the revision's title, Markdown, tags and steps, as a new revision
        (checks are kept on the steps whose ids the revision shares)."""
        principal = current_principal()

        async def attempt() -> knowledge_pb2.Page:
            found = await self._pages.stored(principal, page_id, WRITE)
            current = found.page
            check_etag(etag, current.etag, "page")
            old = await self._revision(principal.organization_id, page_id, number, "revision")
            updated = knowledge_pb2.Page()
            updated.CopyFrom(current)
            updated.title, updated.markdown = old.title, old.markdown
            del updated.tags[:]
            updated.tags.extend(old.tags)
            del updated.steps[:]
            updated.steps.extend(old.steps)
            return await self._pages.save(
                principal, current, updated, ["markdown"], f"Restored revision {number}"
            )

        return await read_modify_write(etag, attempt)
