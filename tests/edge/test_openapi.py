"""The OpenAPI 3.1 document: valid, served, written by `make gen`, and carrying what the protos
say (descriptions, required, readOnly, validation constraints, well-known JSON forms,
security)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from edge import EdgeSettings, create_app
from edge.descriptors import load_descriptor_set
from edge.openapi import DURATION_PATTERN, ERROR_SCHEMA, build_document, dumps
from edge.transcoding import RouteTable

ROOT = Path(__file__).resolve().parents[2]
TASKS = "/api/v1/planning/projects/{project_id}/tasks"
TASK = "/api/v1/planning/projects/{project_id}/tasks/{task_id}"


@pytest.fixture(scope="module")
def document(descriptor_set: Path) -> dict[str, Any]:
    files = load_descriptor_set(descriptor_set)
    return build_document(files, RouteTable(files))


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in operation["parameters"] if p["name"] == name)


class TestDocument:
    def test_it_is_valid_openapi_3_1(self, document: dict[str, Any]) -> None:
        assert document["openapi"] == "3.1.0"
        validate(document)

    def test_make_gen_wrote_the_document_the_edge_serves(self, descriptor_set: Path) -> None:
        served = create_app(EdgeSettings(descriptor_set=descriptor_set, server_url=""))
        written = ROOT / "gen" / "openapi" / "openapi.json"
        expected = dumps(served.state.openapi_document)
        assert written.read_text() == expected, "gen/ is stale: run make gen"

    def test_it_is_deterministic(self, descriptor_set: Path) -> None:
        files = load_descriptor_set(descriptor_set)
        first = dumps(build_document(files, RouteTable(files)))
        assert dumps(build_document(files, RouteTable(files))) == first

    async def test_it_is_served_with_interactive_docs(self, client: httpx.AsyncClient) -> None:
        served = await client.get("/openapi.json")
        assert served.status_code == 200
        assert served.json()["paths"][TASKS]["post"]["operationId"] == "PlanningService_CreateTask"
        docs = await client.get("/docs")
        assert docs.status_code == 200
        assert "swagger-ui" in docs.text
        init = await client.get("/docs/init.js")
        assert init.status_code == 200
        assert 'url: "/openapi.json"' in init.text


class TestOperations:
    def test_one_operation_per_http_rule_named_service_method(
        self, document: dict[str, Any]
    ) -> None:
        ids = {
            operation["operationId"]
            for item in document["paths"].values()
            for operation in item.values()
        }
        assert {
            "PlanningService_CreateTask",
            "PlanningService_GetTask",
            "PlanningService_ListTasks",
            "PlanningService_UpdateTask",
            "PlanningService_DeleteTask",
            "OpsService_Echo",
            "OpsService_Ticks",
        } <= ids

    def test_comments_become_descriptions(self, document: dict[str, Any]) -> None:
        create = document["paths"][TASKS]["post"]
        assert create["description"] == "CreateTask creates a task in a project."
        tags = {tag["name"]: tag.get("description") for tag in document["tags"]}
        assert (
            tags["PlanningService"]
            == "PlanningService keeps an organization's projects and their tasks."
        )
        task = schema(document, "coder.planning.v1.Task")
        assert task["description"] == "Task is one unit of work in a project."
        assert task["properties"]["title"]["description"] == "Short summary, 1 to 500 characters."
        status = schema(document, "coder.planning.v1.TaskStatus")
        assert "- `TASK_STATUS_DONE`: Finished." in status["description"]

    def test_path_query_and_body_parameters(self, document: dict[str, Any]) -> None:
        listing = document["paths"][TASKS]["get"]
        project = parameter(listing, "project_id")
        assert project["in"] == "path"
        assert project["required"] is True
        assert project["schema"]["pattern"] == "^[0-9A-Za-z_-]+$"
        statuses = parameter(listing, "statuses")
        assert statuses["in"] == "query"
        assert statuses["schema"]["type"] == "array"
        assert statuses["schema"]["maxItems"] == 5
        assert "TASK_STATUS_UNSPECIFIED" not in statuses["schema"]["items"]["enum"]
        assert "TASK_STATUS_DONE" in statuses["schema"]["items"]["enum"]
        assert parameter(listing, "dueBefore")["schema"]["format"] == "date-time"
        create = document["paths"][TASKS]["post"]
        assert create["requestBody"]["required"] is True
        body = create["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/coder.planning.v1.Task"}
        patch = document["paths"][TASK]["patch"]
        assert parameter(patch, "updateMask")["schema"]["type"] == "string"

    def test_responses_created_and_errors(self, document: dict[str, Any]) -> None:
        create = document["paths"][TASKS]["post"]["responses"]
        assert "Location" in create["201"]["headers"]
        assert create["4XX"] == {"$ref": "#/components/responses/Error"}
        assert "200" in document["paths"][TASK]["get"]["responses"]
        error = schema(document, ERROR_SCHEMA)
        assert error["required"] == ["code", "message", "details", "requestId"]
        ticks = document["paths"]["/api/v1/ops/ticks"]["get"]["responses"]["200"]["content"]
        assert {"text/event-stream", "application/x-ndjson"} <= set(ticks)

    def test_security_is_bearer_except_on_public_rpcs(self, document: dict[str, Any]) -> None:
        scheme = document["components"]["securitySchemes"]["bearerAuth"]
        assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        assert document["paths"][TASKS]["post"]["security"] == [{"bearerAuth": []}]
        assert "security" not in document["paths"]["/api/v1/ops/echo"]["get"]


class TestSchemas:
    def test_field_behavior_required_and_output_only(self, document: dict[str, Any]) -> None:
        task = schema(document, "coder.planning.v1.Task")
        assert task["required"] == ["title"]
        for name in ("id", "projectId", "organizationId", "createdBy", "createTime"):
            assert task["properties"][name]["readOnly"] is True, name
        assert "readOnly" not in task["properties"]["title"]
        request = schema(document, "coder.planning.v1.CreateTaskRequest")
        assert request["required"] == ["projectId", "task"]

    def test_validation_rules_become_constraints(self, document: dict[str, Any]) -> None:
        task = schema(document, "coder.planning.v1.Task")["properties"]
        assert (task["title"]["minLength"], task["title"]["maxLength"]) == (1, 500)
        labels = task["labels"]
        assert labels["maxItems"] == 50
        assert labels["uniqueItems"] is True
        assert (labels["items"]["minLength"], labels["items"]["maxLength"]) == (1, 64)
        listing = schema(document, "coder.planning.v1.ListTasksRequest")["properties"]
        assert (listing["pageSize"]["minimum"], listing["pageSize"]["maximum"]) == (0, 1000)
        ticks = schema(document, "coder.ops.v1.TicksRequest")["properties"]
        assert (ticks["intervalMs"]["minimum"], ticks["intervalMs"]["maximum"]) == (10, 60000)
        assert ticks["cursor"]["pattern"] == "^[0-9]*$"

    def test_well_known_types_take_their_json_forms(self, document: dict[str, Any]) -> None:
        task = schema(document, "coder.planning.v1.Task")["properties"]
        assert task["dueTime"]["type"] == "string"
        assert task["dueTime"]["format"] == "date-time"
        assert task["estimate"]["pattern"] == DURATION_PATTERN
        update = schema(document, "coder.planning.v1.UpdateTaskRequest")["properties"]
        assert update["updateMask"]["type"] == "string"
        tick = schema(document, "coder.ops.v1.TicksResponse")["properties"]
        assert tick["sequence"]["type"] == "string"  # int64
        assert tick["sequence"]["format"] == "int64"
