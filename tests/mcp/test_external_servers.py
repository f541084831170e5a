"""External MCP servers: registered by an organization's admin, their tools discovered by a
refresh and offered as `<server>.<tool>`, called through the gateway with an audit record and
an event, bounded by the server's timeout."""

from __future__ import annotations

import grpc
import httpx2
from google.protobuf.json_format import MessageToDict
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from coder.mcp.v1 import events_pb2, resources_pb2
from coder.mcp.v1 import mcp_service_pb2 as api
from coder.mcp.v1.mcp_service_pb2_grpc import McpServiceStub
from coder.secret.v1 import secret_pb2
from coder.secret.v1 import secret_service_pb2 as secret_api
from coder.secret.v1.secret_service_pb2_grpc import SecretServiceStub
from coder.usage.v1 import events_pb2 as usage_events_pb2
from coder.usage.v1.usage_service_pb2_grpc import UsageServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import TokenFactory, auth
from tests.fixtures.waiting import eventually
from tests.mcp.external import External
from tests.mcp.factories import call, executions, registered, server_name, tool_names
from tests.usage.factories import query, totals


class TestRegistry:
    async def test_a_refresh_discovers_the_tools_with_their_schemas(
        self,
        stub: McpServiceStub,
        token: TokenFactory,
        org: str,
        external: External,
        events: EventRecorder,
    ) -> None:
        server = await registered(stub, token(org, ("admin",)), external.url)
        assert server.refresh_error == ""
        assert server.HasField("refresh_time")
        tools = {tool.name: tool for tool in server.tools}
        assert set(tools) == {"echo", "explode", "wait"}
        echo = MessageToDict(tools["echo"].input_schema)
        assert echo["properties"]["text"]["type"] == "string"
        assert tools["echo"].source == resources_pb2.TOOL_SOURCE_EXTERNAL
        found = await events.settle(org, 2)
        assert [e.type for e in found] == ["mcp.server.registered", "mcp.server.refreshed"]

    async def test_an_unreachable_server_keeps_its_tools_and_says_why(
        self, stub: McpServiceStub, token: TokenFactory, org: str
    ) -> None:
        server = await registered(stub, token(org, ("admin",)), "http://127.0.0.1:9/mcp")
        assert list(server.tools) == []
        assert "could not be reached" in server.refresh_error

    async def test_names_are_unique_and_never_a_platform_domain(
        self, stub: McpServiceStub, token: TokenFactory, org: str, external: External
    ) -> None:
        admin = token(org, ("admin",))
        name = server_name()
        await registered(stub, admin, external.url, refresh=False, name=name)
        taken = await rpc_error(
            registered(stub, admin, external.url, refresh=False, name=name),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert error_reason(taken) == "SERVER_NAME_TAKEN"
        reserved = await rpc_error(
            registered(stub, admin, external.url, refresh=False, name="planning"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(reserved) == {"server.name"}
        plain_http = await rpc_error(
            registered(stub, admin, "http://mcp.example.com/mcp", refresh=False),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(plain_http) == {"server.url"}

    async def test_only_admins_register_servers(
        self, stub: McpServiceStub, token: TokenFactory, org: str, external: External
    ) -> None:
        await rpc_error(
            registered(stub, token(org, ("member",)), external.url),
            grpc.StatusCode.PERMISSION_DENIED,
        )


class TestExecution:
    async def test_a_call_runs_on_the_server_with_an_audit_record_and_usage(
        self,
        stub: McpServiceStub,
        mcp_host: ServiceHost,
        token: TokenFactory,
        org: str,
        external: External,
        events: EventRecorder,
    ) -> None:
        server = await registered(stub, token(org, ("admin",)), external.url)
        member = token(org, ("member",), sub="user-ext")
        name = f"{server.name}.echo"
        assert name in await tool_names(stub, member)
        reply = await call(stub, member, name, {"text": "hello"})
        assert reply.is_error is False
        assert MessageToDict(reply.structured_content) == {"echoed": "hello", "length": 5}
        assert reply.execution.status == resources_pb2.EXECUTION_STATUS_SUCCEEDED
        audit = await executions(stub, token(org, ("admin",)), name)
        assert [(e.id, e.caller_id, e.server_id) for e in audit] == [
            (reply.execution.id, "user-ext", server.id)
        ]
        executed = [e for e in await events.settle(org, 3) if e.type == "mcp.tool.executed"]
        usage = usage_events_pb2.UsageRecorded()
        assert executed[0].data.Unpack(usage)
        assert dict(usage.attributes) == {"server": server.name, "tool": name}
        assert usage.user_id == "user-ext"

        usage_stub = UsageServiceStub(mcp_host.channel)
        admin = token(org, ("admin",))

        async def metered() -> bool:
            found = await query(usage_stub, admin, category="mcp.execution", group_by=["tool"])
            return totals(found).get(("mcp.execution.executions", name)) == 1

        await eventually(metered)

    async def test_an_error_of_the_tool_is_an_error_result_and_a_failed_event(
        self,
        stub: McpServiceStub,
        token: TokenFactory,
        org: str,
        external: External,
        events: EventRecorder,
    ) -> None:
        server = await registered(stub, token(org, ("admin",)), external.url)
        reply = await call(stub, token(org), f"{server.name}.explode")
        assert reply.is_error is True
        assert "the fuse was lit" in MessageToDict(reply.content[0])["text"]
        assert reply.execution.status == resources_pb2.EXECUTION_STATUS_FAILED
        assert reply.execution.error_reason == "TOOL_ERROR"
        failed = [e for e in await events.settle(org, 3) if e.type == "mcp.tool.failed"]
        payload = events_pb2.ToolFailed()
        assert failed[0].data.Unpack(payload)
        assert payload.execution.id == reply.execution.id

    async def test_a_tool_slower_than_its_servers_timeout_is_cut_and_recorded(
        self, stub: McpServiceStub, token: TokenFactory, org: str, external: External
    ) -> None:
        admin = token(org, ("admin",))
        server = await registered(stub, admin, external.url, timeout_seconds=1)
        name = f"{server.name}.wait"
        error = await rpc_error(call(stub, token(org), name), grpc.StatusCode.DEADLINE_EXCEEDED)
        assert error_reason(error) == "TOOL_TIMEOUT"
        [record] = await executions(stub, admin, name)
        assert record.status == resources_pb2.EXECUTION_STATUS_FAILED
        assert record.error_reason == "TOOL_TIMEOUT"

    async def test_an_unknown_tool_is_not_found(
        self, stub: McpServiceStub, token: TokenFactory, org: str, external: External
    ) -> None:
        server = await registered(stub, token(org, ("admin",)), external.url)
        error = await rpc_error(
            call(stub, token(org), f"{server.name}.missing"), grpc.StatusCode.NOT_FOUND
        )
        assert error_reason(error) == "TOOL_NOT_FOUND"

    async def test_mcp_clients_call_external_tools_through_the_edge(
        self, stub: McpServiceStub, token: TokenFactory, org: str, external: External, edge_url: str
    ) -> None:
        server = await registered(stub, token(org, ("admin",)), external.url)
        http = create_mcp_http_client(
            headers={"authorization": f"Bearer {token(org)}"}, timeout=httpx2.Timeout(20)
        )
        async with http, Client(streamable_http_client(f"{edge_url}/mcp", http_client=http)) as c:
            names = {tool.name for tool in (await c.list_tools()).tools}
            assert f"{server.name}.echo" in names
            result = await c.call_tool(f"{server.name}.echo", {"text": "via edge"})
        assert result.structured_content == {"echoed": "via edge", "length": 8}


class TestDeletion:
    async def test_a_deleted_servers_tools_are_gone(
        self,
        stub: McpServiceStub,
        token: TokenFactory,
        org: str,
        external: External,
    ) -> None:
        admin = token(org, ("admin",))
        server = await registered(stub, admin, external.url)
        await stub.DeleteServer(api.DeleteServerRequest(server_id=server.id), metadata=auth(admin))
        assert not any(n.startswith(f"{server.name}.") for n in await tool_names(stub, admin))
        await rpc_error(call(stub, admin, f"{server.name}.echo"), grpc.StatusCode.NOT_FOUND)


class TestCredentials:
    async def test_the_servers_secret_is_its_bearer_token(
        self,
        stub: McpServiceStub,
        mcp_host: ServiceHost,
        token: TokenFactory,
        org: str,
        external: External,
    ) -> None:
        admin = token(org, ("admin",))
        secrets = SecretServiceStub(mcp_host.channel)
        created = await secrets.CreateSecret(
            secret_api.CreateSecretRequest(
                secret=secret_pb2.Secret(
                    name="ext_server_token",
                    type=secret_pb2.SECRET_TYPE_API_KEY,
                    scope=secret_pb2.SECRET_SCOPE_ORGANIZATION,
                ),
                value=secret_pb2.SecretValue(api_key=secret_pb2.ApiKey(key="ext-token-123")),
            ),
            metadata=auth(admin),
        )
        server = await registered(stub, admin, external.url, credential_secret_id=created.secret.id)
        assert server.refresh_error == ""
        before = len(external.authorizations)
        reply = await call(stub, admin, f"{server.name}.echo", {"text": "with a key"})
        assert reply.is_error is False
        sent = set(external.authorizations[before:])
        assert sent == {"Bearer ext-token-123"}
        assert "ext-token-123" not in str(server)
