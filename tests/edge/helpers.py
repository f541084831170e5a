"""Helpers of the edge tests: reading error bodies and their google.rpc details."""

from __future__ import annotations

from typing import Any

import httpx

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"


def error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error body of a response that must have failed with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["code"] == status
    assert set(body) == {"code", "message", "details", "requestId"}
    assert body["requestId"] == response.headers["x-request-id"]
    return body


def detail(body: dict[str, Any], type_url: str) -> dict[str, Any]:
    for found in body["details"]:
        if found["@type"] == type_url:
            return dict(found)
    raise AssertionError(f"no {type_url} in {body['details']}")


def reason(body: dict[str, Any]) -> str:
    return str(detail(body, ERROR_INFO)["reason"])


def violated_fields(body: dict[str, Any]) -> set[str]:
    return {v["field"] for v in detail(body, BAD_REQUEST)["fieldViolations"]}
