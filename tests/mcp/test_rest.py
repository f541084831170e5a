"""The REST mappings of McpService through the edge: the same gateway for HTTP callers."""

from __future__ import annotations

import httpx

from tests.fixtures.tokens import TokenFactory
from tests.mcp.external import External
from tests.mcp.factories import server_name


def client(edge_url: str, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=edge_url, headers={"authorization": f"Bearer {token}"}, timeout=20
    )


async def test_register_refresh_list_and_call_over_rest(
    edge_url: str, token: TokenFactory, org: str, external: External
) -> None:
    async with client(edge_url, token(org, ("admin",))) as admin:
        name = server_name()
        created = await admin.post("/api/v1/mcp/servers", json={"name": name, "url": external.url})
        assert created.status_code == 201, created.text
        server = created.json()["server"]
        assert created.headers["location"].endswith(f"/api/v1/mcp/servers/{server['id']}")
        refreshed = await admin.post(f"/api/v1/mcp/servers/{server['id']}:refresh", json={})
        assert refreshed.status_code == 200, refreshed.text
        assert {t["name"] for t in refreshed.json()["server"]["tools"]} == {
            "echo",
            "explode",
            "wait",
        }
        tools = (await admin.get("/api/v1/mcp/tools")).json()["tools"]
        assert f"{name}.echo" in {tool["name"] for tool in tools}
        answer = await admin.post(
            f"/api/v1/mcp/tools/{name}.echo:call", json={"arguments": {"text": "rest"}}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["structuredContent"] == {"echoed": "rest", "length": 4}
        assert body["isError"] is False
        assert body["execution"]["status"] == "EXECUTION_STATUS_SUCCEEDED"
        audit = (await admin.get("/api/v1/mcp/executions", params={"tool": f"{name}.echo"})).json()
        assert [e["id"] for e in audit["executions"]] == [body["execution"]["id"]]


async def test_policies_and_refusals_over_rest(
    edge_url: str, token: TokenFactory, org: str
) -> None:
    async with client(edge_url, token(org, ("admin",))) as admin:
        set_policy = await admin.post(
            "/api/v1/mcp/policies:set", json={"role": "member", "allowedTools": ["usage.*"]}
        )
        assert set_policy.status_code == 200, set_policy.text
        assert set_policy.json()["policy"]["allowedTools"] == ["usage.*"]
    async with client(edge_url, token(org, ("member",))) as member:
        refused = await member.post("/api/v1/mcp/tools/planning.list_projects:call", json={})
        assert refused.status_code == 403
        assert refused.json()["details"][0]["reason"] == "TOOL_NOT_ALLOWED"
        unknown = await member.post("/api/v1/mcp/tools/nowhere.nothing:call", json={})
        assert unknown.status_code == 404
    async with client(edge_url, token(org, ("admin",))) as admin:
        deleted = await admin.delete("/api/v1/mcp/policies/member")
        assert deleted.status_code == 200
        assert (await admin.delete("/api/v1/mcp/policies/member")).status_code == 404
