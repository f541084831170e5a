"""Cross-origin access to the edge for browser apps on other origins (the web UI on :3000 calls
the API on :3001 with its bearer token).

Only the origins listed in `CODER_EDGE_CORS_ORIGINS` get CORS headers; any other origin gets
none, so the browser keeps the answer from its page, and its preflight is refused with 403
(`CORS_ORIGIN_REFUSED`). Credentials (cookies) are allowed only on the `/auth` routes that read
or set the refresh cookie: the API authenticates with the `Authorization` header, so a page
calling it never needs its cookies sent. A preflight answer is cached by the browser for
`cors_max_age_seconds`. The WebSocket is not subject to CORS: it authenticates by token, never
by cookie.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from google.rpc import code_pb2
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.errors import EdgeRefusal, edge_status
from edge.gateway import error_response, request_id_of

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "last-event-id",
    "traceparent",
    "tracestate",
    "x-csrf-token",
    "x-request-id",
    "x-request-timeout",
)
EXPOSED_HEADERS = ("location", "ratelimit", "ratelimit-policy", "retry-after", "x-request-id")

CREDENTIALED_PATHS = frozenset(
    {
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/switch-organization",
        "/auth/invitations/accept",
        "/auth/logout",
    }
)
"""The routes that set or spend the refresh cookie (`/auth/token` takes client credentials in
the request, and the OIDC routes are page navigations, not fetches)."""


def parse_origins(text: str) -> frozenset[str]:
    """The origins of a comma-separated list (`http://127.0.0.1:3000,https://app.example`),
    each `scheme://host[:port]` without a path; ValueError names the first bad one."""
    origins = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        parts = urlsplit(item)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
        ):
            raise ValueError(f"CORS origin {item!r}: expected scheme://host[:port]")
        if parts.query or parts.fragment or parts.username:
            raise ValueError(f"CORS origin {item!r}: expected scheme://host[:port]")
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins)


class CorsPolicy:
    """ASGI middleware answering preflights and adding CORS headers for allowed origins."""

    def __init__(self, app: ASGIApp, *, origins: Iterable[str], max_age_seconds: int) -> None:
        self._app = app
        self._origins = frozenset(origins)
        self._max_age = str(max_age_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:  # not a cross-origin browser request
            await self._app(scope, receive, send)
            return
        allowed = origin.lower() in self._origins
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if preflight:
            await self._preflight(scope, receive, send, origin, allowed)
            return
        if not allowed:
            await self._app(scope, receive, send)
            return
        credentials = scope["path"] in CREDENTIALED_PATHS

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                self._allow(response_headers, origin, credentials)
                response_headers["access-control-expose-headers"] = ", ".join(EXPOSED_HEADERS)
            await send(message)

        await self._app(scope, receive, with_cors)

    async def _preflight(
        self, scope: Scope, receive: Receive, send: Send, origin: str, allowed: bool
    ) -> None:
        headers = Headers(scope=scope)
        request_id = request_id_of({k.lower(): v for k, v in headers.items()})
        if not allowed:
            refusal = EdgeRefusal(
                edge_status(
                    code_pb2.PERMISSION_DENIED,
                    f"origin {origin} may not call this API from a browser",
                    "CORS_ORIGIN_REFUSED",
                )
            )
            await error_response(refusal.to_http(request_id), request_id)(scope, receive, send)
            return
        response = Response(status_code=204, headers={"x-request-id": request_id})
        self._allow(response.headers, origin, scope["path"] in CREDENTIALED_PATHS)
        response.headers["access-control-allow-methods"] = ", ".join(ALLOWED_METHODS)
        response.headers["access-control-allow-headers"] = ", ".join(ALLOWED_HEADERS)
        response.headers["access-control-max-age"] = self._max_age
        await response(scope, receive, send)

    @staticmethod
    def _allow(headers: MutableHeaders, origin: str, credentials: bool) -> None:
        headers["access-control-allow-origin"] = origin
        headers.add_vary_header("Origin")
        if credentials:
            headers["access-control-allow-credentials"] = "true"
