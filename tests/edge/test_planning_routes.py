"""Every Planning route through the edge: status codes, Location, the JSON profile, query
parameters (repeated enums, timestamps, bools), body mapping and update masks."""

from __future__ import annotations

from typing import Any

import httpx

PROJECTS = "/api/v1/planning/projects"


async def create_project(
    client: httpx.AsyncClient, bearer: dict[str, str], name: str = "Launch"
) -> dict[str, Any]:
    response = await client.post(PROJECTS, json={"name": name}, headers=bearer)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()["project"]
    return project


async def create_task(
    client: httpx.AsyncClient, bearer: dict[str, str], project_id: str, **fields: Any
) -> dict[str, Any]:
    fields.setdefault("title", "Write the plan")
    response = await client.post(f"{PROJECTS}/{project_id}/tasks", json=fields, headers=bearer)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()["task"]
    return task


class TestProjects:
    async def test_create_answers_201_with_the_location_of_the_project(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.post(
            PROJECTS, json={"name": "Launch", "description": "Q3"}, headers=bearer
        )
        assert response.status_code == 201
        project = response.json()["project"]
        assert response.headers["location"] == f"{PROJECTS}/{project['id']}"
        assert project["name"] == "Launch"
        assert project["etag"]

        fetched = await client.get(response.headers["location"], headers=bearer)
        assert fetched.status_code == 200
        assert fetched.json() == {"project": project}

    async def test_json_profile_prints_camel_case_and_fields_without_presence(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.post(PROJECTS, json={"name": "Quiet"}, headers=bearer)
        project = response.json()["project"]
        assert project["description"] == ""  # printed although empty
        assert {"organizationId", "createdBy", "createTime", "updateTime"} <= set(project)
        assert project["createTime"].endswith("Z")

    async def test_list_pages_with_query_parameters(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        for name in ("one", "two", "three"):
            await create_project(client, bearer, name)
        first = await client.get(PROJECTS, params={"pageSize": 2}, headers=bearer)
        assert first.status_code == 200
        assert [p["name"] for p in first.json()["projects"]] == ["three", "two"]
        token = first.json()["nextPageToken"]
        rest = await client.get(
            PROJECTS, params={"page_size": 2, "pageToken": token}, headers=bearer
        )
        assert [p["name"] for p in rest.json()["projects"]] == ["one"]
        assert rest.json()["nextPageToken"] == ""

    async def test_patch_changes_the_masked_fields(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        response = await client.patch(
            f"{PROJECTS}/{project['id']}",
            params={"updateMask": "name"},
            json={"name": "Renamed", "description": "ignored: not in the mask"},
            headers=bearer,
        )
        assert response.status_code == 200, response.text
        updated = response.json()["project"]
        assert updated["name"] == "Renamed"
        assert updated["description"] == ""
        assert updated["etag"] != project["etag"]

    async def test_delete_answers_200_with_the_empty_message(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        response = await client.delete(f"{PROJECTS}/{project['id']}", headers=bearer)
        assert response.status_code == 200
        assert response.json() == {}
        gone = await client.get(f"{PROJECTS}/{project['id']}", headers=bearer)
        assert gone.status_code == 404

    async def test_delete_takes_bool_and_string_query_parameters(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        await create_task(client, bearer, project["id"])
        refused = await client.delete(f"{PROJECTS}/{project['id']}", headers=bearer)
        assert refused.status_code == 400
        forced = await client.delete(
            f"{PROJECTS}/{project['id']}",
            params={"force": "true", "etag": project["etag"]},
            headers=bearer,
        )
        assert forced.status_code == 200, forced.text


class TestTasks:
    async def test_create_maps_the_task_body_and_the_path_project(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        url = f"{PROJECTS}/{project['id']}/tasks"
        response = await client.post(
            url,
            json={
                "title": "Ship",
                "priority": "TASK_PRIORITY_HIGH",
                "labels": ["a", "b"],
                "dueTime": "2030-01-02T03:04:05Z",
                "estimate": "5400s",
            },
            headers=bearer,
        )
        assert response.status_code == 201, response.text
        task = response.json()["task"]
        assert response.headers["location"] == f"{url}/{task['id']}"
        assert task["projectId"] == project["id"]
        assert task["status"] == "TASK_STATUS_TO_DO"
        assert task["priority"] == "TASK_PRIORITY_HIGH"
        assert task["dueTime"] == "2030-01-02T03:04:05Z"
        assert task["estimate"] == "5400s"
        fetched = await client.get(response.headers["location"], headers=bearer)
        assert fetched.json() == {"task": task}

    async def test_list_filters_by_repeated_enum_and_timestamp(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        url = f"{PROJECTS}/{project['id']}/tasks"
        todo = await create_task(client, bearer, project["id"], title="todo")
        started = await create_task(client, bearer, project["id"], title="started")
        done = await create_task(
            client, bearer, project["id"], title="done", dueTime="2030-06-01T00:00:00Z"
        )
        for task, status in ((started, "TASK_STATUS_IN_PROGRESS"), (done, "TASK_STATUS_DONE")):
            moved = await client.patch(
                f"{url}/{task['id']}",
                params={"updateMask": "status"},
                json={"status": "TASK_STATUS_IN_PROGRESS"},
                headers=bearer,
            )
            assert moved.status_code == 200, moved.text
            if status == "TASK_STATUS_DONE":
                moved = await client.patch(
                    f"{url}/{task['id']}",
                    params={"updateMask": "status"},
                    json={"status": status},
                    headers=bearer,
                )
                assert moved.status_code == 200, moved.text

        response = await client.get(
            f"{url}?statuses=TASK_STATUS_TO_DO&statuses=TASK_STATUS_DONE&orderBy="
            "TASK_ORDER_BY_CREATE_TIME&direction=SORT_DIRECTION_ASCENDING",
            headers=bearer,
        )
        assert response.status_code == 200, response.text
        assert [t["title"] for t in response.json()["tasks"]] == [todo["title"], "done"]

        due = await client.get(url, params={"dueAfter": "2030-01-01T00:00:00Z"}, headers=bearer)
        assert [t["title"] for t in due.json()["tasks"]] == ["done"]

    async def test_patch_with_an_update_mask_of_two_fields(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"], description="keep")
        response = await client.patch(
            f"{PROJECTS}/{project['id']}/tasks/{task['id']}",
            params={"updateMask": "title,status"},
            json={"title": "Renamed", "status": "TASK_STATUS_IN_PROGRESS", "description": "x"},
            headers=bearer,
        )
        assert response.status_code == 200, response.text
        updated = response.json()["task"]
        assert updated["title"] == "Renamed"
        assert updated["status"] == "TASK_STATUS_IN_PROGRESS"
        assert updated["description"] == "keep"

    async def test_patch_without_a_mask_changes_only_the_fields_sent(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"], description="keep", labels=["keep"])
        url = f"{PROJECTS}/{project['id']}/tasks/{task['id']}"
        renamed = await client.patch(url, json={"title": "Renamed"}, headers=bearer)
        assert renamed.status_code == 200, renamed.text
        kept = renamed.json()["task"]
        assert (kept["title"], kept["description"], kept["labels"]) == ("Renamed", "keep", ["keep"])

        cleared = await client.patch(url, json={"description": "", "labels": []}, headers=bearer)
        assert cleared.status_code == 200, cleared.text
        emptied = cleared.json()["task"]
        assert (emptied["title"], emptied["description"], emptied["labels"]) == ("Renamed", "", [])

    async def test_an_empty_update_mask_is_no_mask_at_all(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"], description="old")
        response = await client.patch(
            f"{PROJECTS}/{project['id']}/tasks/{task['id']}",
            params={"updateMask": ""},
            json={"description": ""},
            headers=bearer,
        )
        assert response.status_code == 200, response.text
        updated = response.json()["task"]
        assert (updated["title"], updated["description"]) == (task["title"], "")

    async def test_an_update_cannot_clear_an_enum(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"])
        response = await client.patch(
            f"{PROJECTS}/{project['id']}/tasks/{task['id']}",
            json={"status": "TASK_STATUS_UNSPECIFIED"},
            headers=bearer,
        )
        assert response.status_code == 400, response.text
        details = response.json()["details"]
        assert {d.get("reason") for d in details} >= {"FIELD_UNSET"}

    async def test_null_is_refused_where_the_field_has_no_null(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        for body in ({"title": "t", "description": None}, {"title": "t", "labels": ["a", None]}):
            response = await client.post(
                f"{PROJECTS}/{project['id']}/tasks", json=body, headers=bearer
            )
            assert response.status_code == 400, response.text
            assert {d.get("reason") for d in response.json()["details"]} >= {"INVALID_JSON_VALUE"}
        whole_null = await client.post(
            f"{PROJECTS}/{project['id']}/tasks",
            content=b"null",
            headers={**bearer, "content-type": "application/json"},
        )
        assert whole_null.status_code == 400, whole_null.text

    async def test_patch_with_the_whole_resource_read_back_ignores_what_is_output_only(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"])
        url = f"{PROJECTS}/{project['id']}/tasks/{task['id']}"
        echoed = {**task, "title": "Edited"}
        response = await client.patch(url, json=echoed, headers=bearer)
        assert response.status_code == 200, response.text
        assert response.json()["task"]["title"] == "Edited"
        stale = await client.patch(url, json=echoed, headers=bearer)
        assert stale.status_code == 412, stale.text  # its etag is the read one, now stale

    async def test_delete_answers_200_with_the_empty_message(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"])
        url = f"{PROJECTS}/{project['id']}/tasks/{task['id']}"
        response = await client.delete(url, params={"etag": task["etag"]}, headers=bearer)
        assert response.status_code == 200
        assert response.json() == {}
        assert (await client.get(url, headers=bearer)).status_code == 404


class TestRequestContext:
    async def test_the_request_id_is_passed_on_and_echoed(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.get(PROJECTS, headers={**bearer, "x-request-id": "req-123"})
        assert response.headers["x-request-id"] == "req-123"
        fresh = await client.get(PROJECTS, headers=bearer)
        assert len(fresh.headers["x-request-id"]) >= 20

    async def test_a_public_rpc_needs_no_token(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/ops/echo", params={"message": "héllo"})
        assert response.status_code == 200
        assert response.json() == {"message": "héllo"}
