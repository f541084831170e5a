"""Comments: threads on a page. Reading a page's space is enough to comment on it; a comment
is changed only by its writer and deleted by its writer or a writer of the space, with every
reply below it."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import (
    Clock,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    PermissionDenied,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    update_paths,
)
from services.knowledge import _markdown
from services.knowledge.events import KnowledgeEvents
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import READ, WRITE, access_of
from services.knowledge.service.pages import PageService

WRITABLE = ("markdown",)
OUTPUT_ONLY = frozenset(
    {"id", "page_id", "parent_id", "thread_id", "html", "author", "create_time", "update_time"}
)


def comment_not_found(comment_id: str) -> NotFound:
    return NotFound(f"comment {comment_id} not found", reason="COMMENT_NOT_FOUND")


class CommentService:
    """CreateComment, ListComments, UpdateComment, DeleteComment."""

    def __init__(self, repository: KnowledgeRepository, pages: PageService, clock: Clock) -> None:
        self._repository = repository
        self._pages = pages
        self._clock = clock

    async def _comment(
        self, organization_id: str, page_id: str, comment_id: str
    ) -> knowledge_pb2.Comment:
        comment = await self._repository.comment(organization_id, comment_id)
        if comment is None or comment.page_id != page_id:
            raise comment_not_found(comment_id)
        return comment

    async def create(self, page_id: str, draft: knowledge_pb2.Comment) -> knowledge_pb2.Comment:
        principal = current_principal()
        found = await self._pages.stored(principal, page_id, READ)
        comment = knowledge_pb2.Comment(
            id=new_id(),
            page_id=page_id,
            parent_id=draft.parent_id,
            markdown=draft.markdown,
            html=_markdown.render(draft.markdown).html,
            author=principal.subject,
        )
        comment.thread_id = comment.id
        if draft.parent_id:
            parent = await self._repository.comment(principal.organization_id, draft.parent_id)
            if parent is None or parent.page_id != page_id:
                raise InvalidArgument(
                    "the comment answers no comment of this page",
                    violations=[
                        FieldViolation("comment.parent_id", f"no comment {draft.parent_id} here")
                    ],
                )
            comment.thread_id = parent.thread_id
        comment.create_time.FromDatetime(self._clock.now())
        comment.update_time.CopyFrom(comment.create_time)
        event = KnowledgeEvents.acting(principal, self._clock).comment_created(comment, found.page)
        return await self._repository.save_comment(
            principal.organization_id, comment, None, [event]
        )

    async def list_comments(
        self, request: knowledge_service_pb2.ListCommentsRequest
    ) -> tuple[list[knowledge_pb2.Comment], str]:
        principal = current_principal()
        await self._pages.stored(principal, request.page_id, READ)
        page = PageRequest.of(request, principal.organization_id)
        comments, continuation = await self._repository.list_comments(
            principal.organization_id, request.page_id, page.size, page.continuation
        )
        return comments, page.seal(continuation)

    async def update(
        self, page_id: str, changes: knowledge_pb2.Comment, mask: FieldMask
    ) -> knowledge_pb2.Comment:
        paths = update_paths(mask, changes, "comment", WRITABLE, output_only=OUTPUT_ONLY)
        principal = current_principal()
        await self._pages.stored(principal, page_id, READ)
        current = await self._comment(principal.organization_id, page_id, changes.id)
        if current.author != principal.subject:
            raise PermissionDenied("only its writer changes a comment", reason="NOT_COMMENT_AUTHOR")
        check_etag(changes.etag, current.etag, "comment")
        updated, changed = apply_update(current, changes, paths)
        if not changed:
            return current
        updated.html = _markdown.render(updated.markdown).html
        updated.update_time.FromDatetime(self._clock.now())
        return await self._repository.save_comment(principal.organization_id, updated, current.etag)

    async def delete(self, page_id: str, comment_id: str) -> int:
        principal = current_principal()
        found = await self._pages.stored(principal, page_id, READ)
        comment = await self._comment(principal.organization_id, page_id, comment_id)
        if comment.author != principal.subject and access_of(principal, found.space) < WRITE:
            raise PermissionDenied(
                "only its writer or a writer of the space deletes a comment",
                reason="NOT_COMMENT_AUTHOR",
            )
        thread = await self._repository.thread(principal.organization_id, comment.thread_id)
        doomed = {comment.id}
        grown = True
        while grown:
            below = {c.id for c in thread if c.parent_id in doomed} - doomed
            grown = bool(below)
            doomed |= below
        await self._repository.delete_comments(principal.organization_id, sorted(doomed))
        return len(doomed)
