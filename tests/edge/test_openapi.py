"""The OpenAPI 3.1 document: valid, served, written by `make gen`, and carrying what the protos
say (descriptions, required, readOnly, validation constraints, well-known JSON forms,
security) and what the edge does (unknown fields and null refused, enum numbers taken, update
bodies, refusals per operation, links from creates)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import protovalidate
import pytest
from buf.validate import validate_pb2
from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from coder.ai.v1 import resources_pb2 as ai_resources_pb2
from coder.planning.v1 import planning_service_pb2
from edge import EdgeSettings, create_app
from edge.descriptors import load_descriptor_set
from edge.openapi import (
    DURATION_PATTERN,
    ERROR_SCHEMA,
    TIMESTAMP_PATTERN,
    URI_PATTERN,
    _digits_range,
    _duration_constraints,
    build_document,
    default_refused,
    dumps,
    duration_pattern,
)
from edge.transcoding import RouteTable

ROOT = Path(__file__).resolve().parents[2]
TASKS = "/api/v1/planning/projects/{project_id}/tasks"
TASK = "/api/v1/planning/projects/{project_id}/tasks/{task_id}"
ACCOUNT = "/api/v1/identity/organizations/{organization_id}/serviceAccounts/{service_account_id}"


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
        names, numbers = statuses["schema"]["items"]["anyOf"]
        assert "TASK_STATUS_UNSPECIFIED" not in names["enum"]
        assert "TASK_STATUS_DONE" in names["enum"]
        assert 0 not in numbers["enum"]
        assert parameter(listing, "dueBefore")["schema"]["format"] == "date-time"
        create = document["paths"][TASKS]["post"]
        assert create["requestBody"]["required"] is True
        body = create["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/coder.planning.v1.Task"}

    def test_an_update_takes_the_fields_it_changes(self, document: dict[str, Any]) -> None:
        patch = document["paths"][TASK]["patch"]
        # The path sets the task's ids, so even no body is a (no-op) update.
        assert patch["requestBody"]["required"] is False
        body = patch["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/coder.planning.v1.Task-Patch"}
        task = schema(document, "coder.planning.v1.Task-Patch")
        assert "required" not in task
        assert task["additionalProperties"] is False
        names, numbers = task["properties"]["status"]["anyOf"]
        assert "TASK_STATUS_UNSPECIFIED" not in names["enum"]  # an enum is never cleared
        assert 0 not in numbers["enum"]
        mask = parameter(patch, "updateMask")
        pattern = re.compile(mask["schema"]["pattern"])
        assert pattern.match("title,dueTime") and pattern.match("")
        for refused in ("id", "etag", "due_time", "title,", "createTime"):
            assert not pattern.match(refused), refused
        organization = schema(document, "coder.identity.v1.Organization-Patch")
        assert "slug" not in organization["properties"]  # immutable
        assert "slug" in schema(document, "coder.identity.v1.Organization")["properties"]

    def test_a_whole_body_does_not_need_what_the_path_sets(self, document: dict[str, Any]) -> None:
        disable = document["paths"][f"{ACCOUNT}:disable"]["post"]["requestBody"]
        assert disable["required"] is False
        ref = disable["content"]["application/json"]["schema"]["$ref"]
        body = schema(document, ref.rsplit("/", 1)[1])
        assert ref.endswith("DisableServiceAccountRequest-Body")
        assert "required" not in body
        # Parsed as a string, then replaced by the path: no other rule reaches it.
        assert body["properties"]["organizationId"]["type"] == "string"
        assert "pattern" not in body["properties"]["organizationId"]
        whole = schema(document, "coder.identity.v1.DisableServiceAccountRequest")
        assert whole["required"] == ["organizationId", "serviceAccountId"]
        revoke = document["paths"]["/api/v1/identity/sessions:revokeOthers"]["post"]
        assert revoke["requestBody"]["required"] is False

    def test_responses_created_and_errors(self, document: dict[str, Any]) -> None:
        create = document["paths"][TASKS]["post"]["responses"]
        location = create["201"]["headers"]["Location"]
        assert location["required"] is True
        assert {"X-Request-Id", "RateLimit", "RateLimit-Policy"} <= set(create["201"]["headers"])
        assert create["409"] == {"$ref": "#/components/responses/Conflict"}
        assert create["5XX"] == {"$ref": "#/components/responses/Error"}
        assert "4XX" not in create
        assert "200" in document["paths"][TASK]["get"]["responses"]
        error = schema(document, ERROR_SCHEMA)
        assert error["required"] == ["code", "message", "details", "requestId"]
        for name, response in document["components"]["responses"].items():
            content = response["content"]["application/json"]["schema"]
            assert content == {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}, name
        ticks = document["paths"]["/api/v1/ops/ticks"]["get"]["responses"]["200"]["content"]
        assert {"text/event-stream", "application/x-ndjson"} <= set(ticks)

    def test_refusals_are_derived_from_what_can_answer_them(self, document: dict[str, Any]) -> None:
        def codes(path: str, method: str) -> set[str]:
            responses = document["paths"][path][method]["responses"]
            return {code for code in responses if code.startswith("4")}

        front_door = {"400", "408", "413", "414", "431"}
        # Every /api call: the front door, the rate limits, a bad token.
        everywhere = front_door | {"401", "429"}
        assert codes("/api/v1/ops/echo", "get") == everywhere  # public, nothing named
        assert codes("/api/v1/planning/projects", "get") == everywhere | {"403"}
        assert codes(TASK, "get") == everywhere | {"403", "404"}
        assert codes(TASKS, "post") == everywhere | {"403", "404", "409"}
        # An update and a delete carry an etag: a stale one is 412.
        assert codes(TASK, "patch") == everywhere | {"403", "404", "409", "412"}
        assert codes(TASK, "delete") == everywhere | {"403", "404", "409", "412"}
        assert "412" not in codes(TASKS, "post")  # a create's etag is not a precondition
        # A PATCH of a singleton (no mask field) still compares the etag its body carries.
        assert "412" in codes("/api/v1/prompt/labelPolicy", "patch")
        # A request that names a resource in its body may name nothing.
        assert "404" in codes("/api/v1/prompt/prompts:render", "post")

    def test_an_unset_oneof_member_is_never_required(self, document: dict[str, Any]) -> None:
        # RenderPromptRequest: `label` (pattern) and `version` (gt 0) form the oneof `selector`;
        # protovalidate checks neither unless set, so neither is required (only one may be sent).
        body = document["paths"]["/api/v1/prompt/prompts:render"]["post"]["requestBody"]
        target = body["content"]["application/json"]["schema"]
        if "$ref" in target:
            target = schema(document, target["$ref"].rsplit("/", 1)[-1])
        assert target["required"] == ["name"]

    def test_security_is_bearer_except_on_public_rpcs(self, document: dict[str, Any]) -> None:
        scheme = document["components"]["securitySchemes"]["bearerAuth"]
        assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        assert document["paths"][TASKS]["post"]["security"] == [{"bearerAuth": []}]
        # Public: no token needed, but one that is sent is verified (and may be refused).
        assert document["paths"]["/api/v1/ops/echo"]["get"]["security"] == [
            {},
            {"bearerAuth": []},
        ]


class TestLinks:
    def test_a_create_links_to_what_acts_on_the_created_resource(
        self, document: dict[str, Any]
    ) -> None:
        links = document["paths"][TASKS]["post"]["responses"]["201"]["links"]
        # Every operation whose path names the new task: its own, its relations, its time.
        assert set(links) == {
            "GetTask",
            "UpdateTask",
            "DeleteTask",
            "CreateTaskRelation",
            "ListTaskRelations",
            "CreateWorklog",
        }
        assert links["GetTask"] == {
            "operationId": "PlanningService_GetTask",
            "parameters": {
                "path.project_id": "$request.path.project_id",
                "path.task_id": "$response.body#/task/id",
            },
            "description": "The created Task, by its id.",
        }
        project = document["paths"]["/api/v1/planning/projects"]["post"]["responses"]["201"]
        assert {"GetProject", "ListTasks", "CreateTask"} <= set(project["links"])
        account = document["paths"][ACCOUNT.rsplit("/", 1)[0]]["post"]["responses"]["201"]
        assert {"DisableServiceAccount", "RotateServiceAccountSecret"} <= set(account["links"])

    def test_no_link_puts_a_new_organization_where_the_token_s_one_must_be(
        self, document: dict[str, Any]
    ) -> None:
        create = document["paths"]["/api/v1/identity/organizations"]["post"]["responses"]["201"]
        assert "links" not in create  # the served document adds the switch (edge.auth)


class TestSchemas:
    def test_field_behavior_required_and_output_only(self, document: dict[str, Any]) -> None:
        task = schema(document, "coder.planning.v1.Task")
        assert task["required"] == ["title"]
        for name in ("id", "projectId", "organizationId", "createdBy", "createTime"):
            assert task["properties"][name]["readOnly"] is True, name
        assert "readOnly" not in task["properties"]["title"]
        request = schema(document, "coder.planning.v1.CreateTaskRequest")
        assert request["required"] == ["projectId", "task"]

    def test_a_field_whose_default_breaks_its_rules_is_required(
        self, document: dict[str, Any]
    ) -> None:
        # `name` (min_len 1) and `permissions` (min_items 1) carry no REQUIRED behavior.
        role = schema(document, "coder.identity.v1.Role")
        assert role["required"] == ["name", "permissions"]
        organization = schema(document, "coder.identity.v1.Organization")
        assert organization["required"] == ["name"]  # the slug may be empty: derived

    @pytest.mark.parametrize(
        ("rules", "refused"),
        [
            ({"int32": {"gte": 0, "lte": 1000}}, False),
            ({"int32": {"gt": 0}}, True),
            ({"int32": {"lte": -1}}, True),
            ({"int32": {"gt": 5, "lt": 1}}, False),  # outside 1..5: 0 is fine
            ({"int32": {"gt": -5, "lt": 10}}, False),
            ({"int32": {"in": [1, 2]}}, True),
            ({"int32": {"not_in": [0]}}, True),
            ({"int32": {"gte": 0}, "ignore": "IGNORE_IF_ZERO_VALUE"}, False),
            ({"required": True}, True),
        ],
    )
    def test_a_default_refused_by_a_numeric_rule_is_required(
        self, rules: dict[str, Any], refused: bool
    ) -> None:
        field = planning_service_pb2.ListTasksRequest.DESCRIPTOR.fields_by_name["page_size"]
        parsed = json_format.ParseDict(rules, validate_pb2.FieldRules())
        assert default_refused(field, parsed) is refused

    @pytest.mark.parametrize(
        ("rules", "refused"),
        [
            ({"max_len": 10}, False),
            ({"min_len": 1}, True),
            ({"pattern": "^[a-z]*$"}, False),
            ({"pattern": "^[a-z]+$"}, True),
            ({"email": True}, True),
            ({"in": ["a", ""]}, False),
        ],
    )
    def test_a_default_refused_by_a_string_rule_is_required(
        self, rules: dict[str, Any], refused: bool
    ) -> None:
        field = planning_service_pb2.ListTasksRequest.DESCRIPTOR.fields_by_name["label"]
        parsed = json_format.ParseDict({"string": rules}, validate_pb2.FieldRules())
        assert default_refused(field, parsed) is refused

    def test_unknown_fields_are_refused(self, document: dict[str, Any]) -> None:
        for name, component in document["components"]["schemas"].items():
            if name.startswith("coder.") and component.get("type") == "object":
                assert component["additionalProperties"] is False, name

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
        settings = schema(document, "coder.identity.v1.Organization")["properties"]["settings"]
        assert settings["maxProperties"] == 100
        assert settings["propertyNames"] == {"type": "string", "minLength": 1, "maxLength": 100}
        assert settings["additionalProperties"] == {"type": "string", "maxLength": 2000}
        assert task["estimate"]["pattern"] == duration_pattern(0, 36_000_000)

    def test_an_enum_is_a_name_or_the_number_of_a_value(self, document: dict[str, Any]) -> None:
        priority = schema(document, "coder.planning.v1.TaskPriority")
        names, numbers = priority["anyOf"]
        assert names == {
            "type": "string",
            "enum": [
                "TASK_PRIORITY_UNSPECIFIED",
                "TASK_PRIORITY_LOW",
                "TASK_PRIORITY_MEDIUM",
                "TASK_PRIORITY_HIGH",
                "TASK_PRIORITY_URGENT",
            ],
        }
        # Accepted in a request, never in an answer.
        assert numbers == {"type": "integer", "enum": [0, 1, 2, 3, 4], "writeOnly": True}

    def test_well_known_types_take_their_json_forms(self, document: dict[str, Any]) -> None:
        task = schema(document, "coder.planning.v1.Task")["properties"]
        assert task["dueTime"]["type"] == "string"
        assert task["dueTime"]["format"] == "date-time"
        assert task["dueTime"]["pattern"] == TIMESTAMP_PATTERN
        update = schema(document, "coder.planning.v1.UpdateTaskRequest")["properties"]
        assert update["updateMask"]["type"] == "string"
        tick = schema(document, "coder.ops.v1.TicksResponse")["properties"]
        assert tick["sequence"]["type"] == "string"  # int64
        assert tick["sequence"]["format"] == "int64"


class TestPatterns:
    """The patterns that carry numbers a string schema cannot bound otherwise."""

    @pytest.mark.parametrize(
        ("low", "high"), [(0, 0), (0, 9), (7, 7), (5, 123), (99, 1000), (0, 36_000_000)]
    )
    def test_a_digit_range_matches_exactly_its_numbers(self, low: int, high: int) -> None:
        pattern = re.compile(f"^{_digits_range(low, high)}$")
        for number in [*range(1200), high - 1, high, high + 1, 10 * high + 7]:
            assert bool(pattern.match(str(number))) == (low <= number <= high), number
        assert not pattern.match(f"0{max(low, 1)}")  # no leading zero

    @pytest.mark.parametrize(
        ("text", "valid"),
        [
            ("0s", True),
            ("1.5s", True),
            ("-3.000000001s", True),
            ("315576000000s", True),
            ("315576000000.000s", True),
            ("315576000000.5s", False),
            ("315576000001s", False),
            ("1.1234567891s", False),
            ("1s ", False),
            ("01s", False),
        ],
    )
    def test_a_duration_is_what_a_duration_can_hold(self, text: str, valid: bool) -> None:
        assert bool(re.match(DURATION_PATTERN, text)) == valid

    def test_a_bounded_duration(self) -> None:
        pattern = re.compile(duration_pattern(0, 36_000_000))
        for text, valid in [("36000000s", True), ("35999999.9s", True), ("36000000.1s", False)]:
            assert bool(pattern.match(text)) == valid, text
        assert not pattern.match("-1s")

    @settings(max_examples=300, suppress_health_check=list(HealthCheck), deadline=None)
    @given(st.from_regex(URI_PATTERN, fullmatch=True))
    def test_every_uri_the_document_admits_the_rule_accepts(self, uri: str) -> None:
        protovalidate.validate(ai_resources_pb2.Provider(base_url=uri))

    def test_a_uri_field_is_patterned(self) -> None:
        for text, valid in [
            ("https://api.openai.com/v1", True),
            ("urn:isbn:0451450523", True),
            ("000", False),
            ("http://x:abc", False),
            ("http://a b", False),
        ]:
            assert bool(re.fullmatch(URI_PATTERN, text)) == valid, text

    @pytest.mark.parametrize(
        ("rules", "cases"),
        [
            (  # gte 1 ms, lte 600 s: an attempt's deadline
                {"gte": Duration(nanos=1_000_000), "lte": Duration(seconds=600)},
                [
                    ("0s", False),
                    ("0.0009s", False),
                    ("0.000999999s", False),
                    ("0.001s", True),
                    ("0.0010s", True),
                    ("0.2s", True),
                    ("1s", True),
                    ("600s", True),
                    ("600.1s", False),
                    ("-1s", False),
                ],
            ),
            (  # gt 0, lte 5 s
                {"gt": Duration(), "lte": Duration(seconds=5)},
                [
                    ("0s", False),
                    ("0.000000000s", False),
                    ("0.000000001s", True),
                    ("4.9s", True),
                    ("5s", True),
                    ("5.000000001s", False),
                ],
            ),
        ],
    )
    def test_a_sub_second_floor(self, rules: dict[str, Any], cases: list[tuple[str, bool]]) -> None:
        schema: dict[str, Any] = {}
        _duration_constraints(schema, validate_pb2.DurationRules(**rules))
        pattern = re.compile(schema["pattern"])
        for text, valid in cases:
            assert bool(pattern.fullmatch(text)) == valid, text

    @pytest.mark.parametrize(
        ("text", "valid"),
        [
            ("2026-12-02T17:59:06.248954Z", True),
            ("0001-01-01T00:00:00+01:00", True),
            ("0000-01-01T00:00:00Z", False),
            ("2026-12-02T23:59:60Z", False),
            ("2026-12-02t10:00:00z", False),
            ("2026-12-02T10:00:00.1234567891Z", False),
        ],
    )
    def test_a_timestamp_is_what_a_timestamp_can_hold(self, text: str, valid: bool) -> None:
        assert bool(re.match(TIMESTAMP_PATTERN, text)) == valid


class TestServedDocument:
    """The edge's own routes, merged into the document the edge serves."""

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls, descriptor_set: Path) -> dict[str, Any]:
        app = create_app(EdgeSettings(descriptor_set=descriptor_set, server_url=""))
        document: dict[str, Any] = app.state.openapi_document
        return document

    def test_a_created_organization_leads_to_switching_to_it(self, served: dict[str, Any]) -> None:
        create = served["paths"]["/api/v1/identity/organizations"]["post"]
        assert "/auth/switch-organization" in create["description"]
        link = create["responses"]["201"]["links"]["SwitchOrganization"]
        assert link["operationId"] == "Auth_SwitchOrganization"
        assert link["requestBody"] == {"organizationId": "$response.body#/organization/id"}
        assert "Auth_SwitchOrganization" in {
            operation["operationId"]
            for item in served["paths"].values()
            for operation in item.values()
        }

    def test_sign_in_bodies_say_what_identity_takes(self, served: dict[str, Any]) -> None:
        schemas = served["components"]["schemas"]
        register = schemas["RegisterBody"]
        assert register["additionalProperties"] is False
        assert register["properties"]["email"]["format"] == "email"
        assert re.match(register["properties"]["email"]["pattern"], "a.b+c@example.co")
        assert not re.match(register["properties"]["email"]["pattern"], "a/b@[127.0.0.1]")
        switch = schemas["SwitchOrganizationBody"]
        assert [branch["required"] for branch in switch["oneOf"]] == [
            ["organizationId"],
            ["createOrganizationName"],
        ]

    def test_edge_routes_document_their_refusals(self, served: dict[str, Any]) -> None:
        login = served["paths"]["/auth/login"]["post"]["responses"]
        assert {"400", "401", "403", "429", "431", "5XX"} <= set(login)
        assert login["200"]["headers"]["X-Request-Id"]["required"] is True
        jwks = served["paths"]["/.well-known/jwks.json"]["get"]["responses"]
        assert "429" not in jwks  # not rate-limited
        token = served["paths"]["/auth/token"]["post"]["responses"]["400"]
        bodies = token["content"]["application/json"]["schema"]["anyOf"]
        assert {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"} in bodies  # the front door's
        assert {"$ref": "#/components/schemas/OAuthErrorBody"} in bodies  # RFC 6749's
        validate(served)
