"""The MCP service: the platform's Model Context Protocol gateway — the tools a caller may use
(the suite's own RPCs and the tools of the external MCP servers an organization registers),
executed for the caller with allow-lists, timeouts, rate limits and an audit log. The edge
serves it to MCP clients at `/mcp` and `coder mcp` over stdio (`services.mcp.protocol`)."""

from __future__ import annotations

import grpc

from coder.mcp.v1 import mcp_service_pb2_grpc
from services.kit import Resources, ServiceDefinition
from services.mcp._settings import McpSettings
from services.mcp.repository import CONTAINERS, McpRepository
from services.mcp.service import McpServices, PolicyService, ServerService, ToolService
from services.mcp.servicer import McpServicer


def definition(settings: McpSettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_MCP_*` environment,
    read when the service is registered (never at import)."""

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the MCP servicer, wired to this process's resources, to a server."""
        own = settings or McpSettings()
        repository = McpRepository(resources.store, resources.relay)
        clock = resources.clock
        policies = PolicyService(repository, clock)
        servers = ServerService(repository, resources.peers, clock, own)
        tools = ToolService(
            repository, servers, policies, resources.peers, resources.caches.limiter, clock, own
        )
        services = McpServices(servers=servers, tools=tools, policies=policies)
        mcp_service_pb2_grpc.add_McpServiceServicer_to_server(McpServicer(services), server)

    return ServiceDefinition(
        domain="mcp",
        service_names=("coder.mcp.v1.McpService",),
        containers=CONTAINERS,
        register=register,
    )


SERVICE = definition()

__all__ = ["SERVICE", "McpSettings", "definition"]
