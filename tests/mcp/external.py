"""The tests' external MCP server (the official SDK's, over streamable HTTP on loopback): an
`echo` tool with a structured result, one that always fails, and one that waits for the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from tests.edge.conftest import free_socket


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


@asynccontextmanager
async def serving_external() -> AsyncIterator[External]:
    """The server running on a free loopback port until the block ends."""
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
