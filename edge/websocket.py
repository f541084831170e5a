"""The WebSocket bridge `/ws`: one authenticated connection multiplexing subscriptions to
streaming RPCs.

Protocol (JSON text frames):
- client → `{"type": "subscribe", "id": "s1", "method": "coder.ops.v1.OpsService/Ticks",
  "request": {...}}` and `{"type": "unsubscribe", "id": "s1"}`;
- server → `{"type": "message", "id": "s1", "data": {...}}`, `{"type": "error", "id": "s1",
  "error": <error body>}`, `{"type": "complete", "id": "s1"}` (after the stream ends or an
  unsubscribe). Unary RPCs may be subscribed too: one message, then complete.

Authentication: the bearer token comes from the `Authorization` header or the `access_token`
query parameter (browsers cannot set headers on a WebSocket). With a JWKS configured it is
verified on connect, so a bad token is refused at once rather than per subscription; every
subscription passes it on to its RPC, whose access interceptor checks the permission. Without
a JWKS only the presence of a token is checked at connect and the RPCs verify it. The
connection closes when the token expires.

Close codes: 1000 normal, 4401 unauthenticated (no token, a refused one, or expired),
4400 a frame that is not a valid message (not JSON, unknown type, missing or duplicate id),
1013 "try again later" when the client reads too slowly.

Backpressure: frames go through one bounded queue per connection (`ws_queue_size`). A
subscription waits while the queue is full, which stops it reading its gRPC stream, so HTTP/2
flow control slows the service down too; if the queue stays full for `ws_send_timeout_seconds`
the connection is closed with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import grpc
from google.rpc import code_pb2
from starlette.websockets import WebSocket, WebSocketDisconnect

from edge.bodies import strict_json
from edge.errors import EdgeRefusal, edge_status, http_error, rich_status
from edge.settings import EdgeSettings
from edge.transcoding import Calls, RouteTable, parse_into, render
from services.kit import DomainError, TokenVerifier, new_id

NORMAL = 1000
TRY_AGAIN_LATER = 1013
BAD_MESSAGE = 4400
UNAUTHENTICATED = 4401


def _token(socket: WebSocket) -> str:
    header = socket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return socket.query_params.get("access_token", "")


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class WebSocketBridge:
    """Accepts `/ws` connections and serves each with a `_Connection`."""

    def __init__(
        self, settings: EdgeSettings, table: RouteTable, verifier: TokenVerifier | None
    ) -> None:
        self._settings = settings
        self._table = table
        self._verifier = verifier
        self.calls: Calls | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def serve(self, socket: WebSocket) -> None:
        await socket.accept()
        token = _token(socket)
        if not token:
            await socket.close(UNAUTHENTICATED, "a bearer token is required")
            return
        expires_at = 0.0
        if self._verifier is not None:
            try:
                principal = await self._verifier.verify(token)
            except DomainError as error:
                await socket.close(UNAUTHENTICATED, error.message[:120])
                return
            expires_at = principal.expires_at
        assert self.calls is not None, "the bridge is bound to channels in the app's lifespan"
        connection = _Connection(socket, self._settings, self._table, self.calls, token)
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await connection.run(expires_at)
        finally:
            self._connections.discard(task)

    async def close(self) -> None:
        for task in list(self._connections):
            task.cancel()


class _Connection:
    def __init__(
        self,
        socket: WebSocket,
        settings: EdgeSettings,
        table: RouteTable,
        calls: Calls,
        token: str,
    ) -> None:
        self._socket = socket
        self._settings = settings
        self._table = table
        self._calls = calls
        self._metadata = [("authorization", f"Bearer {token}")]
        for name in ("traceparent", "tracestate"):
            if name in socket.headers:
                self._metadata.append((name, socket.headers[name]))
        self._queue: asyncio.Queue[str] = asyncio.Queue(settings.ws_queue_size)
        self._subscriptions: dict[str, asyncio.Task[None]] = {}
        self._closing: asyncio.Future[_Close] = asyncio.get_running_loop().create_future()

    async def run(self, expires_at: float) -> None:
        workers: list[asyncio.Future[Any]] = [
            asyncio.create_task(self._read()),
            asyncio.create_task(self._write()),
            self._closing,
        ]
        if expires_at:
            workers.append(asyncio.create_task(self._expire(expires_at)))
        try:
            await asyncio.wait(workers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*workers, *self._subscriptions.values()]:
                task.cancel()
            for task in [*workers, *self._subscriptions.values()]:
                with contextlib.suppress(BaseException):
                    await task
        if self._closing.done() and not self._closing.cancelled():
            close = self._closing.result()
            with contextlib.suppress(Exception):
                await self._socket.close(close.code, close.reason)

    def _close(self, code: int, reason: str) -> None:
        if not self._closing.done():
            self._closing.set_result(_Close(code, reason))

    async def _expire(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        self._close(UNAUTHENTICATED, "the access token expired")

    async def _write(self) -> None:
        while True:
            frame = await self._queue.get()
            await self._socket.send_text(frame)

    async def _send(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
        try:
            await asyncio.wait_for(self._queue.put(text), self._settings.ws_send_timeout_seconds)
        except TimeoutError:
            self._close(TRY_AGAIN_LATER, "the client reads too slowly")
            raise

    async def _read(self) -> None:
        try:
            while True:
                text = await self._socket.receive_text()
                self._handle(text)
        except WebSocketDisconnect:
            return
        except _Close as close:
            self._close(close.code, close.reason)
        except (KeyError, RuntimeError):
            # A binary frame (receive_text finds no "text"), or a receive after the close.
            self._close(BAD_MESSAGE, "frames must be JSON text")

    def _handle(self, text: str) -> None:
        try:
            frame = strict_json(
                text.encode("utf-8", "surrogatepass"), self._settings.json_depth_limit
            )
        except EdgeRefusal as refused:
            raise _Close(BAD_MESSAGE, f"a frame is not JSON: {refused.status.message}") from None
        if not isinstance(frame, dict):
            raise _Close(BAD_MESSAGE, "a frame must be a JSON object")
        kind, sid = frame.get("type"), frame.get("id")
        if not isinstance(sid, str) or not sid or len(sid) > 128:
            raise _Close(BAD_MESSAGE, "a frame needs an id (a string of 1 to 128 characters)")
        if kind == "subscribe":
            if sid in self._subscriptions:
                raise _Close(BAD_MESSAGE, f"subscription {sid} already exists")
            method, request = frame.get("method"), frame.get("request", {})
            if not isinstance(method, str) or not isinstance(request, dict):
                raise _Close(BAD_MESSAGE, "subscribe needs a method and a request object")
            self._subscriptions[sid] = asyncio.create_task(self._subscribe(sid, method, request))
        elif kind == "unsubscribe":
            task = self._subscriptions.pop(sid, None)
            if task is not None:
                task.cancel()
                self._queue_complete(sid, task)
        else:
            raise _Close(BAD_MESSAGE, f"unknown frame type {kind!r}")

    def _queue_complete(self, sid: str, task: asyncio.Task[None]) -> None:
        async def complete() -> None:
            with contextlib.suppress(BaseException):
                await task
            await self._send({"type": "complete", "id": sid})

        asyncio.create_task(complete())  # noqa: RUF006 - ends with the connection's queue

    def _error(self, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"type": "error", "id": sid, "error": body}

    async def _subscribe(self, sid: str, name: str, document: dict[str, Any]) -> None:
        request_id = new_id()
        try:
            method = self._table.methods.get(name.lstrip("/"))
            if method is None:
                raise EdgeRefusal(edge_status(code_pb2.NOT_FOUND, f"no RPC {name}", "NO_SUCH_RPC"))
            request = self._table.bindings[method.full_name].request_class()
            parse_into(document, request)
            metadata = (*self._metadata, ("x-request-id", request_id))
            if method.server_streaming:
                call = self._calls.stream(method.full_name)(
                    request, metadata=metadata, timeout=self._settings.stream_deadline_seconds
                )
                try:
                    async for message in call:
                        await self._send({"type": "message", "id": sid, "data": render(message)})
                finally:
                    call.cancel()
            else:
                reply = await self._calls.unary(method.full_name)(
                    request, metadata=metadata, timeout=self._settings.deadline_seconds
                )
                await self._send({"type": "message", "id": sid, "data": render(reply)})
        except EdgeRefusal as refusal:
            await self._send(self._error(sid, refusal.to_http(request_id).body))
        except grpc.aio.AioRpcError as error:
            await self._send(self._error(sid, http_error(rich_status(error), request_id).body))
        else:
            await self._send({"type": "complete", "id": sid})
        finally:
            if self._subscriptions.get(sid) is asyncio.current_task():
                del self._subscriptions[sid]
