"""The MCP service with the services it calls (planning, prompt, usage, secret) on one
real gRPC host, the edge in front of it on a real port (its `/mcp`), an external MCP server
of the test's own (the SDK's `MCPServer` over streamable HTTP on loopback), and a recorder
of the events the service publishes."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from coder.mcp.v1 import mcp_service_pb2_grpc
from edge import EdgeSettings
from services.kit import Resources
from services.knowledge import SERVICE as KNOWLEDGE
from services.kit.bus import Subscription
from services.mcp import McpSettings, definition
from services.planning import SERVICE as PLANNING
from services.prompt import SERVICE as PROMPT
from services.secret import SecretSettings
from services.secret import definition as secret_definition
from services.usage import SERVICE as USAGE
from tests.conftest import HostFactory
from tests.edge.conftest import free_socket, serving
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import TokenFactory

CALLS_PER_MINUTE = 30


@pytest.fixture(scope="session")
async def mcp_host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    settings = McpSettings(calls_per_minute=CALLS_PER_MINUTE, discovery_timeout_seconds=10)
    secret = secret_definition(
        SecretSettings(master_key=base64.b64encode(os.urandom(32)).decode(), sweep_seconds=3600)
    )
    services = [definition(settings), PLANNING, PROMPT, USAGE, secret, KNOWLEDGE]
    async with service_host(services) as started:
        yield started


@pytest.fixture(scope="session")
def resources(mcp_host: ServiceHost) -> Resources:
    return mcp_host.resources


@pytest.fixture(scope="session")
def stub(mcp_host: ServiceHost) -> mcp_service_pb2_grpc.McpServiceStub:
    return mcp_service_pb2_grpc.McpServiceStub(mcp_host.channel)


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every mcp event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("mcp-event-tests", "mcp", ("mcp.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
async def edge_url(mcp_host: ServiceHost, token: TokenFactory) -> AsyncIterator[str]:
    settings = EdgeSettings(
        grpc_target=mcp_host.target,
        deadline_seconds=20.0,
        api_user_limit=1_000_000,
        api_organization_limit=1_000_000,
        api_ip_limit=1_000_000,
    )
    async with serving(settings, token.verifier()) as url:
        yield url


class External:
    """The test's external MCP server: its URL, and the gate its `wait` tool blocks on."""

    def __init__(self) -> None:
        self.url = ""
        self.release = anyio.Event()
        self.authorizations: list[str] = []
        """The Authorization header of every request the server received."""


def external_server(state: External) -> MCPServer:
    server = MCPServer("external-test-server")

    @server.tool(description="Echo a text back, structured.")
    def echo(text: str) -> dict[str, Any]:
        return {"echoed": text, "length": len(text)}

    @server.tool(description="Always fails.")
    def explode() -> str:
        raise ToolError("the fuse was lit")

    @server.tool(description="Waits until the test releases it.")
    async def wait() -> str:
        await state.release.wait()
        return "released"

    return server


@pytest.fixture(scope="session")
async def external() -> AsyncIterator[External]:
    state = External()
    served = external_server(state).streamable_http_app(stateless_http=True, json_response=True)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            state.authorizations.append(headers.get(b"authorization", b"").decode())
        await served(scope, receive, send)

    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}/mcp"
    try:
        yield state
    finally:
        state.release.set()
        server.should_exit = True
        await task
        sock.close()
