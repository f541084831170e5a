"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of planning: organization B's resources, a valid body for each route that takes one, and which
of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

BODIES: dict[str, dict[str, Any]] = {
    "PlanningService_UpdateProject": {"name": "taken over"},
    "PlanningService_CreateTask": {"title": "planted"},
    "PlanningService_UpdateTask": {"title": "taken over"},
}

ID_OF_PARAMETER = {"project_id": "project", "task_id": "task"}

SECRETS = ("B secret", "B task")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    project = await created(b.client, "/api/v1/planning/projects", {"name": "B secret"}, "project")
    task = await created(
        b.client, f"/api/v1/planning/projects/{project}/tasks", {"title": "B task"}, "task"
    )
    return {"project": project, "task": task}


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    project = (await b.client.get(f"/api/v1/planning/projects/{ids['project']}")).json()
    assert project["project"]["name"] == "B secret"
    tasks = (await b.client.get(f"/api/v1/planning/projects/{ids['project']}/tasks")).json()
    assert [t["title"] for t in tasks["tasks"]] == ["B task"]
