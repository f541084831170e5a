"""The ASGI app that serves every `google.api.http` route: unary calls as JSON, server
streams as SSE, NDJSON or a JSON array (edge.streaming)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

import grpc
from google.rpc import code_pb2
from starlette.responses import Response, StreamingResponse

from edge.bodies import JSON_KEY
from edge.errors import EdgeRefusal, HttpError, edge_status, http_error, rich_status
from edge.metrics import ROUTE_KEY
from edge.settings import EdgeSettings
from edge.streaming import Frames, Stream, stream_format
from edge.transcoding import Calls, RouteTable, call_options, dumps, render
from services.kit import new_id

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

JSON_TYPE = "application/json"
_MAX_REQUEST_ID = 128


def request_id_of(headers: dict[str, str]) -> str:
    """The caller's `x-request-id` when it is sane, else a new one."""
    given = headers.get("x-request-id", "")
    if 0 < len(given) <= _MAX_REQUEST_ID and given.isprintable():
        return given
    return new_id()


def scope_request_id(scope: Scope, headers: dict[str, str]) -> str:
    """The request's id as the front door chose it (`edge.frontdoor`), else from `headers`."""
    found = scope.get("state", {}).get("request_id")
    return found if isinstance(found, str) else request_id_of(headers)


def error_response(error: HttpError, request_id: str) -> Response:
    headers = {**error.headers, "x-request-id": request_id}
    return Response(error.encoded(), error.status, headers, media_type=JSON_TYPE)


class Gateway:
    """REST → gRPC for every route of the table, on the calls bound at start-up."""

    def __init__(self, settings: EdgeSettings, table: RouteTable) -> None:
        self._settings = settings
        self._table = table
        self.calls: Calls | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "no such endpoint"})
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = scope_request_id(scope, headers)
        try:
            response = await self._respond(scope, headers, receive, request_id)
        except EdgeRefusal as refusal:
            response = error_response(refusal.to_http(request_id), request_id)
        except grpc.aio.AioRpcError as error:
            response = error_response(http_error(rich_status(error), request_id), request_id)
        await response(scope, receive, send)

    async def _respond(
        self, scope: Scope, headers: dict[str, str], receive: Receive, request_id: str
    ) -> Response:
        assert self.calls is not None, "the gateway is bound to channels in the app's lifespan"
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        match = self._table.router.match(scope["method"], path)
        route = match.route
        scope[ROUTE_KEY] = route.template.source
        if not route.method.public and not headers.get("authorization"):
            # As the service's access check would, before the request is looked at: an
            # anonymous caller learns nothing about what a valid request looks like.
            raise EdgeRefusal(
                edge_status(code_pb2.UNAUTHENTICATED, "a bearer token is required", "TOKEN_MISSING")
            )
        # The front door read and parsed the body (edge.frontdoor, edge.bodies).
        body = scope.get(JSON_KEY)
        method = route.method
        streaming = method.server_streaming
        request = route.binding.build(
            match.variables,
            scope.get("query_string", b"").decode("latin-1"),
            body if route.body else None,
            headers.get("last-event-id", "") if streaming else "",
        )
        deadline = (
            self._settings.stream_deadline_seconds if streaming else self._settings.deadline_seconds
        )
        options = call_options(headers, request_id, deadline)
        if streaming:
            return await self._stream(method.full_name, request, options, headers)
        reply = await self.calls.unary(method.full_name)(
            request, metadata=options.metadata, timeout=options.timeout
        )
        binding = route.binding
        document: Any = render(reply)
        if binding.response_key:
            document = document.get(binding.response_key)
        response_headers = {"x-request-id": request_id}
        status = 200
        if route.http_method == "post" and method.name.startswith("Create"):
            status = 201
            resource = getattr(reply, binding.resource_field).id if binding.resource_field else ""
            if resource:
                response_headers["location"] = f"{path.rstrip('/')}/{quote(resource, safe='')}"
        return Response(dumps(document), status, response_headers, media_type=JSON_TYPE)

    async def _stream(
        self, name: str, request: Any, options: Any, headers: dict[str, str]
    ) -> Response:
        assert self.calls is not None
        media_type = stream_format(headers.get("accept", ""))
        call = self.calls.stream(name)(request, metadata=options.metadata, timeout=options.timeout)
        stream = Stream(
            call,
            Frames(media_type, options.request_id),
            self._settings.heartbeat_seconds,
            budget=options.timeout,
        )
        try:
            await stream.start()
        except BaseException:
            stream.cancel()
            raise
        response_headers = {"x-request-id": options.request_id, "cache-control": "no-cache"}
        if media_type == "text/event-stream":
            response_headers["x-accel-buffering"] = "no"
        return StreamingResponse(stream.body(), 200, response_headers, media_type=media_type)
