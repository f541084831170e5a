"""gRPC status → HTTP: the standard code table and the error body
`{code, message, details, requestId}` (DESIGN.md, Errors).

The edge's own refusals (unknown route, bad query parameter, body too large) are built as the
same `google.rpc.Status` a service would send, so every error reaches the client one way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2

from services.kit import get_logger

ERROR_DOMAIN = "coder.dev"
ETAG_MISMATCH = "ETAG_MISMATCH"
_log = get_logger("coder.edge")

HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}


@dataclass(frozen=True, slots=True)
class HttpError:
    """An error as the client receives it: status, headers and the JSON body."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    def encoded(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode()


_LIBRARY_MESSAGES: dict[int, str] = {
    code_pb2.CANCELLED: "the call was cancelled",
    code_pb2.DEADLINE_EXCEEDED: "the call ran out of time",
    code_pb2.UNIMPLEMENTED: "this operation is not served here",
    code_pb2.RESOURCE_EXHAUSTED: "the call exceeded a limit",
    code_pb2.UNAVAILABLE: "the service is unavailable; retry later",
    code_pb2.UNAUTHENTICATED: "not authenticated",
    code_pb2.PERMISSION_DENIED: "permission denied",
}


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The call's `google.rpc.Status` from `grpc-status-details-bin`, as the service's error
    interceptor sent it. A status without it was made by the gRPC library, not by a service
    (no connection, a transport limit, an unknown method): its text names addresses and
    channel internals, so the client gets a plain message for the code instead."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:
                break
    code = error.code()
    number = code.value[0] if code is not None else code_pb2.UNKNOWN
    _log.warning("grpc.status_without_details", code=number, details=error.details() or "")
    message = _LIBRARY_MESSAGES.get(number, "internal error; quote the request id")
    return status_pb2.Status(code=number, message=message)


def _unpacked(status: status_pb2.Status, kind: Any) -> Any | None:
    for detail in status.details:
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            return message
    return None


def http_error(status: status_pb2.Status, request_id: str) -> HttpError:
    """Map a rich status to its HTTP status, headers and body."""
    http = HTTP_STATUS.get(status.code, 500)
    info = _unpacked(status, error_details_pb2.ErrorInfo)
    if info is not None and info.reason == ETAG_MISMATCH:
        http = 412
    headers: dict[str, str] = {}
    if http in (429, 503):
        retry = _unpacked(status, error_details_pb2.RetryInfo)
        if retry is not None:
            seconds = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
            headers["retry-after"] = str(max(0, math.ceil(seconds)))
    details = []
    for detail in status.details:
        try:
            details.append(
                json_format.MessageToDict(detail, always_print_fields_with_no_presence=True)
            )
        except (TypeError, KeyError, json_format.Error):
            # A detail type this process does not know is passed on undecoded.
            details.append({"@type": detail.type_url, "value": detail.value.hex()})
    body = {
        "code": http,
        "message": status.message,
        "details": details,
        "requestId": request_id,
    }
    return HttpError(http, body, headers)


def edge_status(
    code: int,
    message: str,
    reason: str,
    *,
    violations: Sequence[tuple[str, str]] = (),
    metadata: dict[str, str] | None = None,
) -> status_pb2.Status:
    """A status for a request the edge refuses itself, with ErrorInfo and BadRequest details."""
    details = [
        error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata or {})
    ]
    if violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in violations
                ]
            )
        )
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=code, message=message, details=packed)


class EdgeRefusal(Exception):
    """Raised while decoding a request the edge refuses before calling any service."""

    def __init__(
        self,
        status: status_pb2.Status,
        http_status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status.message)
        self.status = status
        self.http_status = http_status
        self.headers = headers or {}

    def to_http(self, request_id: str) -> HttpError:
        error = http_error(self.status, request_id)
        status = self.http_status or error.status
        body = {**error.body, "code": status}
        return HttpError(status, body, {**error.headers, **self.headers})


def bad_request(message: str, field: str = "", reason: str = "INVALID_REQUEST") -> EdgeRefusal:
    violations = [(field, message)] if field else []
    return EdgeRefusal(
        edge_status(code_pb2.INVALID_ARGUMENT, message, reason, violations=violations)
    )
