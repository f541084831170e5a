"""Server-streaming RPCs over HTTP: Server-Sent Events, NDJSON, or a streamed JSON array.

- SSE (`Accept: text/event-stream`): each message is `event: message` with `data: <json>`; a
  response field named `cursor` becomes the event `id:`, and on reconnect `Last-Event-ID` fills
  the request's `cursor` field, so the stream resumes after the last event received. A comment
  `: ping` goes out every heartbeat interval. A failure after the stream began is a typed
  `event: error` whose data is the error body `{code, message, details, requestId}`.
- NDJSON (`Accept: application/x-ndjson`): one message per line; a failure after the stream
  began is a last line `{"error": <error body>}`.
- Otherwise a JSON array of the messages, as Envoy's gRPC-JSON transcoder streams them.

The call's first read decides the HTTP status: an error that arrives before any message (a
refused token, a bad request) is a plain HTTP error; the stream starts once the first message
arrives or one heartbeat interval has passed without news.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from edge.errors import http_error, rich_status
from edge.transcoding import dumps, render

SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
JSON = "application/json"


def stream_format(accept: str) -> str:
    """The media type to stream in, from the Accept header."""
    lowered = accept.lower()
    if SSE in lowered:
        return SSE
    if NDJSON in lowered:
        return NDJSON
    return JSON


class Frames:
    """Encodes messages, heartbeats and the closing error in one streaming media type."""

    def __init__(self, media_type: str, request_id: str) -> None:
        self.media_type = media_type
        self._request_id = request_id
        self._first = True

    def opening(self) -> bytes:
        return b"[" if self.media_type == JSON else b""

    def message(self, message: Any) -> bytes:
        document = render(message)
        if self.media_type == SSE:
            cursor = getattr(message, "cursor", "")
            head = f"event: message\nid: {cursor}\n" if cursor else "event: message\n"
            return head.encode() + b"data: " + dumps(document) + b"\n\n"
        if self.media_type == NDJSON:
            return dumps(document) + b"\n"
        prefix = b"" if self._first else b","
        self._first = False
        return prefix + dumps(document)

    def heartbeat(self) -> bytes:
        # Only SSE has a way to say nothing; NDJSON and JSON readers would choke on filler.
        return b": ping\n\n" if self.media_type == SSE else b""

    def error(self, error: grpc.aio.AioRpcError) -> bytes:
        body = http_error(rich_status(error), self._request_id).body
        if self.media_type == SSE:
            return b"event: error\ndata: " + dumps(body) + b"\n\n"
        if self.media_type == NDJSON:
            return dumps({"error": body}) + b"\n"
        prefix = b"" if self._first else b","
        self._first = False
        return prefix + dumps({"error": body})

    def closing(self) -> bytes:
        return b"]" if self.media_type == JSON else b""


_DEADLINE_MARGIN = 1.0
"""Seconds past a short call's deadline the first read is waited for."""


class Stream:
    """One streaming call being relayed: `start()` reads until the first message (or a
    heartbeat's time), then `body()` yields the encoded frames."""

    def __init__(
        self, call: Any, frames: Frames, heartbeat: float, budget: float | None = None
    ) -> None:
        self._call = call
        self._frames = frames
        self._heartbeat = heartbeat
        self._budget = budget
        self._pending: asyncio.Future[Any] | None = None

    async def start(self) -> None:
        """Raise the call's error if it fails before its first message or heartbeat. A call
        whose budget ends before the first heartbeat is waited for until its deadline has
        surely passed, so running out of time is an HTTP 504, not a 200 stream with an error."""
        self._pending = asyncio.ensure_future(self._call.read())
        wait = self._heartbeat
        if self._budget is not None and self._budget < self._heartbeat:
            wait = max(self._heartbeat, self._budget + _DEADLINE_MARGIN)
        await asyncio.wait({self._pending}, timeout=wait)
        if self._pending.done():
            error = self._pending.exception()
            if error is not None:
                raise error

    async def body(self) -> AsyncIterator[bytes]:
        assert self._pending is not None, "start() first"
        pending = self._pending
        try:
            yield self._frames.opening()
            while True:
                done, _ = await asyncio.wait({pending}, timeout=self._heartbeat)
                if not done:
                    beat = self._frames.heartbeat()
                    if beat:
                        yield beat
                    continue
                try:
                    item = pending.result()
                except grpc.aio.AioRpcError as error:
                    yield self._frames.error(error)
                    break
                if item is grpc.aio.EOF:
                    break
                yield self._frames.message(item)
                pending = asyncio.ensure_future(self._call.read())
            yield self._frames.closing()
        finally:
            self.cancel(pending)

    def cancel(self, pending: asyncio.Future[Any] | None = None) -> None:
        for future in (pending, self._pending):
            if future is not None and not future.done():
                future.cancel()
        self._call.cancel()
