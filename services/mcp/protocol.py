"""The MCP protocol side of the gateway: an SDK `Server` (the official `mcp` package's
low-level server; `MCPServer` registers Python functions as tools, while these tools are
the caller's, read per request from McpService) whose handlers call the suite over gRPC with
the caller's bearer token:

- `tools/list`, `tools/call` → McpService `ListTools`, `CallTool` (allow-lists, timeouts,
  rate limits, audit and events happen there), with `outputSchema` and `structuredContent`;
- `prompts/list`, `prompts/get` → Prompt Management `ListPrompts` (MCP cursors are its page
  tokens) and `RenderPrompt` (the arguments are the template's variables);
- `resources/list`, `resources/templates/list`, `resources/read` → the caller's knowledge
  spaces and pages and planning projects (services/mcp/_resources.py).

`streamable_http` wraps it for the edge's `/mcp` (stateless, JSON responses, a bearer token
required: without one, 401 with the RFC 9728 `resource_metadata` challenge the MCP
authorization spec asks for); `cli` runs the same server over stdio (`coder mcp`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import grpc
import mcp_types as types
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter, ValidationError

from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from coder.mcp.v1 import mcp_service_pb2 as mcp_api
from coder.mcp.v1.mcp_service_pb2_grpc import McpServiceStub
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from coder.prompt.v1 import prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as prompt_api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from services.mcp import _resources

NAME = "coder"
INSTRUCTIONS = (
    "Tools, prompts and data of the Coder platform, acting as the signed-in user in their "
    "organization: planning (projects, tasks), the knowledge base (search, pages), prompt "
    "templates, usage, AI completions, and the tools of the MCP servers the organization "
    "registered. Knowledge spaces, pages and project plans are also resources."
)

ChannelOf = Callable[[str], grpc.aio.Channel]
"""The channel to a domain's service."""
TokenOf = Callable[[ServerRequestContext[Any, Any]], str]
"""The caller's bearer token for one request."""

_CONTENT = TypeAdapter(types.ContentBlock)
_ROLES: dict[int, types.Role] = {
    prompt_pb2.MESSAGE_ROLE_USER: "user",
    prompt_pb2.MESSAGE_ROLE_ASSISTANT: "assistant",
    # MCP prompts have no system role; a system message opens the conversation as the user's.
    prompt_pb2.MESSAGE_ROLE_SYSTEM: "user",
}


def _tool(tool: Any) -> types.Tool:
    return types.Tool(
        name=tool.name,
        title=tool.title or None,
        description=tool.description or None,
        input_schema=MessageToDict(tool.input_schema) or {"type": "object"},
        output_schema=MessageToDict(tool.output_schema) or None,
        annotations=types.ToolAnnotations(read_only_hint=tool.read_only),
    )


def _block(raw: Struct) -> types.ContentBlock:
    data = MessageToDict(raw)
    try:
        return _CONTENT.validate_python(data)
    except ValidationError:
        return types.TextContent(text=json.dumps(data))


def _refusal(error: grpc.aio.AioRpcError) -> str:
    return f"{error.code().name}: {error.details() or ''}"


