"""Contract parity: the same scripted REST session through the edge and through Envoy, both in
front of one Planning host, gives the same status codes, the same `Location`s and the same JSON
bodies (DESIGN.md, Errors and JSON profile).

Each run works in organizations of its own, so the runs do not see each other's data; the
transcripts are compared after volatile values are replaced (tests/parity/transcript.py).

Where Envoy answers a request itself — no or a bad token (jwt_authn), an unknown route or query
parameter (the transcoder's request validation) — its message and ErrorInfo reason are its own
text, not the service's or the edge's; for those exchanges the status, the body's keys, its
`code` and the request id are compared, not the text.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.fixtures.tokens import TokenFactory
from tests.parity.transcript import Exchange, diff, normalized

PROJECTS = "/api/v1/planning/projects"


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class Session:
    """The script's client: an owner and a viewer of one organization, an owner of another."""

    def __init__(self, client: httpx.AsyncClient, token: TokenFactory) -> None:
        org, other = f"org-{secrets.token_hex(6)}", f"org-{secrets.token_hex(6)}"
        self.client = client
        self.owner = _auth(token(org=org, roles=("owner",), sub="user-1"))
        self.viewer = _auth(token(org=org, roles=("viewer",), sub="user-2"))
        self.stranger = _auth(token(org=other, roles=("owner",), sub="user-3"))
        self.transcript: list[Exchange] = []

    async def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        answered_by_envoy: bool = False,
        **options: Any,
    ) -> Any:
        sent = self.owner if headers is None else headers
        response = await self.client.request(method, path, headers=sent, **options)
        exchange = Exchange.of(step, response, answered_by_envoy=answered_by_envoy)
        self.transcript.append(exchange)
        return exchange.body


async def script(session: Session) -> list[Exchange]:
    """Projects and tasks end to end, with every kind of refusal on the way."""
    call = session.call
    launch = (
        await call(
            "create a project",
            "POST",
            PROJECTS,
            json={"name": "Launch", "description": "Q3 launch"},
        )
    )["project"]
    docs = (await call("create a second project", "POST", PROJECTS, json={"name": "Docs"}))[
        "project"
    ]
    await call("create a third project", "POST", PROJECTS, json={"name": "Ops"})
    project = f"{PROJECTS}/{launch['id']}"
    await call("get a project", "GET", project)
    first = await call("list the first page", "GET", PROJECTS, params={"pageSize": 2})
    await call(
        "list the next page",
        "GET",
        PROJECTS,
        params={"pageSize": 2, "pageToken": first["nextPageToken"]},
    )
    await call(
        "patch with an update mask",
        "PATCH",
        project,
        params={"updateMask": "name"},
        json={"name": "Launch v2", "description": "not in the mask"},
    )
    await call(
        "patch with a stale etag",
        "PATCH",
        project,
        params={"updateMask": "description"},
        json={"description": "late", "etag": launch["etag"]},
    )
    tasks = f"{project}/tasks"
    plan = (
        await call(
            "create a task with enums, labels and times",
            "POST",
            tasks,
            json={
                "title": "Write the plan",
                "priority": "TASK_PRIORITY_HIGH",
                "labels": ["docs", "q3"],
                "dueTime": "2027-01-15T09:30:00Z",
                "estimate": "5400s",
            },
        )
    )["task"]
    review = (await call("create a second task", "POST", tasks, json={"title": "Review"}))["task"]
    await call(
        "move a task",
        "PATCH",
        f"{tasks}/{review['id']}",
        params={"updateMask": "status"},
        json={"status": "TASK_STATUS_IN_PROGRESS"},
    )
    await call(
        "list tasks by repeated enum",
        "GET",
        tasks,
        params=[("statuses", "TASK_STATUS_TO_DO"), ("statuses", "TASK_STATUS_IN_PROGRESS")],
    )
    await call(
        "list tasks by status, priority and due time",
        "GET",
        tasks,
        params={
            "statuses": "TASK_STATUS_TO_DO",
            "priority": "TASK_PRIORITY_HIGH",
            "dueBefore": "2027-02-01T00:00:00Z",
        },
    )
    await call(
        "refuse a status move",
        "PATCH",
        f"{tasks}/{plan['id']}",
        params={"updateMask": "status"},
        json={"status": "TASK_STATUS_DONE"},
    )
    await call("invalid input", "POST", PROJECTS, json={"name": ""})
    await call("another organization's project", "GET", project, headers=session.stranger)
    await call("a viewer writes", "POST", PROJECTS, headers=session.viewer, json={"name": "x"})
    await call("no token", "GET", PROJECTS, headers={}, answered_by_envoy=True)
    await call(
        "a bad token",
        "GET",
        PROJECTS,
        headers={"authorization": "Bearer not-a-jwt"},
        answered_by_envoy=True,
    )
    await call("an unknown route", "GET", "/api/v1/planning/nothing", answered_by_envoy=True)
    await call(
        "an unknown query parameter",
        "GET",
        PROJECTS,
        params={"colour": "red"},
        answered_by_envoy=True,
    )
    await call("delete a task", "DELETE", f"{tasks}/{plan['id']}")
    await call("get the deleted task", "GET", f"{tasks}/{plan['id']}")
    await call("delete a project", "DELETE", f"{PROJECTS}/{docs['id']}")
    await call("get the deleted project", "GET", f"{PROJECTS}/{docs['id']}")
    return session.transcript


