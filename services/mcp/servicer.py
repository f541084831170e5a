"""The gRPC adapter of McpService: unpack, call the service, build the reply."""

from __future__ import annotations

import grpc
from google.protobuf.json_format import MessageToDict

from coder.mcp.v1 import mcp_service_pb2 as api
from coder.mcp.v1 import mcp_service_pb2_grpc
from services.mcp.service import McpServices


class McpServicer(mcp_service_pb2_grpc.McpServiceServicer):
    def __init__(self, services: McpServices) -> None:
        self._s = services

    async def CreateServer(
        self, request: api.CreateServerRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateServerResponse:
        return api.CreateServerResponse(server=await self._s.servers.create(request.server))

    async def GetServer(
        self, request: api.GetServerRequest, context: grpc.aio.ServicerContext
    ) -> api.GetServerResponse:
        return api.GetServerResponse(server=await self._s.servers.get(request.server_id))

    async def ListServers(
        self, request: api.ListServersRequest, context: grpc.aio.ServicerContext
    ) -> api.ListServersResponse:
        servers, token = await self._s.servers.page(request)
        return api.ListServersResponse(servers=servers, next_page_token=token)

    async def DeleteServer(
        self, request: api.DeleteServerRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteServerResponse:
        await self._s.servers.delete(request.server_id)
        return api.DeleteServerResponse()

    async def RefreshServer(
        self, request: api.RefreshServerRequest, context: grpc.aio.ServicerContext
    ) -> api.RefreshServerResponse:
        return api.RefreshServerResponse(server=await self._s.servers.refresh(request.server_id))

    async def ListTools(
        self, request: api.ListToolsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListToolsResponse:
        return api.ListToolsResponse(tools=await self._s.tools.available())

    async def CallTool(
        self, request: api.CallToolRequest, context: grpc.aio.ServicerContext
    ) -> api.CallToolResponse:
        return await self._s.tools.call(request.name, MessageToDict(request.arguments))

    async def ListToolPolicies(
        self, request: api.ListToolPoliciesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListToolPoliciesResponse:
        return api.ListToolPoliciesResponse(policies=await self._s.policies.all())

    async def SetToolPolicy(
        self, request: api.SetToolPolicyRequest, context: grpc.aio.ServicerContext
    ) -> api.SetToolPolicyResponse:
        policy = await self._s.policies.set(request.role, request.allowed_tools)
        return api.SetToolPolicyResponse(policy=policy)

    async def DeleteToolPolicy(
        self, request: api.DeleteToolPolicyRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteToolPolicyResponse:
        await self._s.policies.delete(request.role)
        return api.DeleteToolPolicyResponse()

    async def ListToolExecutions(
        self, request: api.ListToolExecutionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListToolExecutionsResponse:
        executions, token = await self._s.tools.executions(request)
        return api.ListToolExecutionsResponse(executions=executions, next_page_token=token)
