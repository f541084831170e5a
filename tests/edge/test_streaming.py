"""Server-streaming RPCs over HTTP: SSE (ids, resume, heartbeats, error events), NDJSON and
the JSON array form, on the Ticks probe."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.edge.helpers import error_body, violated_fields

TICKS = "/api/v1/ops/ticks"
SSE = {"accept": "text/event-stream"}
NDJSON = {"accept": "application/x-ndjson"}


def sse_events(text: str) -> list[dict[str, Any]]:
    """Parse an event stream into events ({"event", "id", "data"}) and comments ({"comment"})."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event: dict[str, Any] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                event["comment"] = line[1:].strip()
            else:
                name, _, value = line.partition(": ")
                event[name] = json.loads(value) if name == "data" else value
        events.append(event)
    return events


class TestServerSentEvents:
    async def test_each_tick_is_an_event_with_its_cursor_as_id(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(TICKS, params={"count": 3, "intervalMs": 10}, headers=SSE)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.text)
        assert [e["event"] for e in events] == ["message"] * 3
        assert [e["id"] for e in events] == ["1", "2", "3"]
        assert [e["data"]["sequence"] for e in events] == ["1", "2", "3"]  # int64 as string
        assert events[0]["data"]["time"].endswith("Z")

    async def test_last_event_id_resumes_after_that_event(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            TICKS, params={"count": 5, "intervalMs": 10}, headers={**SSE, "last-event-id": "3"}
        )
        assert [e["id"] for e in sse_events(response.text)] == ["4", "5"]

    async def test_heartbeats_keep_a_quiet_stream_alive(self, client: httpx.AsyncClient) -> None:
        # The edge of the tests beats every 0.2 s; a tick comes after 0.7 s.
        response = await client.get(TICKS, params={"count": 1, "intervalMs": 700}, headers=SSE)
        events = sse_events(response.text)
        assert {"comment": "ping"} in events
        assert events[-1]["event"] == "message"

    async def test_a_failure_after_the_stream_began_is_an_error_event(
        self, client: httpx.AsyncClient
    ) -> None:
        # The budget runs out after a few ticks: the stream began with 200, so the failure
        # arrives as a typed event carrying the error body.
        response = await client.get(
            TICKS,
            params={"count": 100, "intervalMs": 100},
            headers={**SSE, "x-request-timeout": "0.55"},
        )
        assert response.status_code == 200
        events = [e for e in sse_events(response.text) if "event" in e]
        assert events[0]["event"] == "message"
        error = events[-1]
        assert error["event"] == "error"
        assert error["data"]["code"] == 504
        assert error["data"]["requestId"] == response.headers["x-request-id"]

    async def test_a_failure_before_the_first_event_is_a_plain_http_error(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(TICKS, params={"count": 0, "intervalMs": 10}, headers=SSE)
        assert violated_fields(error_body(response, 400)) == {"count"}


class TestNdjson:
    async def test_one_message_per_line(self, client: httpx.AsyncClient) -> None:
        response = await client.get(TICKS, params={"count": 3, "intervalMs": 10}, headers=NDJSON)
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert [line["cursor"] for line in lines] == ["1", "2", "3"]

    async def test_a_failure_mid_stream_is_a_last_error_line(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(
            TICKS,
            params={"count": 100, "intervalMs": 100},
            headers={**NDJSON, "x-request-timeout": "0.55"},
        )
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert "sequence" in lines[0]
        assert lines[-1]["error"]["code"] == 504

    async def test_lines_arrive_as_they_are_produced(self, client: httpx.AsyncClient) -> None:
        params = {"count": 3, "intervalMs": 400}
        started = time.monotonic()
        async with client.stream("GET", TICKS, params=params, headers=NDJSON) as response:
            lines = response.aiter_lines()
            first = json.loads(await anext(lines))
            first_after = time.monotonic() - started
            rest = [json.loads(line) async for line in lines]
            all_after = time.monotonic() - started
        assert first["sequence"] == "1"
        assert [line["sequence"] for line in rest] == ["2", "3"]
        # The first line came on its own, not with the whole stream at the end.
        assert all_after - first_after >= 0.6


class TestJsonArray:
    async def test_without_a_streaming_accept_the_stream_is_one_json_array(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(TICKS, params={"count": 2, "intervalMs": 10})
        assert [t["sequence"] for t in response.json()] == ["1", "2"]
