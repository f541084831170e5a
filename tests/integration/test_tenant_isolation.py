"""Tenant isolation over every REST route: a caller of organization A (its owner, so no
permission stands in the way) using organization B's ids gets 404 or 403 — never B's data —
and B's data is unchanged afterwards. Routes without ids answer only A's data.

The route list comes from the generated OpenAPI document, so a new route is covered (or this
test fails, asking for its body and ids) without anyone remembering to add it.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

OPENAPI = Path(__file__).resolve().parents[2] / "gen" / "openapi" / "openapi.json"
PASSWORD = "correct horse battery staple"

BODIES: dict[str, dict[str, Any]] = {
    "IdentityService_UpdateOrganization": {"name": "taken over"},
    "IdentityService_CreateInvitation": {"email": "mallory@example.com", "role": "admin"},
    "IdentityService_ResendInvitation": {},
    "IdentityService_RevokeInvitation": {},
    "IdentityService_UpdateMemberRole": {"role": "viewer"},
    "IdentityService_CreateRole": {"name": "intruder", "permissions": ["planning.task.read"]},
    "IdentityService_CreateServiceAccount": {
        "name": "intruder",
        "permissions": ["planning.task.read"],
    },
    "IdentityService_DisableServiceAccount": {},
    "IdentityService_RotateServiceAccountSecret": {},
    "IdentityService_CreateTeam": {"name": "intruders"},
    "IdentityService_UpdateTeam": {"name": "renamed"},
    "IdentityService_AddTeamMember": {"userId": "{alice}"},
    "IdentityService_UpdateRole": {"name": "renamed", "permissions": ["planning.task.read"]},
    "PlanningService_UpdateProject": {"name": "taken over"},
    "PlanningService_CreateTask": {"title": "planted"},
    "PlanningService_UpdateTask": {"title": "taken over"},
}
"""A valid body for every route that takes one and names B's resources by id."""

ID_OF_PARAMETER = {
    "organization_id": "organization",
    "role_organization_id": "organization",
    "invitation_id": "invitation",
    "user_id": "user",
    "role_id": "role",
    "service_account_id": "service_account",
    "team_id": "team",
    "session_id": "session",
    "project_id": "project",
    "task_id": "task",
}


def routes() -> list[tuple[str, str, str]]:
    document = json.loads(OPENAPI.read_text())
    found = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/") or path.startswith("/api/v1/ops/"):
            continue  # /auth, /.well-known and the ops probes hold no organization data
        for method, operation in operations.items():
            # A route without ids can only be read: writing to it creates in the caller's
            # own organization, with nothing of B's to name.
            if method in ("get", "post", "patch", "put", "delete") and (
                "{" in path or method == "get"
            ):
                found.append((method.upper(), path, operation["operationId"]))
    return sorted(found)


async def register(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    answer = await client.post(
        "/auth/register",
        json={
            "email": f"{name}-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "displayName": name,
            "organizationName": f"{name}'s organization",
            "returnRefreshToken": True,
        },
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> str:
    answer = await client.post(path, json=body)
    assert answer.status_code == 201, f"{path}: {answer.status_code} {answer.text}"
    identifier: str = answer.json()[key]["id"]
    return identifier


@pytest.fixture(scope="module")
async def tenants(edge_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as anonymous:
        alice = await register(anonymous, "alice")
        bob = await register(anonymous, "bob")
    org = bob["organizationId"]
    headers = {"authorization": f"Bearer {bob['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=15, headers=headers) as b:
        base = f"/api/v1/identity/organizations/{org}"
        project = await created(b, "/api/v1/planning/projects", {"name": "B secret"}, "project")
        ids = {
            "organization": org,
            "user": bob["user"]["id"],
            "session": bob["session"]["id"],
            "project": project,
            "task": await created(
                b, f"/api/v1/planning/projects/{project}/tasks", {"title": "B task"}, "task"
            ),
            "role": await created(
                b, f"{base}/roles", {"name": "b-role", "permissions": ["planning.*.read"]}, "role"
            ),
            "team": await created(b, f"{base}/teams", {"name": "b-team"}, "team"),
            "service_account": await created(
                b,
                f"{base}/serviceAccounts",
                {"name": "b-partner", "permissions": ["planning.task.read"]},
                "serviceAccount",
            ),
            "invitation": await created(
                b,
                f"{base}/invitations",
                {"email": "carol@example.com", "role": "member"},
                "invitation",
            ),
        }
    return {"alice": alice, "bob": bob, "ids": ids}


def url_for(path: str, ids: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ID_OF_PARAMETER, f"no id of organization B for path parameter {name!r}"
        return ids[ID_OF_PARAMETER[name]]

    return re.sub(r"\{([^}]+)\}", substitute, path)


@pytest.mark.parametrize(("method", "path", "operation"), routes())
async def test_organization_a_never_reaches_organization_b(
    tenants: dict[str, Any], edge_url: str, method: str, path: str, operation: str
) -> None:
    alice, ids = tenants["alice"], tenants["ids"]
    headers = {"authorization": f"Bearer {alice['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=15, headers=headers) as a:
        if "{" not in path:
            answer = await a.get(path)
            assert answer.status_code == 200, answer.text
            leaked = [name for name, value in ids.items() if value in answer.text]
            assert leaked == [], f"{operation} answered B's {leaked}"
            return
        body = None
        if method in ("POST", "PATCH", "PUT"):
            assert operation in BODIES, f"give {operation} a valid body in BODIES"
            body = json.loads(json.dumps(BODIES[operation]).replace("{alice}", alice["user"]["id"]))
        answer = await a.request(method, url_for(path, ids), json=body)
    assert answer.status_code in (403, 404), f"{operation}: {answer.status_code} {answer.text}"
    assert "B secret" not in answer.text
    assert "B task" not in answer.text


async def test_organization_b_data_is_untouched(tenants: dict[str, Any], edge_url: str) -> None:
    bob, ids = tenants["bob"], tenants["ids"]
    headers = {"authorization": f"Bearer {bob['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=15, headers=headers) as b:
        project = (await b.get(f"/api/v1/planning/projects/{ids['project']}")).json()
        assert project["project"]["name"] == "B secret"
        tasks = (await b.get(f"/api/v1/planning/projects/{ids['project']}/tasks")).json()
        assert [t["title"] for t in tasks["tasks"]] == ["B task"]
        organization = await b.get(f"/api/v1/identity/organizations/{ids['organization']}")
        assert organization.json()["organization"]["name"] == "bob's organization"
        members = await b.get(f"/api/v1/identity/organizations/{ids['organization']}/members")
        assert [m["role"] for m in members.json()["members"]] == ["owner"]
