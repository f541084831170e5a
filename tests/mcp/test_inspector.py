"""The MCP Inspector's CLI (npm `@modelcontextprotocol/inspector`, pinned in
scripts/mcp-inspector/) lists and calls our tools through the edge's `/mcp` with a bearer
token, and gets nothing without one."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
INSPECTOR = ROOT / "scripts" / "mcp-inspector" / "node_modules" / ".bin" / "mcp-inspector"

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        not INSPECTOR.exists() and not os.environ.get("CI"),
        reason="run `npm ci --prefix scripts/mcp-inspector` (make setup-test) for the Inspector",
    ),
]


async def inspector(url: str, token: str | None, *arguments: str) -> tuple[int, str, str]:
    headers = ["--header", f"Authorization: Bearer {token}"] if token else []
    process = await asyncio.create_subprocess_exec(
        str(INSPECTOR),
        "--cli",
        url,
        "--transport",
        "http",
        *headers,
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def parsed(output: str) -> Any:
    return json.loads(output[output.index("{") :])


async def test_lists_tools_with_a_bearer_token(
    edge_url: str, token: TokenFactory, org: str
) -> None:
    code, out, err = await inspector(
        f"{edge_url}/mcp", token(org, ("member",)), "--method", "tools/list"
    )
    assert code == 0, err
    names = {tool["name"] for tool in parsed(out)["tools"]}
    assert {"planning.create_project", "planning.list_projects"} <= names


async def test_calls_a_tool_with_a_bearer_token(
    edge_url: str, token: TokenFactory, org: str
) -> None:
    code, out, err = await inspector(
        f"{edge_url}/mcp",
        token(org, ("member",)),
        "--method",
        "tools/call",
        "--tool-name",
        "planning.create_project",
        "--tool-arg",
        'project={"name": "From the Inspector"}',
    )
    assert code == 0, err
    result = parsed(out)
    assert result.get("isError") is not True, result
    assert result["structuredContent"]["project"]["name"] == "From the Inspector"
    assert result["structuredContent"]["project"]["organizationId"] == org


async def test_is_refused_without_a_token(edge_url: str) -> None:
    code, out, _ = await inspector(f"{edge_url}/mcp", None, "--method", "tools/list")
    assert code != 0
    assert '"tools"' not in out
