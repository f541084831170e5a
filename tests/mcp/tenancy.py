"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of mcp: organization B's registered server, a tool name of it and a role with a tool policy,
a valid body for each route that takes one, and which of B's ids each path parameter names.

B's server points at a loopback port nothing listens on (the integration suite runs no
external MCP server), so it has no discovered tools: A's call of `<B's server>.echo` must be
NOT_FOUND all the same, since A's organization has no server of that name."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

SERVER_NAME = "b-secret-server"
ROLE = "b-secret-role"

BODIES: dict[str, dict[str, Any]] = {
    "McpService_RefreshServer": {},
    "McpService_CallTool": {"arguments": {}},
}

ID_OF_PARAMETER = {"server_id": "mcp_server", "name": "mcp_tool", "role": "mcp_role"}

SECRETS = ("B secret server", "127.0.0.1:9/b-secret")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    server = await created(
        b.client,
        "/api/v1/mcp/servers",
        {
            "name": SERVER_NAME,
            "url": "http://127.0.0.1:9/b-secret",
            "description": "B secret server",
        },
        "server",
    )
    answer = await b.client.post(
        "/api/v1/mcp/policies:set", json={"role": ROLE, "allowedTools": ["planning.*"]}
    )
    assert answer.status_code == 200, answer.text
    return {"mcp_server": server, "mcp_tool": f"{SERVER_NAME}.echo", "mcp_role": ROLE}


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    server = (await b.client.get(f"/api/v1/mcp/servers/{ids['mcp_server']}")).json()["server"]
    assert server["description"] == "B secret server"
    assert "refreshTime" not in server
    policies = (await b.client.get("/api/v1/mcp/policies")).json()["policies"]
    assert [(p["role"], p["allowedTools"]) for p in policies] == [(ROLE, ["planning.*"])]
