"""A transcript of REST exchanges and its normal form, so that two runs of the same script
against different front doors (and different organizations) can be compared as equal.

Volatile values are replaced by placeholders: timestamps by key name (`<timestamp>`), ids, etags,
page tokens and request ids by value, numbered in order of first appearance, so that the same
id is the same placeholder wherever it appears (bodies, `Location`, messages) and two runs that
behave alike normalize to the same text.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

TIMESTAMP_KEYS = frozenset({"createTime", "updateTime", "completeTime"})
VALUE_KEYS = frozenset(
    {"id", "projectId", "organizationId", "etag", "nextPageToken", "requestId", "pageToken"}
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One REST call and what came back."""

    step: str
    status: int
    location: str | None
    request_id: str
    body: Any
    answered_by_envoy: bool = False
    """Envoy refuses this request itself (jwt_authn, the transcoder's request validation) with
    its own message and ErrorInfo reason; only the contract's shape is compared."""

    @classmethod
    def of(
        cls, step: str, response: httpx.Response, *, answered_by_envoy: bool = False
    ) -> Exchange:
        return cls(
            step,
            response.status_code,
            response.headers.get("location"),
            response.headers.get("x-request-id", ""),
            response.json() if response.content else None,
            answered_by_envoy,
        )


@dataclass
class _Placeholders:
    by_value: dict[str, str] = field(default_factory=dict)

    def collect(self, node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                self.collect(value, name)
        elif isinstance(node, list):
            for value in node:
                self.collect(value, key)
        elif isinstance(node, str) and node and key in VALUE_KEYS:
            self.by_value.setdefault(node, f"<{len(self.by_value) + 1}>")

    def text(self, value: str) -> str:
        if value in self.by_value:
            return self.by_value[value]
        for original, placeholder in self.by_value.items():
            if len(original) >= 8:
                value = value.replace(original, placeholder)
        return value

    def replace(self, node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {name: self.replace(value, name) for name, value in node.items()}
        if isinstance(node, list):
            return [self.replace(value, key) for value in node]
        if isinstance(node, str):
            if key in TIMESTAMP_KEYS and RFC3339.match(node):
                return "<timestamp>"
            return self.text(node)
        return node


def _shape(body: Any) -> dict[str, Any]:
    """What the contract fixes of an error body whatever its origin."""
    if not isinstance(body, dict):
        return {"body": body}
    return {
        "keys": sorted(body),
        "code": body.get("code"),
        "details": "list" if isinstance(body.get("details"), list) else body.get("details"),
    }


def normalized(transcript: list[Exchange]) -> list[dict[str, Any]]:
    """The transcript with volatile values replaced, one dict per exchange."""
    placeholders = _Placeholders()
    for exchange in transcript:
        placeholders.collect({"requestId": exchange.request_id})
        if not exchange.answered_by_envoy:
            placeholders.collect(exchange.body)
    rows = []
    for exchange in transcript:
        row: dict[str, Any] = {
            "step": exchange.step,
            "status": exchange.status,
            "location": placeholders.text(exchange.location) if exchange.location else None,
            "requestIdHeader": placeholders.text(exchange.request_id),
        }
        if exchange.answered_by_envoy:
            row["body"] = _shape(exchange.body)
            row["requestIdInBody"] = (
                isinstance(exchange.body, dict)
                and exchange.body.get("requestId") == exchange.request_id
            )
        else:
            row["body"] = placeholders.replace(exchange.body)
        rows.append(row)
    return rows


def diff(edge: list[dict[str, Any]], envoy: list[dict[str, Any]]) -> str:
    """A unified diff of two normalized transcripts, one exchange per block."""

    def lines(rows: list[dict[str, Any]]) -> list[str]:
        return json.dumps(rows, indent=2, sort_keys=True).splitlines()

    return "\n".join(
        difflib.unified_diff(lines(edge), lines(envoy), "edge", "envoy", lineterm="", n=8)
    )
