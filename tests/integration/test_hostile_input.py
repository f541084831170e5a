"""Hostile input over every route of the OpenAPI document (gen/openapi/openapi.json), so each
service added later is covered without a line here.

For every operation, hypothesis draws requests a hostile client would send: path variables
and query parameters full of hostile text and numbers (the declared names and some unknown),
bodies that are almost right (the schema's own property names with hostile values), wrong
(any JSON at all) or not JSON (invalid UTF-8, deep nesting, NaN, duplicate keys), and headers
(garbage tokens, request ids, timeouts, trace context, content types, oversized values). A
case fails on any 5xx, a reset or dropped connection, no answer within `ANSWER_SECONDS`, or an
error answer whose body is not `{code, message, details, requestId}` (for `/auth/token`, the
RFC 6749 error body it documents).

Bounded and repeatable: `EXAMPLES` cases per operation, derandomized, no example database.
"""

from __future__ import annotations

import asyncio
import json
import string
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = json.loads((ROOT / "gen" / "openapi" / "openapi.json").read_text())
EXAMPLES = 25
ANSWER_SECONDS = 10.0
OAUTH_OPERATIONS = frozenset({"Auth_Token"})
"""Operations whose refusals (400, 401) use the RFC 6749 error body instead of the API's."""
METHODS = ("get", "put", "post", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec.get("operationId", f"{self.method} {self.path}"))

    def parameters(self, where: str) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p.get("in") == where]

    def body(self) -> tuple[str, list[str]] | None:
        """Media type and property names of the request body, or None without one."""
        content = self.spec.get("requestBody", {}).get("content", {})
        for media, entry in content.items():
            return media, _properties(entry.get("schema", {}))
        return None


def _properties(schema: dict[str, Any]) -> list[str]:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


OPERATIONS = [
    Operation(method, path, spec)
    for path, item in DOCUMENT["paths"].items()
    for method, spec in item.items()
    if method in METHODS
]

NASTY = [
    "",
    " ",
    ".",
    "..",
    "../../etc/passwd",
    "%00",
    "%2F",
    "\x00",
    "\n",
    "\r\n",
    "null",
    "NaN",
    "Infinity",
    "-Infinity",
    "-1",
    "0",
    "1.5",
    "1e400",
    "-0",
    "4294967299",
    "9" * 40,
    "9" * 5000,
    "true",
    "{}",
    "[]",
    "'; DROP TABLE tasks; --",
    '"quoted"',
    "\u202e\u200b\ufeff",
    "😀" * 20,
    "a" * 5000,
    "TASK_PRIORITY_HIGH",
    "2026-13-45T99:99:99Z",
    "315576000001s",
    "*",
    "$where",
]
texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**31, 2**32 + 3, 2**63, 2**64, 1.5, -0.0, 1e308]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=4)),
    max_leaves=12,
)
RAW_BODIES = [
    b"{",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 200 + b"1" + b"}" * 200,
    b'{"name": NaN}',
    b'{"name": 1e400}',
    b'{"a": 1, "a": 2}',
    b'{"name": "\\ud800"}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b"\x80\x81\x82",
    b"null",
    b"[]",
    b'"string"',
    b"12345678901234567890123456789",
    b"grant_type=client_credentials&client_id=%ff&client_secret=\x00",
]
header_text = st.text(alphabet=string.printable.strip() + " ", max_size=60)
HEADER_VALUES = {
    "x-request-id": st.one_of(header_text, st.just("r" * 500)),
    "x-request-timeout": st.sampled_from(["0", "-1", "nan", "inf", "1e400", "abc", "0.001", ""]),
    "traceparent": st.one_of(
        header_text, st.just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ),
    "tracestate": st.one_of(header_text, st.just("k=" + "v" * 2000)),
    "accept": st.sampled_from(
        ["text/event-stream", "application/x-ndjson", "*/*", "text/html", "application/json;q=0"]
    ),
    "content-type": st.sampled_from(
        [
            "application/json",
            "application/json; charset=latin-1",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/merge-patch+json",
        ]
    ),
    "x-forwarded-for": header_text,
    "x-forwarded-proto": st.sampled_from(["https", "http", "gopher"]),
    "last-event-id": header_text,
    "x-csrf-token": header_text,
    "cookie": st.one_of(header_text, st.just("coder_refresh=x; coder_csrf=y")),
    "x-filler": st.just("f" * 7000),
}


@dataclass(frozen=True)
class Owner:
    token: str
    organization_id: str
    user_id: str


@pytest.fixture(scope="module")
async def owner(edge_url: str) -> Owner:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as client:
        answer = await client.post(
            "/auth/register",
            json={
                "email": f"hostile-{uuid.uuid4().hex[:8]}@example.com",
                "password": "correct horse battery staple",
                "displayName": "Hostile",
                "organizationName": "Hostile",
                "returnRefreshToken": True,
            },
        )
    assert answer.status_code == 201, answer.text
    signed_in = answer.json()
    return Owner(signed_in["accessToken"], signed_in["organizationId"], signed_in["user"]["id"])


