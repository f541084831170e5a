"""The official MCP client (the SDK's streamable HTTP client) through the edge's `/mcp`: with
a bearer token it lists and calls the platform's tools as the token's user; without one it
is refused with the challenge that names the protected-resource metadata."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.fixtures.tokens import TokenFactory


@asynccontextmanager
async def connected(edge_url: str, token: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(
        headers={"authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(20)
    )
    async with http, Client(streamable_http_client(f"{edge_url}/mcp", http_client=http)) as c:
        yield c


class TestWithABearerToken:
    async def test_lists_the_platform_tools_the_caller_may_use_with_schemas(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org, ("member",))) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"planning.create_project", "planning.list_tasks", "prompt.render_prompt"} <= set(
            tools
        )
        create = tools["planning.create_project"]
        assert create.input_schema["type"] == "object"
        assert "project" in create.input_schema["properties"]
        assert create.output_schema is not None and "project" in create.output_schema["properties"]
        assert tools["planning.list_projects"].annotations is not None
        assert tools["planning.list_projects"].annotations.read_only_hint is True

    async def test_a_viewer_is_not_offered_write_tools(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org, ("viewer",))) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
        assert "planning.list_projects" in names
        assert "planning.create_project" not in names

    async def test_calls_tools_as_the_caller_with_structured_content(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org, ("member",), sub="user-mcp")) as client:
            created = await client.call_tool(
                "planning.create_project", {"project": {"name": "Through MCP"}}
            )
            assert created.is_error is False, created.content
            assert created.structured_content is not None
            project = created.structured_content["project"]
            assert project["name"] == "Through MCP"
            assert project["organizationId"] == org
            listed = await client.call_tool("planning.list_projects", {})
        assert listed.structured_content is not None
        assert [p["id"] for p in listed.structured_content["projects"]] == [project["id"]]

    async def test_a_refusal_of_the_called_service_is_an_error_result(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org, ("member",))) as client:
            result = await client.call_tool(
                "planning.get_task", {"projectId": "p1", "taskId": "t1"}
            )
        assert result.is_error is True
        assert "NOT_FOUND" in result.content[0].text  # type: ignore[union-attr]

    async def test_an_unknown_tool_is_a_protocol_error(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org)) as client:
            with pytest.raises(MCPError, match=r"TOOL_NOT_FOUND|not found"):
                await client.call_tool("nowhere.nothing", {})


class TestResources:
    """The caller's project plans (and knowledge, in tests/integration/test_knowledge_search.py)
    as MCP resources: listed with a cursor, read by URI, described by templates."""

    async def test_a_project_is_listed_and_read_with_its_tasks(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org, ("member",), sub="user-res")) as client:
            created = await client.call_tool(
                "planning.create_project", {"project": {"name": "Resource plan"}}
            )
            assert created.structured_content is not None
            project = created.structured_content["project"]["id"]
            added = await client.call_tool(
                "planning.create_task",
                {"projectId": project, "task": {"title": "First step"}},
            )
            assert added.is_error is False, added.content
            listed, cursor = [], None
            while True:  # the spaces (none here), then the projects
                page = await client.list_resources(cursor=cursor)
                listed += page.resources
                if not (cursor := page.next_cursor):
                    break
            uri = f"coder://planning/projects/{project}"
            assert [(str(r.uri), r.title) for r in listed] == [(uri, "Resource plan")]
            read = await client.read_resource(uri)
        (contents,) = read.contents
        assert contents.mime_type == "application/json"
        plan = json.loads(contents.text)  # type: ignore[union-attr]
        assert plan["project"]["name"] == "Resource plan"
        assert [task["title"] for task in plan["tasks"]] == ["First step"]

    async def test_the_templates_name_every_kind_of_resource(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org)) as client:
            templates = (await client.list_resource_templates()).resource_templates
        assert {t.uri_template for t in templates} == {
            "coder://knowledge/spaces/{space_id}",
            "coder://knowledge/pages/{page_id}",
            "coder://planning/projects/{project_id}",
        }

    async def test_another_organization_s_project_and_a_foreign_uri_are_not_found(
        self, edge_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connected(edge_url, token(org, ("member",))) as owner:
            created = await owner.call_tool(
                "planning.create_project", {"project": {"name": "Not yours"}}
            )
            assert created.structured_content is not None
            project = created.structured_content["project"]["id"]
        async with connected(edge_url, token(f"{org}-other", ("owner",))) as other:
            with pytest.raises(MCPError, match="NOT_FOUND"):
                await other.read_resource(f"coder://planning/projects/{project}")
            with pytest.raises(MCPError, match="not a resource of this server"):
                await other.read_resource("file:///etc/passwd")


class TestWithoutABearerToken:
    async def test_the_sdk_client_is_refused(self, edge_url: str) -> None:
        statuses: list[int] = []

        async def seen(response: httpx2.Response) -> None:
            statuses.append(response.status_code)

        http = create_mcp_http_client(timeout=httpx2.Timeout(20))
        http.event_hooks["response"].append(seen)
        with pytest.raises(BaseException) as refused:  # noqa: PT011 (a group, unwrapped below)
            async with http, Client(streamable_http_client(f"{edge_url}/mcp", http_client=http)):
                pass
        error: BaseException = refused.value
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        assert isinstance(error, MCPError)
        assert statuses and set(statuses) == {401}

    async def test_401_names_the_protected_resource_metadata(self, edge_url: str) -> None:
        async with httpx.AsyncClient(base_url=edge_url) as client:
            answer = await client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            challenge = answer.headers["www-authenticate"]
            assert answer.status_code == 401
            metadata_url = f"{edge_url}/.well-known/oauth-protected-resource/mcp"
            assert challenge.startswith("Bearer ")
            assert f'resource_metadata="{metadata_url}"' in challenge
            metadata = (await client.get(metadata_url)).json()
        assert metadata["resource"] == f"{edge_url}/mcp"
        assert metadata["authorization_servers"] == [edge_url]
        assert metadata["bearer_methods_supported"] == ["header"]

    async def test_a_forged_token_is_refused_as_invalid(self, edge_url: str) -> None:
        async with httpx.AsyncClient(base_url=edge_url) as client:
            answer = await client.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"authorization": "Bearer not-a-token"},
            )
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]
