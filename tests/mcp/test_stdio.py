"""`coder mcp`: the same gateway over stdio, started by an MCP client as its child process
(the SDK's stdio client), acting as the holder of `CODER_TOKEN`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters

from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]


def coder_mcp(target: str, token: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "cli", "mcp", "--target", target],
        env={**os.environ, "CODER_TOKEN": token},
        cwd=str(ROOT),
    )


async def test_a_local_agent_lists_and_calls_tools_over_stdio(
    mcp_host: ServiceHost, token: TokenFactory, org: str
) -> None:
    async with Client(coder_mcp(mcp_host.target, token(org, ("member",)))) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "planning.create_project" in names
        created = await client.call_tool(
            "planning.create_project", {"project": {"name": "From stdio"}}
        )
    assert created.structured_content is not None
    assert created.structured_content["project"]["organizationId"] == org