def requests(operation: Operation, owner: Owner) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments of `httpx.Client.request` for hostile cases of `operation`."""
    ids = st.sampled_from([owner.organization_id, owner.user_id, "0", "x" * 64])
    variables = {name: st.one_of(ids, texts.filter(bool)) for name in operation.parameters("path")}
    known = {name: st.one_of(texts, numbers.map(str)) for name in operation.parameters("query")}
    query = st.fixed_dictionaries({}, optional={**known, "unknownParameter": texts})
    authorization = st.sampled_from(
        [
            f"Bearer {owner.token}",
            f"Bearer {owner.token}",
            "Bearer not.a.jwt",
            "Bearer " + "x" * 5000,
            "Basic !!!",
            "Basic " + "QUFBQTpCQkJC",
            "",
        ]
    )
    headers = st.fixed_dictionaries({"authorization": authorization}, optional=HEADER_VALUES)
    found = operation.body()
    bodies: st.SearchStrategy[Any] = st.just(None)
    if found is not None:
        media, properties = found
        shaped = st.fixed_dictionaries({}, optional=dict.fromkeys(properties, json_values))
        if media == "application/x-www-form-urlencoded":
            form = st.fixed_dictionaries({}, optional=dict.fromkeys(properties, texts))
            bodies = st.one_of(
                form.map(lambda fields: ("form", fields)), st.sampled_from(RAW_BODIES)
            )
        else:
            bodies = st.one_of(
                shaped.map(lambda document: ("json", document)),
                json_values.map(lambda document: ("json", document)),
                st.sampled_from(RAW_BODIES),
                st.binary(max_size=64),
            )
    return st.fixed_dictionaries(
        {
            "variables": st.fixed_dictionaries(variables),
            "params": query,
            "headers": headers,
            "body": bodies,
        }
    )


def prepared(operation: Operation, case: dict[str, Any]) -> dict[str, Any]:
    path = operation.path
    for name, value in case["variables"].items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    arguments: dict[str, Any] = {
        "method": operation.method.upper(),
        "url": path,
        "params": case["params"],
        # Surrounding whitespace is not a header value the client can send (h11 refuses it).
        "headers": {
            name: value.strip() for name, value in case["headers"].items() if value.strip()
        },
    }
    body = case["body"]
    if isinstance(body, tuple) and body[0] == "json":
        arguments["content"] = json.dumps(body[1]).encode()
        arguments["headers"].setdefault("content-type", "application/json")
    elif isinstance(body, tuple):
        arguments["data"] = body[1]
    elif isinstance(body, bytes):
        arguments["content"] = body
    return arguments


def _asked_for_little_time(headers: dict[str, str]) -> bool:
    try:
        return 0 < float(headers.get("x-request-timeout", "")) < 1
    except ValueError:
        return False


def check(
    operation: Operation, response: httpx.Response, body: bytes, sent: dict[str, str]
) -> None:
    status = response.status_code
    # The one 5xx a caller can earn: a 504 for the budget it asked for itself.
    if not (status == 504 and _asked_for_little_time(sent)):
        assert status < 500, f"{status}: {body[:500]!r}"
    if status < 400:
        return
    assert response.headers.get("content-type", "").startswith("application/json"), body[:300]
    document = json.loads(body)
    if operation.id in OAUTH_OPERATIONS and status in (400, 401) and "error" in document:
        # The endpoint's own refusals; the front door's (a body it cannot read) are standard.
        assert set(document) == {"error", "error_description", "requestId"}, document
        return
    assert set(document) == {"code", "message", "details", "requestId"}, document
    assert document["code"] == status, document
    assert document["requestId"] == response.headers["x-request-id"], document


def attack(base_url: str, operation: Operation, owner: Owner) -> None:
    """Send `EXAMPLES` hostile cases of one operation; raise on the first that fails."""
    with httpx.Client(base_url=base_url, timeout=ANSWER_SECONDS) as client:

        @hypothesis.settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=requests(operation, owner))
        def run(case: dict[str, Any]) -> None:
            arguments = prepared(operation, case)
            # A stream is answered once its head is there; its ticks may rightly take long.
            with client.stream(**arguments) as response:
                body = response.read() if response.status_code >= 400 else b""
                check(operation, response, body, arguments["headers"])

        run()


async def test_the_document_names_every_route_the_edge_serves(edge_url: str) -> None:
    async with httpx.AsyncClient(base_url=edge_url) as client:
        served = (await client.get("/openapi.json")).json()
    routes = {(m, p) for p, item in served["paths"].items() for m in item if m in METHODS}
    assert routes == {(o.method, o.path) for o in OPERATIONS}, "run make gen"


@pytest.mark.timeout(180)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.id)
async def test_hostile_requests_get_a_standard_answer(
    edge_url: str, owner: Owner, operation: Operation
) -> None:
    await asyncio.to_thread(attack, edge_url, operation, owner)