class Gateway:
    """The MCP server of the platform for the callers `token_of` names."""

    def __init__(self, channel_of: ChannelOf, token_of: TokenOf, deadline_seconds: float):
        self._channel_of = channel_of
        self._token_of = token_of
        self._deadline = deadline_seconds
        self.server: Server[Any] = Server(
            NAME,
            title="Coder",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
        )

    def _metadata(self, ctx: ServerRequestContext[Any, Any]) -> tuple[tuple[str, str], ...]:
        token = self._token_of(ctx)
        return (("authorization", f"Bearer {token}"),) if token else ()

    async def _ask(
        self, ctx: ServerRequestContext[Any, Any], call: Callable[..., Awaitable[Any]], request: Any
    ) -> Any:
        """One RPC for the caller; an authentication refusal becomes a JSON-RPC error (the
        token is not good for this service), others are the caller's to read."""
        try:
            return await call(request, metadata=self._metadata(ctx), timeout=self._deadline)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise MCPError(code=types.INVALID_REQUEST, message=_refusal(error)) from None
            raise

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        stub = McpServiceStub(self._channel_of("mcp"))
        try:
            reply = await self._ask(ctx, stub.ListTools, mcp_api.ListToolsRequest())
        except grpc.aio.AioRpcError as error:
            raise MCPError(code=types.INTERNAL_ERROR, message=_refusal(error)) from None
        return types.ListToolsResult(tools=[_tool(tool) for tool in reply.tools])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        stub = McpServiceStub(self._channel_of("mcp"))
        request = mcp_api.CallToolRequest(name=params.name)
        request.arguments.update(params.arguments or {})
        try:
            reply = await self._ask(ctx, stub.CallTool, request)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                # An unknown tool or a malformed call: a protocol error (MCP, tools/call).
                raise MCPError(code=types.INVALID_PARAMS, message=_refusal(error)) from None
            # Refused, rate limited, out of time, unreachable: a result the model can read.
            return types.CallToolResult(
                content=[types.TextContent(text=_refusal(error))], is_error=True
            )
        structured = (
            MessageToDict(reply.structured_content)
            if reply.HasField("structured_content")
            else None
        )
        return types.CallToolResult(
            content=[_block(block) for block in reply.content],
            structured_content=structured,
            is_error=reply.is_error,
        )

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        stub = PromptServiceStub(self._channel_of("prompt"))
        request = prompt_api.ListPromptsRequest(
            page_token=(params.cursor if params else None) or ""
        )
        try:
            reply = await self._ask(ctx, stub.ListPrompts, request)
        except grpc.aio.AioRpcError as error:
            raise MCPError(code=types.INVALID_PARAMS, message=_refusal(error)) from None
        prompts = [
            types.Prompt(name=prompt.name, description=prompt.description or None)
            for prompt in reply.prompts
        ]
        return types.ListPromptsResult(prompts=prompts, next_cursor=reply.next_page_token or None)

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        stub = PromptServiceStub(self._channel_of("prompt"))
        request = prompt_api.RenderPromptRequest(name=params.name)
        for name, value in (params.arguments or {}).items():
            request.variables[name].string_value = value
        try:
            reply = await self._ask(ctx, stub.RenderPrompt, request)
        except grpc.aio.AioRpcError as error:
            raise MCPError(code=types.INVALID_PARAMS, message=_refusal(error)) from None
        if reply.messages:
            messages = [
                types.PromptMessage(
                    role=_ROLES.get(message.role, "user"),
                    content=types.TextContent(text=message.content),
                )
                for message in reply.messages
            ]
        else:
            messages = [
                types.PromptMessage(role="user", content=types.TextContent(text=reply.text))
            ]
        return types.GetPromptResult(
            description=f"{params.name} version {reply.version}", messages=messages
        )

    async def _list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        try:
            return await _resources.list_resources(
                self._asker(ctx), self._stub_of, params.cursor if params else None
            )
        except _resources.UnknownResource as error:
            raise MCPError(code=types.INVALID_PARAMS, message=str(error)) from None
        except grpc.aio.AioRpcError as error:
            raise MCPError(code=types.INTERNAL_ERROR, message=_refusal(error)) from None

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=_resources.TEMPLATES)

    async def _read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            return await _resources.read_resource(self._asker(ctx), self._stub_of, str(params.uri))
        except _resources.UnknownResource as error:
            raise MCPError(code=types.INVALID_PARAMS, message=str(error)) from None
        except grpc.aio.AioRpcError as error:
            # Not found, or another organization's: the same answer (a resource not found).
            raise MCPError(code=types.INVALID_PARAMS, message=_refusal(error)) from None

    def _asker(self, ctx: ServerRequestContext[Any, Any]) -> _resources.Ask:
        return lambda call, request: self._ask(ctx, call, request)

    def _stub_of(self, domain: str) -> Any:
        stubs = {"knowledge": KnowledgeServiceStub, "planning": PlanningServiceStub}
        return stubs[domain](self._channel_of(domain))


# --- streamable HTTP (the edge's /mcp) ---------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Verify = Callable[[str], Awaitable[bool]]
"""Whether a bearer token is a valid access token (the services check it again)."""

METADATA_PATH = "/.well-known/oauth-protected-resource"


def bearer_of(headers: Any) -> str:
    """The token of an `Authorization: Bearer …` header, or ''."""
    value = str(headers.get("authorization", ""))
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def protected_resource_metadata(base_url: str, path: str) -> dict[str, Any]:
    """RFC 9728 metadata of the MCP endpoint at `base_url + path`: the edge itself is the
    authorization server (its `/.well-known/openid-configuration`, `/auth/token`)."""
    return {
        "resource": f"{base_url}{path}",
        "authorization_servers": [base_url],
        "bearer_methods_supported": ["header"],
        "resource_name": "Coder MCP",
    }


class StreamableHttp:
    """The gateway over MCP streamable HTTP: stateless (every request stands alone, so any
    edge replica serves it), JSON responses, a bearer token on every request. `running()`
    must be entered before it serves (the SDK's task group)."""

    def __init__(self, gateway: Gateway, verify: Verify, base_url: Callable[[Scope], str]):
        self._verify = verify
        self._base_url = base_url
        # No DNS-rebinding check on Host/Origin: the endpoint takes only bearer tokens in the
        # Authorization header, never ambient credentials (cookies) a rebound page could use.
        self._manager = StreamableHTTPSessionManager(
            gateway.server, json_response=True, stateless=True
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self._manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = bearer_of(headers)
        if not token or not await self._verify(token):
            await self._challenge(scope, send, "invalid_token" if token else "")
            return
        await self._manager.handle_request(scope, receive, send)

    async def _challenge(self, scope: Scope, send: Send, error: str) -> None:
        """401 with the challenge that sends an MCP client to the resource's metadata."""
        metadata = f"{self._base_url(scope)}{METADATA_PATH}{scope['path'].rstrip('/')}"
        parts = [f'resource_metadata="{metadata}"']
        if error:
            parts.insert(0, f'error="{error}", error_description="the token is not valid"')
        body = json.dumps(
            {"error": error or "unauthorized", "error_description": "a bearer token is required"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", f"Bearer {', '.join(parts)}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# --- stdio (`coder mcp`, for local agents) -----------------------------------------------------


async def serve_stdio(target: str, token: str, deadline_seconds: float = 60.0) -> None:
    """Serve the gateway on standard input and output until the client closes them: every
    domain at `target` (a `coder dev` host, or a gRPC front), as the holder of `token`."""
    async with grpc.aio.insecure_channel(target) as channel:
        gateway = Gateway(lambda _domain: channel, lambda _ctx: token, deadline_seconds)
        async with stdio_server() as (read_stream, write_stream):
            await gateway.server.run(
                read_stream, write_stream, gateway.server.create_initialization_options()
            )
