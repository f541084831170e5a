"""Pages: create (from a template or not), read, list one level of the tree, update (a new
revision when the content changes), move, trash with their subtree, backlinks, and the checks
of runbook steps (which make no revision).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.field_mask_pb2 import FieldMask

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import (
    Clock,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Principal,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    update_paths,
)
from services.knowledge import _markdown, events
from services.knowledge._mapping import without_html
from services.knowledge.events import KnowledgeEvents
from services.knowledge.repository import KnowledgeRepository, PageWrite
from services.knowledge.service.access import READ, WRITE, SpaceAccess, require

WRITABLE = ("title", "markdown", "tags", "steps", "front_matter", "parent_id")
CONTENT = ("title", "markdown", "tags", "steps", "front_matter")
"""The fields whose change makes a new revision (a move does not)."""
OUTPUT_ONLY = frozenset(
    {
        "id",
        "organization_id",
        "space_id",
        "html",
        "kind",
        "revision",
        "links",
        "created_by",
        "updated_by",
        "create_time",
        "update_time",
        "trash_time",
    }
)
MAX_DEPTH = 50
"""How deep pages nest; a move or create below that is refused."""


def page_not_found(page_id: str) -> NotFound:
    return NotFound(f"page {page_id} not found", reason="PAGE_NOT_FOUND")


def compose(page: knowledge_pb2.Page, previous: Sequence[knowledge_pb2.RunbookStep] = ()) -> None:
    """Fill what the content determines: the HTML, the links, step ids (a step sent back
    with its id keeps its check); repeated tags are dropped. INVALID_ARGUMENT for steps on a
    plain page or two steps with one id."""
    if page.steps and page.kind != knowledge_pb2.PAGE_KIND_RUNBOOK:
        raise InvalidArgument(
            "only a runbook has steps",
            violations=[FieldViolation("page.steps", "a plain page has no steps")],
        )
    rendered = _markdown.render(page.markdown)
    page.html = rendered.html
    del page.links[:]
    page.links.extend(link for link in rendered.links if link != page.id)
    unique: dict[tuple[str, str], knowledge_pb2.Tag] = {}
    for tag in page.tags:
        unique.setdefault((tag.name, tag.value), tag)
    tags = list(unique.values())
    del page.tags[:]
    page.tags.extend(tags)
    checks = {step.id: step for step in previous}
    seen: set[str] = set()
    for step in page.steps:
        if not step.id:
            step.id = new_id()
        if step.id in seen:
            raise InvalidArgument(
                "two steps share an id",
                violations=[FieldViolation("page.steps", f"step id {step.id} repeats")],
            )
        seen.add(step.id)
        kept = checks.get(step.id)
        step.checked, step.checked_by = False, ""
        step.ClearField("check_time")
        if kept is not None and kept.checked:
            step.checked, step.checked_by = True, kept.checked_by
            step.check_time.CopyFrom(kept.check_time)


def new_revision(
    page: knowledge_pb2.Page, summary: str, principal: Principal
) -> knowledge_pb2.PageRevision:
    revision = knowledge_pb2.PageRevision(
        page_id=page.id,
        revision=page.revision,
        title=page.title,
        markdown=page.markdown,
        tags=page.tags,
        summary=summary,
        author=principal.subject,
    )
    for step in page.steps:
        revision.steps.add(id=step.id, text=step.text)
    revision.create_time.CopyFrom(page.update_time)
    return revision


@dataclass(frozen=True, slots=True)
class Found:
    """A stored page with its space, and the page whose deletion trashed it (if it is)."""

    page: knowledge_pb2.Page
    space: knowledge_pb2.Space
    trash_id: str


class PageService:
    """CreatePage, GetPage, ListPages, UpdatePage, DeletePage, ListBacklinks,
    CheckRunbookStep, ResetRunbook; and the page lookups the other parts share."""

    def __init__(self, repository: KnowledgeRepository, access: SpaceAccess, clock: Clock) -> None:
        self._repository = repository
        self._access = access
        self._clock = clock

    # --- lookups ---------------------------------------------------------------------------

    async def stored(
        self, principal: Principal, page_id: str, level: int, *, trashed: bool = False
    ) -> Found:
        """The page (live, or with `trashed` in the recycle bin) in a space the caller
        reaches at `level`; NotFound otherwise."""
        stored = await self._repository.stored_page(principal.organization_id, page_id)
        if stored is None or stored.trashed != trashed:
            raise page_not_found(page_id)
        space = await self._access.space(principal, stored.page.space_id, READ)
        require(principal, space, level)
        return Found(stored.page, space, stored.trash_id)

    async def check_parent(
        self, principal: Principal, space_id: str, parent_id: str, moving: str = ""
    ) -> None:
        """INVALID_ARGUMENT unless `parent_id` is a live page of the space that is not
        `moving` nor below it, and not too deep."""
        current, depth = parent_id, 0
        while current:
            if current == moving:
                raise _bad_parent("a page cannot move below itself")
            stored = await self._repository.stored_page(principal.organization_id, current)
            if stored is None or stored.trashed or stored.page.space_id != space_id:
                raise _bad_parent(f"page {current} is not a live page of the space")
            depth += 1
            if depth >= MAX_DEPTH:
                raise _bad_parent(f"pages nest at most {MAX_DEPTH} deep")
            current = stored.page.parent_id

    # --- RPCs ------------------------------------------------------------------------------

    async def create(
        self, space_id: str, draft: knowledge_pb2.Page, page_template_id: str
    ) -> knowledge_pb2.Page:
        principal = current_principal()
        space = await self._access.space(principal, space_id, WRITE)
        if page_template_id:
            template = await self._repository.template(principal.organization_id, page_template_id)
            if template is None:
                raise NotFound(
                    f"template {page_template_id} not found", reason="TEMPLATE_NOT_FOUND"
                )
            draft = from_template(draft, template)
        return await self.create_in(principal, space, draft, "")

    async def create_in(
        self,
        principal: Principal,
        space: knowledge_pb2.Space,
        draft: knowledge_pb2.Page,
        summary: str,
    ) -> knowledge_pb2.Page:
        """A new page (revision 1) in a space the caller may write."""
        await self.check_parent(principal, space.id, draft.parent_id)
        page = knowledge_pb2.Page(
            id=new_id(),
            organization_id=principal.organization_id,
            space_id=space.id,
            parent_id=draft.parent_id,
            title=draft.title,
            markdown=draft.markdown,
            kind=draft.kind or knowledge_pb2.PAGE_KIND_PAGE,
            tags=draft.tags,
        )
        for step in draft.steps:
            page.steps.add(id=step.id, text=step.text)
        if draft.HasField("front_matter"):
            page.front_matter.CopyFrom(draft.front_matter)
        page.revision = 1
        page.created_by = page.updated_by = principal.subject
        page.create_time.FromDatetime(self._clock.now())
        page.update_time.CopyFrom(page.create_time)
        compose(page)
        event = KnowledgeEvents.acting(principal, self._clock).page(events.PAGE_CREATED, page)
        return await self._repository.create_page(
            page, new_revision(page, summary, principal), [event]
        )

    async def get(self, page_id: str) -> knowledge_pb2.Page:
        return (await self.stored(current_principal(), page_id, READ)).page

    async def list_pages(
        self, request: knowledge_service_pb2.ListPagesRequest
    ) -> tuple[list[knowledge_pb2.Page], str]:
        principal = current_principal()
        await self._access.space(principal, request.space_id, READ)
        page = PageRequest.of(request, principal.organization_id)
        pages, continuation = await self._repository.list_pages(
            principal.organization_id,
            request.space_id,
            request.parent_id,
            page.size,
            page.continuation,
        )
        return [without_html(p) for p in pages], page.seal(continuation)

    async def update(
        self, changes: knowledge_pb2.Page, mask: FieldMask, summary: str
    ) -> knowledge_pb2.Page:
        paths = update_paths(mask, changes, "page", WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "page.id", "name what to update")
        principal = current_principal()

        async def attempt() -> knowledge_pb2.Page:
            found = await self.stored(principal, changes.id, WRITE)
            current = found.page
            check_etag(changes.etag, current.etag, "page")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            if "parent_id" in changed:
                await self.check_parent(
                    principal, current.space_id, updated.parent_id, moving=current.id
                )
            return await self.save(principal, current, updated, changed, summary)

        return await read_modify_write(changes.etag, attempt)

    async def save(
        self,
        principal: Principal,
        current: knowledge_pb2.Page,
        updated: knowledge_pb2.Page,
        changed: Sequence[str],
        summary: str,
    ) -> knowledge_pb2.Page:
        """Store a changed live page: a new revision when its content changed."""
        compose(updated, current.steps)
        updated.updated_by = principal.subject
        updated.update_time.FromDatetime(self._clock.now())
        revision = None
        if any(path in CONTENT for path in changed):
            updated.revision = current.revision + 1
            revision = new_revision(updated, summary, principal)
        event = KnowledgeEvents.acting(principal, self._clock).page(events.PAGE_UPDATED, updated)
        return await self._repository.save_page(updated, current.etag, revision, [event])

    async def delete(self, page_id: str, etag: str) -> int:
        """Trash the page and its live subtree; how many pages went."""
        principal = current_principal()
        found = await self.stored(principal, page_id, WRITE)
        check_etag(etag, found.page.etag, "page")
        subtree = [found.page]
        frontier = [found.page.id]
        while frontier:
            children = []
            for parent in frontier:
                children.extend(
                    await self._repository.live_children(
                        principal.organization_id, found.page.space_id, parent
                    )
                )
            subtree.extend(children)
            frontier = [child.id for child in children]
        now = self._clock.now()
        factory = KnowledgeEvents.acting(principal, self._clock)
        writes: list[PageWrite] = []
        trashed_events = []
        for page in subtree:
            page.trash_time.FromDatetime(now)
            writes.append((page, found.page.id, page.etag))
            trashed_events.append(factory.page(events.PAGE_TRASHED, page))
        await self._repository.write_pages(principal.organization_id, writes, trashed_events)
        return len(writes)

    async def backlinks(
        self, request: knowledge_service_pb2.ListBacklinksRequest
    ) -> tuple[list[knowledge_pb2.Page], str]:
        """The live pages linking to this one, in spaces the caller may read."""
        principal = current_principal()
        await self.stored(principal, request.page_id, READ)
        readable = await self._access.spaces(principal, READ)
        page = PageRequest.of(request, principal.organization_id)
        pages, continuation = await self._repository.backlinks(
            principal.organization_id, request.page_id, page.size, page.continuation
        )
        visible = [without_html(p) for p in pages if p.space_id in readable]
        return visible, page.seal(continuation)

    async def check_step(self, page_id: str, step_id: str, checked: bool) -> knowledge_pb2.Page:
        principal = current_principal()

        async def attempt() -> knowledge_pb2.Page:
            found = await self.stored(principal, page_id, WRITE)
            page = found.page
            step = next((s for s in page.steps if s.id == step_id), None)
            if step is None:
                raise NotFound(
                    f"runbook {page.title} has no step {step_id}", reason="STEP_NOT_FOUND"
                )
            if step.checked == checked:
                return page
            step.checked = checked
            step.checked_by = principal.subject if checked else ""
            if checked:
                step.check_time.FromDatetime(self._clock.now())
            else:
                step.ClearField("check_time")
            return await self._save_checks(principal, found)

        return await read_modify_write("", attempt)

    async def reset(self, page_id: str) -> knowledge_pb2.Page:
        principal = current_principal()

        async def attempt() -> knowledge_pb2.Page:
            found = await self.stored(principal, page_id, WRITE)
            if not any(step.checked for step in found.page.steps):
                return found.page
            for step in found.page.steps:
                step.checked, step.checked_by = False, ""
                step.ClearField("check_time")
            return await self._save_checks(principal, found)

        return await read_modify_write("", attempt)

    async def _save_checks(self, principal: Principal, found: Found) -> knowledge_pb2.Page:
        page = found.page
        if page.kind != knowledge_pb2.PAGE_KIND_RUNBOOK:
            raise InvalidArgument("only a runbook has steps", reason="NOT_A_RUNBOOK")
        page.updated_by = principal.subject
        page.update_time.FromDatetime(self._clock.now())
        event = KnowledgeEvents.acting(principal, self._clock).page(events.PAGE_UPDATED, page)
        return await self._repository.save_page(page, page.etag, None, [event])


def _bad_parent(description: str) -> InvalidArgument:
    return InvalidArgument(
        f"the parent is not valid: {description}",
        reason="PARENT_INVALID",
        violations=[FieldViolation("page.parent_id", description)],
    )


def from_template(
    draft: knowledge_pb2.Page, template: knowledge_pb2.PageTemplate
) -> knowledge_pb2.Page:
    """The draft with its empty content fields taken from the template."""
    page = knowledge_pb2.Page()
    page.CopyFrom(draft)
    if not page.markdown:
        page.markdown = template.markdown
    if not page.tags:
        page.tags.extend(template.tags)
    if not page.kind:
        page.kind = template.kind
    if not page.steps and page.kind == knowledge_pb2.PAGE_KIND_RUNBOOK:
        for step in template.steps:
            page.steps.add(text=step.text)
    return page