async def run(base_url: str, token: TokenFactory) -> list[Exchange]:
    async with httpx.AsyncClient(base_url=base_url, timeout=15.0) as client:
        return await script(Session(client, token))


@pytest.fixture(scope="module")
async def transcripts(
    edge_url: str, envoy_url: str, token: TokenFactory
) -> tuple[list[Exchange], list[Exchange]]:
    return await run(edge_url, token), await run(envoy_url, token)


class TestContractParity:
    async def test_the_edge_and_envoy_answer_the_script_alike(
        self, transcripts: tuple[list[Exchange], list[Exchange]]
    ) -> None:
        edge, envoy = (normalized(transcript) for transcript in transcripts)
        if edge != envoy:
            pytest.fail(
                "the edge and Envoy answered differently (- edge, + envoy):\n" + diff(edge, envoy)
            )

    async def test_the_script_exercises_the_contract(
        self, transcripts: tuple[list[Exchange], list[Exchange]]
    ) -> None:
        # Parity alone would pass if both were wrong the same way: pin the contract itself.
        for transcript in transcripts:
            statuses = {exchange.step: exchange.status for exchange in transcript}
            assert statuses == {
                "create a project": 201,
                "create a second project": 201,
                "create a third project": 201,
                "get a project": 200,
                "list the first page": 200,
                "list the next page": 200,
                "patch with an update mask": 200,
                "patch with a stale etag": 412,
                "create a task with enums, labels and times": 201,
                "create a second task": 201,
                "move a task": 200,
                "list tasks by repeated enum": 200,
                "list tasks by status, priority and due time": 200,
                "refuse a status move": 400,
                "invalid input": 400,
                "another organization's project": 404,
                "a viewer writes": 403,
                "no token": 401,
                "a bad token": 401,
                "an unknown route": 404,
                "an unknown query parameter": 400,
                "delete a task": 200,
                "get the deleted task": 404,
                "delete a project": 200,
                "get the deleted project": 404,
            }
            for exchange in transcript:
                assert exchange.request_id, exchange.step
                if exchange.status >= 400:
                    assert exchange.body["code"] == exchange.status, exchange
                    assert exchange.body["requestId"] == exchange.request_id, exchange
                    assert set(exchange.body) == {"code", "message", "details", "requestId"}
                elif exchange.status == 201:
                    created = next(iter(exchange.body.values()))
                    assert exchange.location is not None
                    assert exchange.location.endswith(f"/{created['id']}"), exchange
                else:
                    assert exchange.location is None, exchange
            by_step = {exchange.step: exchange for exchange in transcript}
            assert by_step["delete a task"].body == {}
            task = by_step["create a task with enums, labels and times"].body["task"]
            assert task["priority"] == "TASK_PRIORITY_HIGH"
            assert task["dueTime"] == "2027-01-15T09:30:00Z"
            assert task["assigneeId"] == ""  # fields without presence are printed
            listed = by_step["list tasks by repeated enum"].body["tasks"]
            assert {t["status"] for t in listed} == {"TASK_STATUS_TO_DO", "TASK_STATUS_IN_PROGRESS"}
