"""The MCP service's rules, one module per concern: the registry of external servers and
their discovery (`servers`), the tool gateway — listing, allow-lists, execution, audit
(`tools`) — and the allow-lists themselves (`policies`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.mcp.service.policies import PolicyService
from services.mcp.service.servers import ServerService
from services.mcp.service.tools import ToolService


@dataclass(frozen=True, slots=True)
class McpServices:
    servers: ServerService
    tools: ToolService
    policies: PolicyService


__all__ = ["McpServices", "PolicyService", "ServerService", "ToolService"]
