"""Updates without an etag never fail for a precondition the client did not set: concurrent
PATCHes of different fields of one task, none sending an etag or a mask, all succeed through
the edge, and every field survives (each service retries its read-modify-write on a lost race).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.integration.tenancy import register

PROJECTS = "/api/v1/planning/projects"


async def test_ten_concurrent_etagless_patches_of_different_fields_all_survive(
    edge_url: str,
) -> None:
    async with httpx.AsyncClient(base_url=edge_url, timeout=30) as anonymous:
        owner = await register(anonymous, "racer")
    headers = {"authorization": f"Bearer {owner['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=30, headers=headers) as client:
        project = (await client.post(PROJECTS, json={"name": "Race"})).json()["project"]
        tasks = f"{PROJECTS}/{project['id']}/tasks"
        parent = (await client.post(tasks, json={"title": "parent"})).json()["task"]
        before = (await client.post(tasks, json={"title": "before"})).json()["task"]
        task = (await client.post(tasks, json={"title": "raced"})).json()["task"]
        edits: list[dict[str, Any]] = [
            {"title": "renamed"},
            {"description": "described"},
            {"labels": ["a", "b"]},
            {"priority": "TASK_PRIORITY_URGENT"},
            {"assigneeId": "someone"},
            {"dueTime": "2030-01-02T03:04:05Z"},
            {"estimate": "3600s"},
            {"status": "TASK_STATUS_IN_PROGRESS"},
            {"parentTaskId": parent["id"]},
            {"dependsOnTaskIds": [before["id"]]},
        ]
        answers = await asyncio.gather(
            *(client.patch(f"{tasks}/{task['id']}", json=edit) for edit in edits)
        )
        assert [a.status_code for a in answers] == [200] * len(edits), [a.text for a in answers]
        final = (await client.get(f"{tasks}/{task['id']}")).json()["task"]
    for edit in edits:
        for field, value in edit.items():
            assert final[field] == value, (field, final[field])
