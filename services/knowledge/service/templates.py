"""Templates: starting content for new pages, shared by the organization's spaces."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import (
    Clock,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    update_paths,
)
from services.knowledge.repository import KnowledgeRepository

WRITABLE = ("name", "description", "kind", "markdown", "tags", "steps")
OUTPUT_ONLY = frozenset({"id", "created_by", "create_time", "update_time"})


def _check_steps(template: knowledge_pb2.PageTemplate) -> None:
    if template.steps and template.kind != knowledge_pb2.PAGE_KIND_RUNBOOK:
        raise InvalidArgument(
            "only a runbook template has steps",
            violations=[FieldViolation("page_template.steps", "a plain page has no steps")],
        )


class TemplateService:
    """CreatePageTemplate, GetPageTemplate, ListPageTemplates, UpdatePageTemplate,
    DeletePageTemplate."""

    def __init__(self, repository: KnowledgeRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    async def _template(
        self, organization_id: str, page_template_id: str
    ) -> knowledge_pb2.PageTemplate:
        template = await self._repository.template(organization_id, page_template_id)
        if template is None:
            raise NotFound(f"template {page_template_id} not found", reason="TEMPLATE_NOT_FOUND")
        return template

    async def create(self, draft: knowledge_pb2.PageTemplate) -> knowledge_pb2.PageTemplate:
        principal = current_principal()
        template = knowledge_pb2.PageTemplate()
        template.CopyFrom(draft)
        template.ClearField("etag")
        template.id = new_id()
        template.kind = draft.kind or knowledge_pb2.PAGE_KIND_PAGE
        template.created_by = principal.subject
        _check_steps(template)
        template.create_time.FromDatetime(self._clock.now())
        template.update_time.CopyFrom(template.create_time)
        return await self._repository.save_template(principal.organization_id, template, None)

    async def get(self, page_template_id: str) -> knowledge_pb2.PageTemplate:
        return await self._template(current_principal().organization_id, page_template_id)

    async def list_templates(
        self, request: knowledge_service_pb2.ListPageTemplatesRequest
    ) -> tuple[list[knowledge_pb2.PageTemplate], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        templates, continuation = await self._repository.list_templates(
            organization_id, page.size, page.continuation
        )
        return templates, page.seal(continuation)

    async def update(
        self, changes: knowledge_pb2.PageTemplate, mask: FieldMask
    ) -> knowledge_pb2.PageTemplate:
        paths = update_paths(mask, changes, "page_template", WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "page_template.id", "name what to update")
        organization_id = current_principal().organization_id

        async def attempt() -> knowledge_pb2.PageTemplate:
            current = await self._template(organization_id, changes.id)
            check_etag(changes.etag, current.etag, "template")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            _check_steps(updated)
            updated.update_time.FromDatetime(self._clock.now())
            return await self._repository.save_template(organization_id, updated, current.etag)

        return await read_modify_write(changes.etag, attempt)

    async def delete(self, page_template_id: str, etag: str) -> None:
        organization_id = current_principal().organization_id
        current = await self._template(organization_id, page_template_id)
        check_etag(etag, current.etag, "template")
        await self._repository.delete_template(organization_id, page_template_id, current.etag)
