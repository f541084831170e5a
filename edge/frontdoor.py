"""The edge's front door: one ASGI layer in front of every HTTP route, so what it guarantees
holds for `/auth/*`, `/auth/token`, `/api/*` and any route added later without that route doing
anything.

For each request, in order:
1. **Who is calling.** The client address and scheme from the socket, or from the forwarding
   headers of a trusted proxy (`edge.proxies`); `scope["client"]` and `scope["scheme"]` are
   rewritten, so the rate limits, the IP recorded on a session and the access log all see the
   same caller. The socket peer stays under `PEER_KEY`.
2. **Request id**: the caller's `x-request-id` when sane, else a new one; in
   `scope["state"]["request_id"]` for every handler, and on every response.
3. **Head limits**: header count, a header field's size, the Authorization header's size
   (431 `HEADERS_TOO_LARGE`). The HTTP protocol (`edge.server`) applies the same limits while
   parsing, so an oversized head is not even buffered; this check holds under any server.
4. **The body** (`edge.bodies`): read here and only here, bounded in size (413) and time (408),
   parsed once as strict JSON when it is JSON (400), then replayed to the route, the parsed
   document under `JSON_KEY`.
5. **Every answer** gets the security headers; anything a route raises becomes a 500 with the
   standard error body (never Starlette's plain-text one), logged with the request id.

Around all of it: the request's server span (continuing the caller's W3C trace context), the RED
metrics and one structured access-log line. `/metrics` answers scrapes, untraced and unlogged.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.rpc import code_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from edge.bodies import JSON_KEY, NO_JSON, declares_body, is_json, read_body, strict_json
from edge.errors import EdgeRefusal, bad_request, edge_status
from edge.gateway import request_id_of
from edge.metrics import UNMATCHED, EdgeMetrics, method_of, route_of
from edge.proxies import TrustedProxies, parse_networks
from edge.settings import EdgeSettings
from services.kit import get_logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = Sequence[tuple[bytes, bytes]]

PEER_KEY = "coder.peer"
"""Scope key of the socket peer `(host, port)` before proxy resolution."""

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""What a JSON API response may load or be framed by: nothing."""
TRACESTATE_LIMIT = 512
"""W3C Trace Context: a longer `tracestate` may be dropped; it travels on as gRPC metadata."""

_log = get_logger("coder.edge")
_access_log = get_logger("coder.edge.access")


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The limits of a request's head (request line and header fields)."""

    count: int
    total_bytes: int
    field_bytes: int
    authorization_bytes: int
    url_bytes: int

    @classmethod
    def of(cls, settings: EdgeSettings) -> HeadLimits:
        return cls(
            count=settings.header_count_limit,
            total_bytes=settings.header_bytes_limit,
            field_bytes=settings.header_field_bytes_limit,
            authorization_bytes=settings.authorization_bytes_limit,
            url_bytes=settings.url_bytes_limit,
        )

    def refusal(self, headers: Headers, target_bytes: int) -> EdgeRefusal | None:
        """Why a head with these fields and a request target this long is refused, or None."""
        if target_bytes > self.url_bytes:
            return head_refusal(
                414, f"the request target is longer than {self.url_bytes} bytes", "URI_TOO_LONG"
            )
        if len(headers) > self.count:
            return head_refusal(431, f"more than {self.count} header fields")
        total = target_bytes
        for name, value in headers:
            size = len(name) + len(value)
            total += size + 4
            if name == b"authorization" and len(value) > self.authorization_bytes:
                return head_refusal(
                    431, f"the Authorization header is larger than {self.authorization_bytes} bytes"
                )
            if size > self.field_bytes:
                return head_refusal(431, f"a header field is larger than {self.field_bytes} bytes")
        if total > self.total_bytes:
            return head_refusal(431, f"the request head is larger than {self.total_bytes} bytes")
        return None


def head_refusal(status: int, message: str, reason: str = "HEADERS_TOO_LARGE") -> EdgeRefusal:
    return EdgeRefusal(
        edge_status(code_pb2.OUT_OF_RANGE, message, reason),
        http_status=status,
        headers={"connection": "close"},
    )


