"""The one reader of request bodies, for every route the edge serves (`/auth/*`, `/auth/token`,
`/api/*`, and whatever comes later): bounded in size and in time, and, when the body is JSON,
parsed once, strictly.

- Size: a declared `Content-Length` over the limit is refused before a byte of the body is read;
  a chunked body as soon as it passes the limit (413 `BODY_TOO_LARGE`).
- Time: each piece of a declared body must arrive within `body_timeout_seconds` (408
  `BODY_TIMEOUT`), so a client cannot hold a request open by promising a body it never sends.
- JSON (RFC 8259, I-JSON where it matters): strict UTF-8 without a BOM, no `NaN` / `Infinity`
  literals, no number too large for a double (`1e400`) or an integer of thousands of digits,
  no unpaired surrogate in a string, no duplicate key in an object, and at most
  `json_depth_limit` nested arrays and objects (400 `MALFORMED_JSON`, `INVALID_JSON_VALUE`,
  `JSON_TOO_DEEP`). Nothing after this can meet a RecursionError or an OverflowError from the
  document's shape.

Field-level checks (an integer into an integer field, an enum number the enum defines) need the
target message and are `edge.values`'.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from google.rpc import code_pb2

from edge.errors import EdgeRefusal, bad_request, edge_status

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

JSON_KEY = "coder.json"
"""Scope key where the front door leaves the body's JSON document: None without a body,
`NO_JSON` for a body that is not JSON (a form)."""
NO_JSON: Any = object()
"""The parsed document of a request whose body is not JSON (a form, or empty)."""


def too_large(limit: int) -> EdgeRefusal:
    return EdgeRefusal(
        edge_status(
            code_pb2.OUT_OF_RANGE,
            f"the body is larger than {limit} bytes",
            "BODY_TOO_LARGE",
            metadata={"limit": str(limit)},
        ),
        http_status=413,
        headers={"connection": "close"},
    )


def body_timeout(seconds: float) -> EdgeRefusal:
    return EdgeRefusal(
        edge_status(
            code_pb2.DEADLINE_EXCEEDED,
            f"the body did not arrive: nothing came for {seconds:g} s",
            "BODY_TIMEOUT",
        ),
        http_status=408,
        headers={"connection": "close"},
    )


def declares_body(headers: MutableMapping[str, str]) -> bool:
    """Whether the request says a body follows (a length, or a transfer coding)."""
    return "transfer-encoding" in headers or headers.get("content-length", "0") not in ("", "0")


async def read_body(
    headers: MutableMapping[str, str], receive: Receive, limit: int, idle_seconds: float
) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` (before
    reading when `Content-Length` says so) and with 408 when a piece takes over
    `idle_seconds`."""
    declared = headers.get("content-length", "")
    if declared:
        if not declared.isdigit():
            raise bad_request("Content-Length must be a number of bytes", "Content-Length")
        if int(declared) > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            message = await asyncio.wait_for(receive(), idle_seconds)
        except TimeoutError:
            raise body_timeout(idle_seconds) from None
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def is_json(content_type: str) -> bool:
    """Whether a body of this media type is read as JSON (no type at all counts, as FastAPI
    and the gateway read it so)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {key!r} appears twice in one object", "MALFORMED_JSON")
            seen.add(key)
    return document


class _Refused(Exception):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def strict_json(body: bytes, depth_limit: int) -> Any:
    """The JSON document of `body`, or a 400 refusal saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request(
            f"the body is not UTF-8 (byte {error.start})", reason="MALFORMED_JSON"
        ) from None
    try:
        document = json.loads(text, parse_constant=_constant, object_pairs_hook=_unique)
    except _Refused as refused:
        raise bad_request(str(refused), reason=refused.reason) from None
    except RecursionError:
        raise _too_deep(depth_limit) from None
    except json.JSONDecodeError as error:
        raise bad_request(f"the body is not valid JSON: {error}", reason="MALFORMED_JSON") from None
    except ValueError as error:
        # NaN / Infinity literals, or an integer past Python's digit limit.
        raise bad_request(f"the body holds a value JSON cannot carry: {error}",
                          reason="INVALID_JSON_VALUE") from None  # fmt: skip
    _check_shape(document, depth_limit)
    return document


def _too_deep(limit: int) -> EdgeRefusal:
    return bad_request(
        f"the body nests arrays and objects deeper than {limit} levels", reason="JSON_TOO_DEEP"
    )


def _check_shape(document: Any, depth_limit: int) -> None:
    """Depth, finite numbers and encodable strings, walked without recursion."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > depth_limit:
                raise _too_deep(depth_limit)
            for key, value in node.items():
                _check_text(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            if depth > depth_limit:
                raise _too_deep(depth_limit)
            stack.extend((value, depth + 1) for value in node)
        elif isinstance(node, str):
            _check_text(node)
        elif isinstance(node, float) and not math.isfinite(node):
            raise bad_request(
                "the body holds a number too large for a double", reason="INVALID_JSON_VALUE"
            )


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(
            "the body holds a string with an unpaired surrogate (\\ud800-\\udfff)",
            reason="MALFORMED_JSON",
        ) from None
