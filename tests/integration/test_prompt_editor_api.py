"""The prompt editor's calls over REST on the edge, as the web UI will make them: create a
prompt, add a version, diff the two, preview unsaved content, move `production` (an owner may,
it is protected), render it by name the way the AI Service does, and read an experiment's
results. 201 + Location on creates; errors in the API's body."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.tenancy import register


async def owner(edge_url: str) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as anonymous:
        registered = await register(anonymous, "editor")
    headers = {"authorization": f"Bearer {registered['accessToken']}"}
    return httpx.AsyncClient(base_url=edge_url, timeout=15, headers=headers)


async def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


class TestPromptEditor:
    async def test_edit_diff_release_and_render(self, edge_url: str) -> None:
        async with await owner(edge_url) as client:
            answer = await client.post(
                "/api/v1/prompt/prompts",
                json={
                    "prompt": {"name": "support/reply", "type": "PROMPT_TYPE_CHAT"},
                    "version": {
                        "messages": [
                            {"role": "MESSAGE_ROLE_SYSTEM", "content": "Be kind."},
                            {"role": "MESSAGE_ROLE_USER", "content": "{{ question }}"},
                        ],
                        "variables": [
                            {"name": "question", "type": "VARIABLE_TYPE_STRING", "required": True}
                        ],
                        "modelConfig": {"model": "gpt-4o-mini", "temperature": 0.3},
                    },
                },
            )
            created = await ok(answer, 201)
            prompt_id = created["prompt"]["id"]
            assert answer.headers["location"].endswith(f"/api/v1/prompt/prompts/{prompt_id}")
            assert created["prompt"]["folder"] == "support"

            version = await ok(
                await client.post(
                    f"/api/v1/prompt/prompts/{prompt_id}/versions",
                    json={
                        "messages": [
                            {"role": "MESSAGE_ROLE_SYSTEM", "content": "Be kind and brief."},
                            {"role": "MESSAGE_ROLE_USER", "content": "{{ question }}"},
                        ],
                        "variables": [
                            {"name": "question", "type": "VARIABLE_TYPE_STRING", "required": True}
                        ],
                        "modelConfig": {"model": "gpt-4o-mini", "temperature": 0.1},
                        "commitMessage": "shorter answers",
                    },
                ),
                201,
            )
            assert version["version"]["version"] == 2

            diff = await ok(
                await client.get(
                    f"/api/v1/prompt/prompts/{prompt_id}/versions:diff",
                    params={"fromVersion": 1, "toVersion": 2},
                )
            )
            assert "-Be kind.\n+Be kind and brief.\n" in diff["contentDiff"]
            assert {
                "path": "model_config.temperature",
                "kind": "CHANGE_KIND_CHANGED",
                "before": 0.3,
                "after": 0.1,
            } in diff["changes"]
            assert diff["from"]["version"] == 1 and diff["to"]["version"] == 2

            preview = await ok(
                await client.post(
                    "/api/v1/prompt/prompts:preview",
                    json={
                        "type": "PROMPT_TYPE_TEXT",
                        "version": {
                            "template": "Dear {{ name }},",
                            "variables": [{"name": "name", "type": "VARIABLE_TYPE_STRING"}],
                        },
                        "variables": {"name": "Ada"},
                    },
                )
            )
            assert preview["text"] == "Dear Ada,"

            moved = await ok(
                await client.post(
                    f"/api/v1/prompt/prompts/{prompt_id}/labels/production:move",
                    json={"version": 2},
                )
            )
            production = next(
                label for label in moved["prompt"]["labels"] if label["name"] == "production"
            )
            assert production["protected"] and production["version"] == 2

            rendered = await ok(
                await client.post(
                    "/api/v1/prompt/prompts:render",
                    json={"name": "support/reply", "variables": {"question": "Where is it?"}},
                )
            )
            assert rendered["messages"] == [
                {"role": "MESSAGE_ROLE_SYSTEM", "content": "Be kind and brief."},
                {"role": "MESSAGE_ROLE_USER", "content": "Where is it?"},
            ]
            assert rendered["modelConfig"]["model"] == "gpt-4o-mini"

            missing = await client.post(
                "/api/v1/prompt/prompts:render", json={"name": "support/reply"}
            )
            assert missing.status_code == 400, missing.text
            body = missing.json()
            assert body["code"] == 400
            assert "variables.question" in missing.text

            experiment = await ok(
                await client.post(
                    f"/api/v1/prompt/prompts/{prompt_id}/experiments",
                    json={
                        "name": "brevity",
                        "label": "production",
                        "variants": [
                            {"name": "long", "version": 1, "weight": 1},
                            {"name": "short", "version": 2, "weight": 1},
                        ],
                    },
                ),
                201,
            )
            experiment_id = experiment["experiment"]["id"]
            base = f"/api/v1/prompt/prompts/{prompt_id}/experiments/{experiment_id}"
            await ok(await client.post(f"{base}:start", json={}))
            for key in ("u1", "u2", "u3", "u4"):
                await ok(
                    await client.post(
                        f"{base}/outcomes", json={"bucketingKey": key, "success": True}
                    )
                )
            results = await ok(await client.get(f"{base}/results"))
            assert sum(int(r["outcomes"]) for r in results["results"]) == 4
            assert all(
                0 <= r["intervalLower"] <= r["intervalUpper"] <= 1 for r in results["results"]
            )
