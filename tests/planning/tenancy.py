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
    "PlanningService_CreateMilestone": {"name": "planted"},
    "PlanningService_UpdateMilestone": {"name": "taken over"},
    "PlanningService_CreateCycle": {
        "name": "planted",
        "startTime": "2026-01-05T00:00:00Z",
        "endTime": "2026-01-19T00:00:00Z",
    },
    "PlanningService_UpdateCycle": {"name": "taken over"},
    "PlanningService_CreateTaskRelation": {
        "relatedTaskId": "planted-task",
        "kind": "RELATION_KIND_RELATES_TO",
    },
    "PlanningService_CreateWorklog": {"duration": "600s"},
    "PlanningService_UpdateWorklog": {"description": "taken over"},
    "PlanningService_GeneratePlan": {"intent": "planted"},
    "PlanningService_RefinePlan": {"instruction": "taken over"},
    "PlanningService_ApprovePlan": {},
    "PlanningService_CreateView": {"name": "planted"},
    "PlanningService_UpdateView": {"name": "taken over"},
}

ID_OF_PARAMETER = {
    "project_id": "project",
    "task_id": "task",
    "milestone_id": "milestone",
    "cycle_id": "cycle",
    "relation_id": "relation",
    "worklog_id": "worklog",
    "plan_id": "plan",
    "view_id": "view",
}

SECRETS = (
    "B secret",
    "B task",
    "B planning milestone 7c1",
    "B planning cycle 7c1",
    "B planning worklog 7c1",
    "B planning blocked task 7c1",
    "B planning view 7c1",
)
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    project = await created(b.client, "/api/v1/planning/projects", {"name": "B secret"}, "project")
    base = f"/api/v1/planning/projects/{project}"
    milestone = await created(
        b.client, f"{base}/milestones", {"name": "B planning milestone 7c1"}, "milestone"
    )
    cycle = await created(
        b.client,
        f"{base}/cycles",
        {
            "name": "B planning cycle 7c1",
            "startTime": "2026-01-05T00:00:00Z",
            "endTime": "2026-01-19T00:00:00Z",
        },
        "cycle",
    )
    task = await created(
        b.client,
        f"{base}/tasks",
        {"title": "B task", "milestoneId": milestone, "cycleId": cycle, "estimate": "7200s"},
        "task",
    )
    blocked = await created(
        b.client, f"{base}/tasks", {"title": "B planning blocked task 7c1"}, "task"
    )
    relation = await created(
        b.client,
        f"{base}/tasks/{task}/relations",
        {"relatedTaskId": blocked, "kind": "RELATION_KIND_BLOCKS"},
        "relation",
    )
    worklog = await created(
        b.client,
        f"{base}/tasks/{task}/worklogs",
        {"duration": "3600s", "description": "B planning worklog 7c1"},
        "worklog",
    )
    view = await created(
        b.client,
        f"{base}/views",
        {"name": "B planning view 7c1", "query": {"label": "b-only"}},
        "view",
    )
    return {
        "view": view,
        "project": project,
        "task": task,
        "milestone": milestone,
        "cycle": cycle,
        "relation": relation,
        "worklog": worklog,
        # Generating a plan needs an AI model, which the isolation run has none of: the plan
        # routes are called on B's project with an id B could have had (tests/planning/
        # test_plans.py shows another organization's real plan is not found).
        "plan": f"{project}plan",
    }


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    project = (await b.client.get(f"/api/v1/planning/projects/{ids['project']}")).json()
    assert project["project"]["name"] == "B secret"
    base = f"/api/v1/planning/projects/{ids['project']}"
    tasks = (await b.client.get(f"{base}/tasks")).json()
    assert sorted(t["title"] for t in tasks["tasks"]) == ["B planning blocked task 7c1", "B task"]
    milestone = (await b.client.get(f"{base}/milestones/{ids['milestone']}")).json()
    assert milestone["milestone"]["name"] == "B planning milestone 7c1"
    cycle = (await b.client.get(f"{base}/cycles/{ids['cycle']}")).json()
    assert cycle["cycle"]["name"] == "B planning cycle 7c1"
    relations = (await b.client.get(f"{base}/tasks/{ids['task']}/relations")).json()
    assert [r["id"] for r in relations["relations"]] == [ids["relation"]]
    view = (await b.client.get(f"{base}/views/{ids['view']}")).json()
    assert view["view"]["name"] == "B planning view 7c1"
    worklogs = (await b.client.get(f"{base}/worklogs")).json()
    assert [w["description"] for w in worklogs["worklogs"]] == ["B planning worklog 7c1"]