class SecurityHeaders:
    """The headers every edge response carries (unless the route set its own value)."""

    def __init__(self, hsts_seconds: int) -> None:
        self._always: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"content-security-policy", API_CSP.encode()),
        ]
        self._hsts = (
            [(b"strict-transport-security", f"max-age={hsts_seconds}; includeSubDomains".encode())]
            if hsts_seconds > 0
            else []
        )

    def for_scheme(self, scheme: str) -> list[tuple[bytes, bytes]]:
        """The headers of a response to a request made over `scheme`: HSTS only over https
        (a browser ignores it over http, and it must not pin a plain-http dev edge)."""
        return self._always + self._hsts if scheme in ("https", "wss") else self._always

    @staticmethod
    def added(headers: Headers, extra: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        present = {name.lower() for name, _ in headers}
        return [*headers, *((name, value) for name, value in extra if name not in present)]


def error_message(
    refusal: EdgeRefusal, request_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of a refusal, as the front door and the protocol send it."""
    error = refusal.to_http(request_id)
    body = error.encoded()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *((name.encode(), value.encode()) for name, value in error.headers.items()),
    ]
    return error.status, headers, body


def internal_error() -> EdgeRefusal:
    return EdgeRefusal(
        edge_status(code_pb2.INTERNAL, "internal error; quote the request id", "INTERNAL")
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the route the body already read, then the connection's own
    messages (the disconnect a streaming response waits for)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class FrontDoor:
    """ASGI middleware in front of everything (see the module docstring). `/api/` requests go
    straight to `api` (the gateway): FastAPI's route scan was the largest single cost of a
    REST call."""

    def __init__(
        self,
        app: ASGIApp,
        api: ASGIApp,
        tracer: trace.Tracer,
        metrics: EdgeMetrics,
        settings: EdgeSettings,
    ) -> None:
        self._app = app
        self._api = api
        self._tracer = tracer
        self._metrics = metrics
        self._settings = settings
        self.proxies = TrustedProxies(
            parse_networks(settings.trusted_proxies),
            settings.trusted_proxy_hops,
            settings.forwarded_header,
        )
        self.limits = HeadLimits.of(settings)
        self.security = SecurityHeaders(settings.hsts_seconds)

    def _resolve(self, scope: Scope) -> None:
        peer = scope.get("client") or ("", 0)
        scope[PEER_KEY] = peer
        caller = self.proxies.resolve(str(peer[0]), scope.get("scheme", "http"), scope["headers"])
        scope["client"] = (caller.address, peer[1] if caller.address == peer[0] else 0)
        scope["scheme"] = caller.scheme

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self._resolve(scope)
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        self._resolve(scope)
        extra = self.security.for_scheme(scope["scheme"])
        started = time.perf_counter()
        status = 0
        request_id = request_id_of(
            {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"x-request-id"
            }
        )
        scope.setdefault("state", {})["request_id"] = request_id

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = self.security.added(headers, extra)
            await send(message)

        if scope["path"] == "/metrics":
            await self._metrics.respond(scope, receive, sending)
            return
        target = self._api if scope["path"].startswith("/api/") else self._app
        span = self._tracer.start_span(
            f"HTTP {scope['method']}",
            context=propagate.extract(self._trace_headers(scope["headers"])),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        )
        route = UNMATCHED
        try:
            with trace.use_span(span, end_on_exit=True):
                try:
                    await self._handle(scope, receive, sending, target, request_id)
                finally:
                    # The route is known once the gateway or FastAPI matched it.
                    route = route_of(scope)
                    span.set_attribute("http.response.status_code", status)
                    if route != UNMATCHED:
                        span.set_attribute("http.route", route)
                        span.update_name(f"{scope['method']} {route}")
                    if status >= 500 or status == 0:
                        span.set_status(Status(StatusCode.ERROR))
        finally:
            self._metrics.record(method_of(scope), route, status, time.perf_counter() - started)
            peer = scope[PEER_KEY][0]
            client = scope["client"][0]
            _access_log.info(
                "http",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 3),
                request_id=request_id,
                client=client,
                **({"peer": peer} if peer != client else {}),
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, target: ASGIApp, request_id: str
    ) -> None:
        response_started = False

        async def sending(message: Message) -> None:
            nonlocal response_started
            response_started = True
            await send(message)

        try:
            receive = await self._admit(scope, receive)
            await target(scope, receive, sending)
        except EdgeRefusal as refused:
            await self._refuse(refused, request_id, send)
        except Exception as error:
            _log.error(
                "http.unhandled",
                method=scope["method"],
                path=scope["path"],
                request_id=request_id,
                exc_info=error,
            )
            if not response_started:
                await self._refuse(internal_error(), request_id, send)

    async def _admit(self, scope: Scope, receive: Receive) -> Receive:
        """Check the head and read the body; the receive the route gets."""
        target_bytes = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        refused = self.limits.refusal(scope["headers"], target_bytes)
        if refused is not None:
            raise refused
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"content-length", b"transfer-encoding", b"content-type")
        }
        if not declares_body(headers):
            scope[JSON_KEY] = None
            return receive
        settings = self._settings
        body = await read_body(
            headers, receive, settings.body_limit_bytes, settings.body_timeout_seconds
        )
        if not body.strip():
            scope[JSON_KEY] = None
        elif scope["path"].startswith("/api/"):
            document = strict_json(body, settings.json_depth_limit)
            if document is None:
                # No request message is JSON null; "no body" is an empty body.
                raise bad_request("the body is null; send a JSON object", reason="MALFORMED_JSON")
            scope[JSON_KEY] = document
        elif is_json(headers.get("content-type", "")):
            scope[JSON_KEY] = strict_json(body, settings.json_depth_limit)
        else:
            scope[JSON_KEY] = NO_JSON
        return _replay(body, receive)

    async def _refuse(self, refused: EdgeRefusal, request_id: str, send: Send) -> None:
        status, headers, body = error_message(refused, request_id)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _trace_headers(headers: Headers) -> dict[str, str]:
        """The headers the trace context is extracted from, without an oversized
        `tracestate` (it would travel on to the services as metadata)."""
        return {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in headers
            if name != b"tracestate" or len(value) <= TRACESTATE_LIMIT
        }
