"""MCP clients against the whole suite, as a user meets it: a user signs up through the edge,
and the official SDK client, given that user's access token, lists and calls the platform's
tools at `/mcp` of the edge and of Envoy in front of it; without the token it is refused
with the protected-resource challenge at both front doors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.integration.tenancy import register


@asynccontextmanager
async def connected(url: str, token: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(
        headers={"authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30)
    )
    async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
        yield client


@pytest.fixture(scope="module")
def doors(edge_url: str, envoy_url: str) -> dict[str, str]:
    return {"edge": edge_url, "envoy": envoy_url}


@pytest.fixture(scope="module")
async def user(edge_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as anonymous:
        return await register(anonymous, "agent")


@pytest.mark.parametrize("door", ["edge", "envoy"])
async def test_an_mcp_client_works_as_the_signed_in_user(
    door: str, doors: dict[str, str], user: dict[str, Any]
) -> None:
    url = doors[door]
    async with connected(url, user["accessToken"]) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"planning.create_project", "usage.query_usage", "ai.chat_completion"} <= names
        created = await client.call_tool(
            "planning.create_project", {"project": {"name": f"via {door}"}}
        )
        assert created.is_error is False, created.content
    assert created.structured_content is not None
    project = created.structured_content["project"]
    assert project["organizationId"] == user["organizationId"]
    assert project["createdBy"] == user["user"]["id"]


@pytest.mark.parametrize("door", ["edge", "envoy"])
async def test_without_a_token_the_client_is_challenged(door: str, doors: dict[str, str]) -> None:
    url = doors[door]
    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        answer = await client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert answer.status_code == 401
        assert "resource_metadata=" in answer.headers["www-authenticate"]
        metadata = await client.get("/.well-known/oauth-protected-resource/mcp")
    assert metadata.status_code == 200
    assert metadata.json()["resource"].endswith("/mcp")
