"""Per-space permissions over the organization's roles.

A call first needs its RPC's permission (`knowledge.page.write`…), which the kit's access
interceptor checks against the caller's roles. A space's grants then narrow that per space:
- the owner and admin roles may do anything in every space;
- a space without grants is open to every role, as far as its role permissions go;
- a space with grants admits only the roles it names, at the level named (read, or write).
A space the caller may not read is not found (its existence is not disclosed); one it may
read but not write answers PERMISSION_DENIED (`SPACE_READ_ONLY`) to a write.
"""

from __future__ import annotations

from coder.knowledge.v1 import knowledge_pb2
from services.kit import ADMINISTRATOR_ROLES, NotFound, PermissionDenied, Principal
from services.knowledge.repository import KnowledgeRepository

READ = knowledge_pb2.SPACE_ACCESS_READ
WRITE = knowledge_pb2.SPACE_ACCESS_WRITE


def access_of(principal: Principal, space: knowledge_pb2.Space) -> int:
    """The highest level the principal's roles reach in the space (0: none)."""
    if principal.roles & ADMINISTRATOR_ROLES or not space.grants:
        return WRITE
    return max((g.access for g in space.grants if g.role in principal.roles), default=0)


def space_not_found(space_id: str) -> NotFound:
    return NotFound(f"space {space_id} not found", reason="SPACE_NOT_FOUND")


def require(principal: Principal, space: knowledge_pb2.Space, level: int) -> None:
    """NotFound when the principal may not read the space; PermissionDenied when it may read
    but `level` is write."""
    reached = access_of(principal, space)
    if reached < READ:
        raise space_not_found(space.id)
    if reached < level:
        raise PermissionDenied(
            f"space {space.name} is read-only to your roles", reason="SPACE_READ_ONLY"
        )


class SpaceAccess:
    """Finds a space the caller may use at a level."""

    def __init__(self, repository: KnowledgeRepository) -> None:
        self._repository = repository

    async def space(self, principal: Principal, space_id: str, level: int) -> knowledge_pb2.Space:
        space = await self._repository.space(principal.organization_id, space_id)
        if space is None:
            raise space_not_found(space_id)
        require(principal, space, level)
        return space

    async def spaces(self, principal: Principal, level: int) -> dict[str, knowledge_pb2.Space]:
        """Every space of the organization the caller reaches at `level`, by id."""
        spaces = await self._repository.every_space(principal.organization_id)
        return {s.id: s for s in spaces if access_of(principal, s) >= level}
