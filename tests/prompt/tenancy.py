"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of the prompt service: organization B's prompt with two versions, a label and an experiment, a
valid body for each route that takes one, and which of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

LABEL = "bsecretlabel"

BODIES: dict[str, dict[str, Any]] = {
    "PromptService_UpdatePrompt": {"description": "taken over"},
    "PromptService_CreatePromptVersion": {"template": "planted"},
    "PromptService_MoveLabel": {"version": 1},
    "PromptService_OverrideSharedPrompt": {},
    "PromptService_CreateExperiment": {
        "name": "planted",
        "label": "staging",
        "variants": [
            {"name": "a", "version": 1, "weight": 1},
            {"name": "b", "version": 2, "weight": 1},
        ],
    },
    "PromptService_StartExperiment": {},
    "PromptService_StopExperiment": {},
    "PromptService_RecordOutcome": {"bucketingKey": "planted", "success": True},
}

ID_OF_PARAMETER = {
    "prompt_id": "prompt",
    "version_id": "prompt_version",
    "label": "prompt_label",
    "experiment_id": "prompt_experiment",
}

SECRETS = ("B secret template", "b-secret/prompt", "B secret experiment")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    answer = await b.client.post(
        "/api/v1/prompt/prompts",
        json={
            "prompt": {"name": "b-secret/prompt", "type": "PROMPT_TYPE_TEXT"},
            "version": {"template": "B secret template"},
        },
    )
    assert answer.status_code == 201, answer.text
    prompt = answer.json()["prompt"]["id"]
    second = await created(
        b.client,
        f"/api/v1/prompt/prompts/{prompt}/versions",
        {"template": "B secret template 2"},
        "version",
    )
    moved = await b.client.post(
        f"/api/v1/prompt/prompts/{prompt}/labels/{LABEL}:move", json={"version": 1}
    )
    assert moved.status_code == 200, moved.text
    experiment = await created(
        b.client,
        f"/api/v1/prompt/prompts/{prompt}/experiments",
        {
            "name": "B secret experiment",
            "label": LABEL,
            "variants": [
                {"name": "a", "version": 1, "weight": 1},
                {"name": "b", "version": 2, "weight": 1},
            ],
        },
        "experiment",
    )
    return {
        "prompt": prompt,
        "prompt_version": second,
        "prompt_label": LABEL,
        "prompt_experiment": experiment,
    }


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    prompt = (await b.client.get(f"/api/v1/prompt/prompts/{ids['prompt']}")).json()["prompt"]
    assert prompt["description"] == ""
    assert {label["name"]: label["version"] for label in prompt["labels"]} == {
        "latest": 2,
        LABEL: 1,
    }
    versions = (await b.client.get(f"/api/v1/prompt/prompts/{ids['prompt']}/versions")).json()
    assert [v["template"] for v in versions["versions"]] == [
        "B secret template 2",
        "B secret template",
    ]
    path = f"/api/v1/prompt/prompts/{ids['prompt']}/experiments/{ids['prompt_experiment']}"
    experiment = (await b.client.get(path)).json()["experiment"]
    assert (experiment["name"], experiment["state"]) == (
        "B secret experiment",
        "EXPERIMENT_STATE_DRAFT",
    )
