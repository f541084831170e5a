"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of the workflow service: organization B's definition (a human gate, a webhook trigger) and a
run of it waiting at the gate; a valid body for each route that takes one, and which of B's
ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.fixtures.waiting import eventually
from tests.integration.tenancy import Tenant, created

TRIGGER = "b_secret_hook"

BODIES: dict[str, dict[str, Any]] = {
    "WorkflowService_UpdateDefinition": {"name": "taken over"},
    "WorkflowService_PauseSchedule": {"paused": True},
    "WorkflowService_BackfillSchedule": {
        "startTime": "2026-01-01T00:00:00Z",
        "endTime": "2026-01-02T00:00:00Z",
    },
    "WorkflowService_DeliverWebhook": "e30=",  # type: ignore[dict-item]  # the body is bytes
    "WorkflowService_StartRun": {"input": {"planted": True}},
    "WorkflowService_SignalRun": {"gate": {"step": "approve", "approve": True}},
    "WorkflowService_CancelRun": {},
    "WorkflowService_TerminateRun": {"reason": "taken over"},
}

ID_OF_PARAMETER = {
    "definition_id": "workflow_definition",
    "definition.id": "workflow_definition",
    "run_id": "workflow_run",
    "trigger": "workflow_trigger",
    "organization_id": "workflow_organization",
}

SECRETS = ("B secret workflow", "B secret input")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    definition = await created(
        b.client,
        "/api/v1/workflow/definitions",
        {
            "name": "B secret workflow",
            "steps": [{"name": "approve", "gate": {"prompt": "B secret prompt"}}],
            "triggers": [{"name": TRIGGER, "webhook": {}}],
        },
        "definition",
    )
    started = await b.client.post(
        f"/api/v1/workflow/definitions/{definition}/runs",
        json={"input": {"note": "B secret input"}},
    )
    assert started.status_code == 200, started.text
    run: str = started.json()["run"]["id"]
    await _run_waits(b, run)
    return {
        "workflow_definition": definition,
        "workflow_run": run,
        "workflow_trigger": TRIGGER,
        "workflow_organization": b.organization_id,
    }


async def _run_waits(b: Tenant, run: str) -> None:
    async def waiting() -> bool:
        answer = await b.client.get(f"/api/v1/workflow/runs/{run}")
        return bool(answer.json()["run"]["status"] == "RUN_STATUS_WAITING")

    await eventually(waiting, within=30, interval=0.1)


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    answer = await b.client.get(f"/api/v1/workflow/definitions/{ids['workflow_definition']}")
    definition = answer.json()["definition"]
    assert (definition["name"], definition["revision"]) == ("B secret workflow", 1)
    await _run_waits(b, ids["workflow_run"])
    run = (await b.client.get(f"/api/v1/workflow/runs/{ids['workflow_run']}")).json()["run"]
    assert run["waitingOn"] == ["approve"]
    assert run["input"] == {"note": "B secret input"}
