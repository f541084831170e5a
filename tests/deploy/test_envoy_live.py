"""REST through Envoy to a real Planning host: jwt_authn, the gRPC-JSON transcoder's JSON
profile and request validation, gRPC status conversion, public RPCs, request ids."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from coder.ops.v1 import ops_pb2
from coder.ops.v1.ops_pb2_grpc import OpsServiceStub
from coder.planning.v1 import planning_service_pb2, project_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.deploy import EnvoyOptions
from services.kit import Host, SigningKey
from tests.deploy.conftest import RunningEnvoy, running_envoy
from tests.fixtures.tokens import AUDIENCE, ISSUER

PROJECTS = "/api/v1/planning/projects"


def bearer(key: SigningKey, org: str, *, roles: tuple[str, ...] = ("owner",)) -> dict[str, str]:
    token = key.mint(
        subject="user-1", organization_id=org, issuer=ISSUER, audience=AUDIENCE, roles=roles
    )
    return {"authorization": f"Bearer {token}"}


async def test_create_and_get_a_project(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    headers = bearer(signing_key, org)
    created = await client.post(
        PROJECTS, json={"name": "Launch", "description": "via Envoy"}, headers=headers
    )
    assert created.status_code == 201, created.text  # envoy/contract.lua
    assert created.headers["content-type"].startswith("application/json")
    project = created.json()["project"]
    assert created.headers["location"] == f"{PROJECTS}/{project['id']}"
    assert not [name for name in created.headers if name.startswith("grpc-")]
    assert project["name"] == "Launch"
    assert project["organizationId"] == org  # lowerCamelCase
    assert project["createdBy"] == "user-1"
    assert project["createTime"].endswith("Z")  # RFC 3339
    assert project["id"]

    fetched = await client.get(f"{PROJECTS}/{project['id']}", headers=headers)
    assert fetched.status_code == 200, fetched.text
    assert "grpc-status" not in fetched.headers
    assert fetched.json() == {"project": project}


async def test_enums_print_as_names_and_defaults_are_printed(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    headers = bearer(signing_key, org)
    created = await client.post(PROJECTS, json={"name": "Tasks"}, headers=headers)
    project_id = created.json()["project"]["id"]
    task = await client.post(
        f"{PROJECTS}/{project_id}/tasks", json={"title": "Write the plan"}, headers=headers
    )
    assert task.status_code == 201, task.text
    assert task.headers["location"] == f"{PROJECTS}/{project_id}/tasks/{task.json()['task']['id']}"
    body = task.json()["task"]
    assert body["status"].startswith("TASK_STATUS_")
    assert body["projectId"] == project_id
    assert body["labels"] == []  # fields without presence are printed
    assert body["description"] == ""

    listed = await client.get(
        f"{PROJECTS}/{project_id}/tasks",
        params={"statuses": body["status"], "pageSize": 10},
        headers=headers,
    )
    assert listed.status_code == 200, listed.text
    assert [t["id"] for t in listed.json()["tasks"]] == [body["id"]]
    assert listed.json()["nextPageToken"] == ""


async def test_a_request_without_a_token_is_refused(client: httpx.AsyncClient) -> None:
    refused = await client.get(PROJECTS)
    assert refused.status_code == 401
    body = refused.json()
    assert body["code"] == 401
    assert body["message"] == "Jwt is missing"
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "UNAUTHENTICATED",
            "domain": "coder.dev",
            "metadata": {},
        }
    ]
    assert body["requestId"] == refused.headers["x-request-id"]


async def test_a_bad_token_is_refused(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    other = SigningKey.generate(kid=signing_key.kid)
    for token in (
        other.mint(subject="u", organization_id=org, issuer=ISSUER, audience=AUDIENCE),
        signing_key.mint(subject="u", organization_id=org, issuer="other", audience=AUDIENCE),
        signing_key.mint(
            subject="u",
            organization_id=org,
            issuer=ISSUER,
            audience=AUDIENCE,
            lifetime_seconds=-120,
        ),
        "not-a-jwt",
    ):
        refused = await client.get(PROJECTS, headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 401, (token, refused.text)
        assert refused.json()["code"] == 401


async def test_a_token_for_another_audience_is_forbidden(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    # jwt_authn answers an audience mismatch with 403, not 401 (the services say UNAUTHENTICATED).
    token = signing_key.mint(subject="u", organization_id=org, issuer=ISSUER, audience="other")
    refused = await client.get(PROJECTS, headers={"authorization": f"Bearer {token}"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["message"] == "Audiences in Jwt are not allowed"


async def test_an_unknown_query_parameter_is_refused(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    refused = await client.get(PROJECTS, params={"colour": "red"}, headers=bearer(signing_key, org))
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == 400


async def test_an_unknown_path_is_not_found(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    headers = bearer(signing_key, org)
    for method, path in (("GET", "/api/v1/planning/nothing"), ("PUT", PROJECTS)):
        missing = await client.request(method, path, headers=headers)
        assert missing.status_code == 404, (method, path, missing.text)
        assert missing.json()["code"] == 404


async def test_a_grpc_error_becomes_its_http_status_with_the_status_body(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    missing = await client.get(
        f"{PROJECTS}/no-such-project",
        headers={**bearer(signing_key, org), "x-request-id": "req-not-found"},
    )
    assert missing.status_code == 404, missing.text
    assert missing.headers["content-type"].startswith("application/json")
    assert missing.headers["x-request-id"] == "req-not-found"
    body = missing.json()
    assert body["code"] == 404  # the HTTP status, not the gRPC code (envoy/contract.lua)
    assert body["message"]
    assert body["requestId"] == "req-not-found"
    details = {detail["@type"].rsplit("/", 1)[1]: detail for detail in body["details"]}
    assert details["google.rpc.ErrorInfo"]["reason"]
    assert details["google.rpc.RequestInfo"]["requestId"] == "req-not-found"


async def test_invalid_input_is_a_400_with_field_violations(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    refused = await client.post(PROJECTS, json={"name": ""}, headers=bearer(signing_key, org))
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["code"] == 400
    assert body["requestId"] == refused.headers["x-request-id"]
    bad_request = next(
        d for d in body["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    )
    assert bad_request["fieldViolations"]


async def test_a_missing_permission_is_a_403(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    refused = await client.post(
        PROJECTS, json={"name": "x"}, headers=bearer(signing_key, org, roles=("viewer",))
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == 403


async def test_the_public_echo_needs_no_token(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/api/v1/ops/echo", params={"message": "hi"})
    assert echoed.status_code == 200, echoed.text
    assert echoed.json() == {"message": "hi"}


async def test_query_strings_decode_as_forms_do(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/api/v1/ops/echo?message=hello+world%21%2B")
    assert echoed.json() == {"message": "hello world!+"}


async def test_the_public_echo_refuses_a_bad_token(client: httpx.AsyncClient) -> None:
    refused = await client.get(
        "/api/v1/ops/echo", params={"message": "hi"}, headers={"authorization": "Bearer nope"}
    )
    assert refused.status_code == 401


async def test_a_request_id_is_generated_or_kept(client: httpx.AsyncClient) -> None:
    generated = await client.get("/api/v1/ops/echo")
    assert generated.headers["x-request-id"]
    kept = await client.get("/api/v1/ops/echo", headers={"x-request-id": "req-from-client"})
    assert kept.headers["x-request-id"] == "req-from-client"


async def test_edge_routes_go_to_the_edge_without_a_token(client: httpx.AsyncClient) -> None:
    for path in ("/auth/login", "/auth", "/openapi.json", "/docs", "/events/stream", "/ws/x"):
        served = await client.get(path)
        assert served.status_code == 200, (path, served.text)
        assert served.json()["servedBy"] == "edge", path
    assert (await client.get("/.well-known/jwks.json")).json()["keys"]


async def test_the_edge_gets_the_authorization_header(
    client: httpx.AsyncClient, signing_key: SigningKey, org: str
) -> None:
    served = await client.get("/auth/sessions", headers=bearer(signing_key, org))
    assert served.json() == {
        "servedBy": "edge",
        "path": "/auth/sessions",
        "accept": "*/*",
        "authorized": True,
    }


async def test_event_streams_on_the_api_go_to_the_edge(client: httpx.AsyncClient) -> None:
    served = await client.get("/api/v1/ops/ticks?count=2", headers={"accept": "text/event-stream"})
    assert served.status_code == 200, served.text
    assert served.json()["servedBy"] == "edge"
    assert served.json()["path"] == "/api/v1/ops/ticks?count=2"


async def test_everything_else_goes_to_the_ui(client: httpx.AsyncClient) -> None:
    for path in ("/", "/projects/1", "/_next/static/x.js", "/authors"):
        served = await client.get(path)
        assert served.status_code == 200, (path, served.text)
        assert served.json()["servedBy"] == "ui", path


async def test_websockets_reach_the_edge(envoy: RunningEnvoy) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{envoy.url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws,
    ):
        await ws.send_str("hello")
        reply = await asyncio.wait_for(ws.receive(), timeout=5)
        assert reply.data == "edge: hello"


async def test_a_server_stream_is_transcoded_to_a_json_array(client: httpx.AsyncClient) -> None:
    streamed = await client.get("/api/v1/ops/ticks", params={"count": 3, "intervalMs": 10})
    assert streamed.status_code == 200, streamed.text
    ticks = streamed.json()
    assert [tick["sequence"] for tick in ticks] == ["1", "2", "3"]  # int64 as strings


async def test_native_grpc_passes_through_with_the_same_rules(
    envoy: RunningEnvoy, signing_key: SigningKey, org: str
) -> None:
    target = envoy.url.removeprefix("http://")
    async with grpc.aio.insecure_channel(target) as channel:
        planning = PlanningServiceStub(channel)
        request = planning_service_pb2.GetProjectRequest(project_id="no-such-project")
        with pytest.raises(grpc.aio.AioRpcError) as missing_token:
            await planning.GetProject(request, timeout=5)
        assert missing_token.value.code() == grpc.StatusCode.UNAUTHENTICATED
        metadata = tuple(bearer(signing_key, org).items())
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await planning.GetProject(request, metadata=metadata, timeout=5)
        assert not_found.value.code() == grpc.StatusCode.NOT_FOUND

        # The REST contract filter leaves native gRPC alone: a create stays a gRPC success.
        created = await planning.CreateProject(
            planning_service_pb2.CreateProjectRequest(project=project_pb2.Project(name="native")),
            metadata=metadata,
            timeout=5,
        )
        assert created.project.id

        echoed = await OpsServiceStub(channel).Echo(ops_pb2.EchoRequest(message="hi"), timeout=5)
        assert echoed.message == "hi"

        health = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as unrouted:
            await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert unrouted.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_the_rate_limit_answers_429_with_a_json_body(
    planning_host: Host, edge_url: str, ui_url: str, tmp_path: Path
) -> None:
    options = EnvoyOptions(
        embedded_port=planning_host.port, edge_url=edge_url, ui_url=ui_url, rate_limit=2
    )
    async with (
        running_envoy(tmp_path, options) as limited,
        httpx.AsyncClient(base_url=limited.url, timeout=10) as client,
    ):
        replies = [await client.get("/api/v1/ops/echo") for _ in range(5)]
    statuses = [reply.status_code for reply in replies]
    assert 429 in statuses, statuses
    refused = replies[statuses.index(429)]
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["code"] == 429
    assert refused.json()["requestId"] == refused.headers["x-request-id"]


async def logged(envoy: RunningEnvoy, request_id: str) -> dict[str, object]:
    """The access log line of a request (JSON), waiting for Envoy to flush it."""
    for _ in range(100):
        for line in envoy.log.read_text(errors="replace").splitlines():
            if request_id in line and line.startswith("{"):
                entry: dict[str, object] = json.loads(line)
                return entry
        await asyncio.sleep(0.05)
    raise AssertionError(f"no access log line for {request_id}")


async def test_the_deadline_passes_on_to_the_service(
    client: httpx.AsyncClient, envoy: RunningEnvoy
) -> None:
    await client.get("/api/v1/ops/echo", headers={"x-request-id": "deadline-default"})
    entry = await logged(envoy, "deadline-default")
    assert entry["grpcTimeout"] == "30S"  # the route's budget
    assert entry["path"] == "/api/v1/ops/echo"
    assert entry["grpcPath"] == "/coder.ops.v1.OpsService/Echo"
    assert entry["cluster"] == "ops"

    await client.get(
        "/api/v1/ops/echo", headers={"x-request-id": "deadline-own", "grpc-timeout": "2S"}
    )
    assert (await logged(envoy, "deadline-own"))["grpcTimeout"] == "2000m"
