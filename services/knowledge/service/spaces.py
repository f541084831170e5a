"""Spaces: create, read, list, rename, set their grants, delete when empty."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.field_mask_pb2 import FieldMask

from coder.knowledge.v1 import knowledge_pb2, knowledge_service_pb2
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    PageRequest,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    read_modify_write,
    require_field,
    update_paths,
)
from services.knowledge import events
from services.knowledge.events import KnowledgeEvents
from services.knowledge.repository import KnowledgeRepository
from services.knowledge.service.access import READ, WRITE, SpaceAccess, access_of

WRITABLE = ("name", "description")
OUTPUT_ONLY = frozenset(
    {"id", "organization_id", "grants", "created_by", "create_time", "update_time"}
)


class SpaceService:
    """CreateSpace, GetSpace, ListSpaces, UpdateSpace, SetSpacePermissions, DeleteSpace."""

    def __init__(self, repository: KnowledgeRepository, access: SpaceAccess, clock: Clock) -> None:
        self._repository = repository
        self._access = access
        self._clock = clock

    async def create(self, draft: knowledge_pb2.Space) -> knowledge_pb2.Space:
        principal = current_principal()
        space = knowledge_pb2.Space(
            id=new_id(),
            organization_id=principal.organization_id,
            name=draft.name,
            description=draft.description,
            created_by=principal.subject,
        )
        space.create_time.FromDatetime(self._clock.now())
        space.update_time.CopyFrom(space.create_time)
        event = KnowledgeEvents.acting(principal, self._clock).space(events.SPACE_CREATED, space)
        return await self._repository.save_space(space, None, [event])

    async def get(self, space_id: str) -> knowledge_pb2.Space:
        return await self._access.space(current_principal(), space_id, READ)

    async def list_spaces(
        self, request: knowledge_service_pb2.ListSpacesRequest
    ) -> tuple[list[knowledge_pb2.Space], str]:
        """A page of the spaces by name, without those the caller may not read (a page may
        then hold fewer than asked; the token goes on)."""
        principal = current_principal()
        page = PageRequest.of(request, principal.organization_id)
        spaces, continuation = await self._repository.list_spaces(
            principal.organization_id, page.size, page.continuation
        )
        visible = [s for s in spaces if access_of(principal, s) >= READ]
        return visible, page.seal(continuation)

    async def update(self, changes: knowledge_pb2.Space, mask: FieldMask) -> knowledge_pb2.Space:
        paths = update_paths(mask, changes, "space", WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "space.id", "name what to update")
        principal = current_principal()

        async def attempt() -> knowledge_pb2.Space:
            current = await self._access.space(principal, changes.id, WRITE)
            check_etag(changes.etag, current.etag, "space")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            updated.update_time.FromDatetime(self._clock.now())
            event = KnowledgeEvents.acting(principal, self._clock).space(
                events.SPACE_UPDATED, updated
            )
            return await self._repository.save_space(updated, current.etag, [event])

        return await read_modify_write(changes.etag, attempt)

    async def set_permissions(
        self, space_id: str, grants: Sequence[knowledge_pb2.SpaceGrant], etag: str
    ) -> knowledge_pb2.Space:
        roles = [grant.role for grant in grants]
        repeated = sorted({role for role in roles if roles.count(role) > 1})
        if repeated:
            raise InvalidArgument(
                "a role is granted twice",
                violations=[FieldViolation("grants", f"{role} appears twice") for role in repeated],
            )
        principal = current_principal()

        async def attempt() -> knowledge_pb2.Space:
            current = await self._access.space(principal, space_id, WRITE)
            check_etag(etag, current.etag, "space")
            updated = knowledge_pb2.Space()
            updated.CopyFrom(current)
            del updated.grants[:]
            updated.grants.extend(sorted(grants, key=lambda g: g.role))
            updated.update_time.FromDatetime(self._clock.now())
            event = KnowledgeEvents.acting(principal, self._clock).space(
                events.SPACE_UPDATED, updated
            )
            return await self._repository.save_space(updated, current.etag, [event])

        return await read_modify_write(etag, attempt)

    async def delete(self, space_id: str, etag: str) -> None:
        principal = current_principal()
        space = await self._access.space(principal, space_id, WRITE)
        check_etag(etag, space.etag, "space")
        if await self._repository.space_has_pages(principal.organization_id, space_id):
            raise FailedPrecondition(
                f"space {space.name} still holds pages (the recycle bin's included); "
                "delete and purge them first",
                reason="SPACE_NOT_EMPTY",
            )
        event = KnowledgeEvents.acting(principal, self._clock).space(events.SPACE_DELETED, space)
        await self._repository.delete_space(
            principal.organization_id, space_id, space.etag, [event]
        )
