"""Tenant isolation over every REST route: a caller of organization A (its owner, so no
permission stands in the way) using organization B's ids gets 404 or 403 — never B's data —
and B's data is unchanged afterwards. Routes without ids answer only A's data.

The route list comes from the generated OpenAPI document and the tables from each implemented
domain's tests/<domain>/tenancy.py (see tests/integration/tenancy.py), so a new route or a new
service is covered — or this test fails, asking for its body and ids — without anyone
remembering to add it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.tenancy import Tenant, register, tables

OPENAPI = Path(__file__).resolve().parents[2] / "gen" / "openapi" / "openapi.json"
TABLES = tables()


def live_streams() -> set[str]:
    """Routes without ids whose answer is a stream that stays open (a watch)."""
    document = json.loads(OPENAPI.read_text())
    return {
        path
        for path, operations in document["paths"].items()
        if "{" not in path
        and path.endswith(":watch")
        and "text/event-stream"
        in operations.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
    }


LIVE_STREAMS = live_streams()


def routes() -> list[tuple[str, str, str]]:
    document = json.loads(OPENAPI.read_text())
    found = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/") or path.startswith("/api/v1/ops/"):
            continue  # /auth, /.well-known and the ops probes hold no organization data
        for method, operation in operations.items():
            # A route without ids can only be read: writing to it creates in the caller's
            # own organization, with nothing of B's to name.
            if method in ("get", "post", "patch", "put", "delete") and (
                "{" in path or method == "get"
            ):
                found.append((method.upper(), path, operation["operationId"]))
    return sorted(found)


@pytest.fixture(scope="module")
async def tenants(edge_url: str) -> AsyncIterator[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as anonymous:
        alice = await register(anonymous, "alice")
        bob = await register(anonymous, "bob")
    headers = {"authorization": f"Bearer {bob['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=15, headers=headers) as client:
        b = Tenant(
            client,
            bob["organizationId"],
            bob["user"]["id"],
            bob["session"]["id"],
            bob["accessToken"],
        )
        ids: dict[str, str] = {}
        for seed in TABLES.seeds:
            ids.update(await seed(b))
        yield {"alice": alice, "b": b, "ids": ids, "identifying": identifying(ids)}


def identifying(ids: dict[str, str]) -> dict[str, str]:
    """The path values that name something of B's. A number (a page's revision) names nothing
    on its own and is in every answer that counts, so it can't tell a leak."""
    return {name: value for name, value in ids.items() if not value.isdigit()}


def url_for(path: str, ids: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in TABLES.id_of_parameter, (
            f"no id of organization B for path parameter {name!r}: name it in ID_OF_PARAMETER "
            "of its domain's tests/<domain>/tenancy.py"
        )
        return ids[TABLES.id_of_parameter[name]]

    return re.sub(r"\{([^}]+)\}", substitute, path)


@pytest.mark.parametrize(("method", "path", "operation"), routes())
async def test_organization_a_never_reaches_organization_b(
    tenants: dict[str, Any], edge_url: str, method: str, path: str, operation: str
) -> None:
    alice, ids, identifying = tenants["alice"], tenants["ids"], tenants["identifying"]
    headers = {"authorization": f"Bearer {alice['accessToken']}"}
    async with httpx.AsyncClient(base_url=edge_url, timeout=15, headers=headers) as a:
        if "{" not in path and path in LIVE_STREAMS:
            # A live stream never ends by itself: its first message is read, then it is left.
            stream_headers = {"accept": "application/x-ndjson"}
            async with a.stream("GET", path, headers=stream_headers) as answer:
                assert answer.status_code == 200, await answer.aread()
                first = await anext(answer.aiter_lines())
            leaked = [name for name, value in identifying.items() if value in first]
            assert leaked == [], f"{operation} streamed B's {leaked}"
            return
        if "{" not in path:
            answer = await a.get(path)
            assert answer.status_code == 200, answer.text
            leaked = [name for name, value in identifying.items() if value in answer.text]
            assert leaked == [], f"{operation} answered B's {leaked}"
            return
        body = None
        if method in ("POST", "PATCH", "PUT"):
            assert operation in TABLES.bodies, (
                f"give {operation} a valid body in BODIES of its domain's tests/<domain>/tenancy.py"
            )
            body = json.loads(
                json.dumps(TABLES.bodies[operation]).replace("{alice}", alice["user"]["id"])
            )
        answer = await a.request(method, url_for(path, ids), json=body)
    assert answer.status_code in (403, 404), f"{operation}: {answer.status_code} {answer.text}"
    leaked_text = [secret for secret in TABLES.secrets if secret in answer.text]
    assert leaked_text == [], f"{operation} answered B's {leaked_text}"


async def test_organization_b_data_is_untouched(tenants: dict[str, Any]) -> None:
    for check in TABLES.checks:
        await check(tenants["b"], tenants["ids"])
