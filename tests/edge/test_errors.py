"""Errors at the edge: the gRPC → HTTP table, the error body with its google.rpc details, and
the edge's own refusals (unknown route or parameter, malformed JSON, body too large)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from google.protobuf import any_pb2
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2

from edge.errors import http_error
from tests.edge.conftest import BODY_LIMIT
from tests.edge.helpers import (
    REQUEST_INFO,
    detail,
    error_body,
    reason,
    violated_fields,
)
from tests.edge.test_planning_routes import PROJECTS, create_project, create_task
from tests.fixtures.tokens import TokenFactory


class TestServiceErrors:
    async def test_invalid_argument_is_400_with_field_violations(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.post(PROJECTS, json={"name": ""}, headers=bearer)
        body = error_body(response, 400)
        assert "project.name" in violated_fields(body)
        assert detail(body, REQUEST_INFO)["requestId"] == body["requestId"]

    async def test_a_missing_token_is_401(self, client: httpx.AsyncClient) -> None:
        body = error_body(await client.get(PROJECTS), 401)
        assert reason(body) == "TOKEN_MISSING"

    async def test_a_forged_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(PROJECTS, headers={"authorization": "Bearer not.a.jwt"})
        assert reason(error_body(response, 401)) == "TOKEN_INVALID"

    async def test_a_missing_permission_is_403(
        self, client: httpx.AsyncClient, token: TokenFactory, org: str
    ) -> None:
        viewer = {"authorization": f"Bearer {token(org=org, roles=('viewer',))}"}
        response = await client.post(PROJECTS, json={"name": "x"}, headers=viewer)
        assert reason(error_body(response, 403)) == "PERMISSION_MISSING"

    async def test_an_unknown_resource_is_404(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.get(f"{PROJECTS}/01NOSUCHPROJECT", headers=bearer)
        assert reason(error_body(response, 404)) == "PROJECT_NOT_FOUND"

    async def test_a_stale_etag_is_412(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"])
        url = f"{PROJECTS}/{project['id']}/tasks/{task['id']}"
        first = await client.patch(
            url, params={"updateMask": "title"}, json={"title": "a", "etag": task["etag"]},
            headers=bearer,
        )  # fmt: skip
        assert first.status_code == 200
        stale = await client.patch(
            url, params={"updateMask": "title"}, json={"title": "b", "etag": task["etag"]},
            headers=bearer,
        )  # fmt: skip
        assert reason(error_body(stale, 412)) == "ETAG_MISMATCH"
        delete = await client.delete(url, params={"etag": task["etag"]}, headers=bearer)
        error_body(delete, 412)

    async def test_a_failed_precondition_is_400(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        task = await create_task(client, bearer, project["id"])
        response = await client.patch(
            f"{PROJECTS}/{project['id']}/tasks/{task['id']}",
            params={"updateMask": "status"},
            json={"status": "TASK_STATUS_DONE"},
            headers=bearer,
        )
        error_body(response, 400)


def _status(code: int, *details: object, message: str = "m") -> status_pb2.Status:
    packed = []
    for found in details:
        holder = any_pb2.Any()
        holder.Pack(found)  # type: ignore[arg-type]
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


class TestStatusTable:
    @pytest.mark.parametrize(
        ("code", "http"),
        [
            (grpc.StatusCode.OK, 200),
            (grpc.StatusCode.INVALID_ARGUMENT, 400),
            (grpc.StatusCode.FAILED_PRECONDITION, 400),
            (grpc.StatusCode.OUT_OF_RANGE, 400),
            (grpc.StatusCode.UNAUTHENTICATED, 401),
            (grpc.StatusCode.PERMISSION_DENIED, 403),
            (grpc.StatusCode.NOT_FOUND, 404),
            (grpc.StatusCode.ALREADY_EXISTS, 409),
            (grpc.StatusCode.ABORTED, 409),
            (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
            (grpc.StatusCode.CANCELLED, 499),
            (grpc.StatusCode.UNIMPLEMENTED, 501),
            (grpc.StatusCode.UNAVAILABLE, 503),
            (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
            (grpc.StatusCode.INTERNAL, 500),
            (grpc.StatusCode.UNKNOWN, 500),
            (grpc.StatusCode.DATA_LOSS, 500),
        ],
    )
    def test_code_maps_to_http_status(self, code: grpc.StatusCode, http: int) -> None:
        error = http_error(_status(code.value[0]), "r1")
        assert error.status == http
        assert error.body == {"code": http, "message": "m", "details": [], "requestId": "r1"}

    def test_an_etag_mismatch_is_412_not_409(self) -> None:
        info = error_details_pb2.ErrorInfo(reason="ETAG_MISMATCH", domain="coder.dev")
        assert http_error(_status(code_pb2.ABORTED, info), "r").status == 412

    @pytest.mark.parametrize("code", [code_pb2.RESOURCE_EXHAUSTED, code_pb2.UNAVAILABLE])
    def test_retry_info_becomes_retry_after(self, code: int) -> None:
        retry = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=2, nanos=100_000_000))
        error = http_error(_status(code, retry), "r")
        assert error.headers == {"retry-after": "3"}
        assert error.body["details"] == [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.100s"}
        ]


class TestEdgeRefusals:
    async def test_an_unknown_route_is_404_with_the_error_body(
        self, client: httpx.AsyncClient
    ) -> None:
        body = error_body(await client.get("/api/v1/nowhere"), 404)
        assert reason(body) == "ROUTE_NOT_FOUND"
        body = error_body(await client.get("/"), 404)

    async def test_a_path_with_a_newline_is_404_with_the_error_body(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.get(f"{PROJECTS}/a%0Ab/nowhere", headers=bearer)
        assert reason(error_body(response, 404)) == "ROUTE_NOT_FOUND"

    async def test_a_wrong_method_is_405_with_allow(self, client: httpx.AsyncClient) -> None:
        response = await client.put(PROJECTS, json={})
        error_body(response, 405)
        assert response.headers["allow"] == "GET, POST"

    async def test_an_unknown_query_parameter_is_400(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.get(PROJECTS, params={"pageSise": 3}, headers=bearer)
        body = error_body(response, 400)
        assert reason(body) == "UNKNOWN_PARAMETER"
        assert violated_fields(body) == {"pageSise"}

    async def test_a_query_parameter_for_a_body_field_is_refused(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.post(
            PROJECTS, params={"project.name": "x"}, json={"name": "y"}, headers=bearer
        )
        assert reason(error_body(response, 400)) == "UNKNOWN_PARAMETER"

    async def test_a_badly_typed_query_parameter_is_400(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        for params in ({"pageSize": "many"}, {"force": "perhaps"}):
            url = f"{PROJECTS}/x" if "force" in params else PROJECTS
            method = "DELETE" if "force" in params else "GET"
            response = await client.request(method, url, params=params, headers=bearer)
            error_body(response, 400)

    async def test_malformed_json_is_400(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.post(
            PROJECTS,
            content=b'{"name": ',
            headers={**bearer, "content-type": "application/json"},
        )
        assert reason(error_body(response, 400)) == "MALFORMED_JSON"

    async def test_an_unknown_body_field_is_400(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        response = await client.post(PROJECTS, json={"name": "x", "color": 1}, headers=bearer)
        assert reason(error_body(response, 400)) == "INVALID_JSON_VALUE"

    async def test_a_body_over_the_limit_is_413(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        big = {"name": "x", "description": "d" * BODY_LIMIT}
        response = await client.post(PROJECTS, json=big, headers=bearer)
        assert reason(error_body(response, 413)) == "BODY_TOO_LARGE"

    async def test_a_chunked_body_over_the_limit_is_413(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(BODY_LIMIT // 1024 + 2):
                yield b" " * 1024

        response = await client.post(PROJECTS, content=chunks(), headers=bearer)
        error_body(response, 413)

    async def test_a_short_request_timeout_is_a_504(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/api/v1/ops/ticks",
            params={"count": 5, "intervalMs": 1000},
            headers={"x-request-timeout": "0.05", "accept": "application/x-ndjson"},
        )
        error_body(response, 504)
