"""Helpers of the MCP tests: registering and refreshing a server, calling a tool."""

from __future__ import annotations

from typing import Any

from google.protobuf.struct_pb2 import Struct

from coder.mcp.v1 import mcp_service_pb2 as api
from coder.mcp.v1 import resources_pb2
from coder.mcp.v1.mcp_service_pb2_grpc import McpServiceStub
from services.kit import new_id
from tests.fixtures.tokens import auth


def server_name() -> str:
    return f"ext-{new_id().lower()[-10:]}"


async def registered(
    stub: McpServiceStub, token: str, url: str, *, refresh: bool = True, **fields: Any
) -> resources_pb2.Server:
    """A new server of the token's organization, its tools discovered unless `refresh` is
    False."""
    fields.setdefault("name", server_name())
    created: api.CreateServerResponse = await stub.CreateServer(
        api.CreateServerRequest(server=resources_pb2.Server(url=url, **fields)),
        metadata=auth(token),
    )
    if not refresh:
        return created.server
    refreshed: api.RefreshServerResponse = await stub.RefreshServer(
        api.RefreshServerRequest(server_id=created.server.id), metadata=auth(token)
    )
    return refreshed.server


async def call(
    stub: McpServiceStub, token: str, name: str, arguments: dict[str, Any] | None = None
) -> api.CallToolResponse:
    struct = Struct()
    struct.update(arguments or {})
    reply: api.CallToolResponse = await stub.CallTool(
        api.CallToolRequest(name=name, arguments=struct), metadata=auth(token)
    )
    return reply


async def tool_names(stub: McpServiceStub, token: str) -> set[str]:
    reply: api.ListToolsResponse = await stub.ListTools(
        api.ListToolsRequest(), metadata=auth(token)
    )
    return {tool.name for tool in reply.tools}


async def executions(
    stub: McpServiceStub, token: str, tool: str
) -> list[resources_pb2.ToolExecution]:
    reply: api.ListToolExecutionsResponse = await stub.ListToolExecutions(
        api.ListToolExecutionsRequest(tool=tool), metadata=auth(token)
    )
    return list(reply.executions)
