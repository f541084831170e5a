"""Allow-lists per role: which tools the holders of a role may list and call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from coder.mcp.v1 import resources_pb2
from services.kit import Clock, NotFound, Principal, current_principal
from services.mcp.repository import McpRepository


def allows(pattern: str, tool: str) -> bool:
    """`*`, a tool's exact name, or `<prefix>.*` for every tool under a prefix."""
    if pattern == "*" or pattern == tool:
        return True
    return pattern.endswith(".*") and tool.startswith(pattern[:-1])


class AllowList:
    """The tools one caller may use: those any of its restricted roles' policies allow, or
    every tool when one of its roles has no policy (a role is restricted only by a policy)."""

    def __init__(self, principal: Principal, policies: Sequence[resources_pb2.ToolPolicy]):
        by_role = {policy.role: policy for policy in policies}
        roles = principal.roles or frozenset({""})
        self._unrestricted = any(role not in by_role for role in roles)
        self._patterns = [
            pattern for role in roles if role in by_role for pattern in by_role[role].allowed_tools
        ]

    def permits(self, tool: str) -> bool:
        return self._unrestricted or any(allows(pattern, tool) for pattern in self._patterns)

    def narrow(self, tools: Iterable[resources_pb2.Tool]) -> list[resources_pb2.Tool]:
        return [tool for tool in tools if self.permits(tool.name)]


class PolicyService:
    def __init__(self, repository: McpRepository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    async def allow_list(self, principal: Principal) -> AllowList:
        return AllowList(principal, await self._repository.policies(principal.organization_id))

    async def all(self) -> list[resources_pb2.ToolPolicy]:
        return await self._repository.policies(current_principal().organization_id)

    async def set(self, role: str, allowed_tools: Sequence[str]) -> resources_pb2.ToolPolicy:
        principal = current_principal()
        policy = resources_pb2.ToolPolicy(
            role=role, allowed_tools=allowed_tools, updated_by=principal.subject
        )
        policy.update_time.FromDatetime(self._clock.now())
        return await self._repository.put_policy(principal.organization_id, policy)

    async def delete(self, role: str) -> None:
        if not await self._repository.delete_policy(current_principal().organization_id, role):
            raise NotFound(f"role {role} has no tool policy", reason="NOT_FOUND")
