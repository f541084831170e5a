"""The edge's FastAPI application: sign-in (`/auth`), `/.well-known`, REST→gRPC routes with
rate limits, SSE/NDJSON streams, the WebSocket bridge and the OpenAPI document, wired to
resources opened in the lifespan."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import uvicorn
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from google.rpc import code_pb2
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from edge.auth import SignIn, auth_router, request_id
from edge.channels import ChannelSource, edge_channels
from edge.cors import CorsPolicy, parse_origins
from edge.descriptors import load_descriptor_set
from edge.errors import EdgeRefusal, edge_status, http_error, rich_status
from edge.gateway import Gateway, error_response
from edge.oidc import OidcFlows, oidc_router
from edge.openapi import build_document
from edge.ratelimit import ApiRateLimit, RateLimits
from edge.settings import EdgeSettings
from edge.token import token_router
from edge.transcoding import Calls, RouteTable
from edge.websocket import WebSocketBridge
from edge.wellknown import Jwks, wellknown_router
from services.kit import KeySource, TokenVerifier, get_logger
from services.kit.cache import open_cache


def token_verifier(settings: EdgeSettings) -> TokenVerifier | None:
    """The verifier of WebSocket tokens the settings describe, or None without a JWKS."""
    if settings.jwks_url:
        keys = KeySource(url=settings.jwks_url)
    elif settings.jwks_file is not None:
        keys = KeySource(path=settings.jwks_file)
    else:
        return None
    return TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def create_app(
    settings: EdgeSettings,
    channels: ChannelSource | None = None,
    *,
    verifier: TokenVerifier | None = None,
) -> FastAPI:
    """The edge app. `channels` reach the services (default: from the settings, opened in the
    lifespan and closed after); `verifier` checks tokens for WebSocket connects and the API's
    per-user limits (default: the settings' JWKS, else identity's GetJwks in process)."""
    files = load_descriptor_set(settings.descriptor_set)
    table = RouteTable(files)
    document = build_document(files, table, server_url=settings.server_url)
    gateway = Gateway(settings, table)
    limits = RateLimits(settings)
    sign_in = SignIn(settings, limits)
    jwks = Jwks(sign_in)
    flows = OidcFlows(sign_in)
    verifier = (
        verifier
        or token_verifier(settings)
        or TokenVerifier(
            KeySource.in_process(jwks.document),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
    )
    bridge = WebSocketBridge(settings, table, verifier)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        source = channels or edge_channels(settings)
        calls = Calls(table, source.channel, settings.probe_domain)
        gateway.calls = calls
        bridge.calls = calls
        sign_in.identity = IdentityServiceStub(source.channel("identity"))
        backends = await open_cache(settings.cache_url, prefix="coder:edge:")
        limits.limiter = backends.limiter
        flows.cache = backends.cache
        flows.http = httpx.AsyncClient(timeout=settings.deadline_seconds)
        try:
            yield
        finally:
            await bridge.close()
            await flows.http.aclose()
            await backends.close()
            if channels is None:
                await source.close()

    app = FastAPI(
        title=document["info"]["title"],
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    app.include_router(auth_router(sign_in))
    app.include_router(oidc_router(flows))
    app.include_router(token_router(sign_in))
    app.include_router(wellknown_router(jwks, sign_in, token_endpoint=True))
    add_error_handlers(app)
    document = with_edge_routes(document, app)
    app.state.openapi_document = document

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(document)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Coder API")

    @app.websocket("/ws")
    async def websocket(socket: WebSocket) -> None:
        await bridge.serve(socket)

    # Every path no route above claims is the gateway's: REST routes, and the 404/405 error
    # bodies for the rest (a Mount would miss paths with a newline, which its regex skips).
    api = ApiRateLimit(gateway, limits, verifier)
    app.router.default = api
    # `/api/` is only ever the gateway's: hand it over before FastAPI scans its own routes
    # (that scan was the largest single cost of a REST call).
    app.add_middleware(FrontDoor, api=api)
    # Outermost, so every answer (errors and 404s included) carries the CORS headers a page
    # needs to read it, and preflights never reach the gateway.
    app.add_middleware(
        CorsPolicy,
        origins=parse_origins(settings.cors_origins),
        max_age_seconds=settings.cors_max_age_seconds,
    )
    return app


_access_log = get_logger("coder.edge.access")
_tracer = trace.get_tracer("coder.edge")


class FrontDoor:
    """ASGI middleware in front of everything: sends `/api/` HTTP requests straight to the
    gateway, opens the request's server span (continuing the caller's W3C trace context; calls
    to services become its children), and writes one structured access-log line per HTTP
    request (uvicorn's own plain-text access log is turned off)."""

    def __init__(self, app: ASGIApp, api: ASGIApp) -> None:
        self._app = app
        self._api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        request_id = ""

        async def sending(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        request_id = value.decode("latin-1")
            await send(message)

        target = self._api if scope["path"].startswith("/api/") else self._app
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        span = _tracer.start_span(
            f"HTTP {scope['method']}",
            context=propagate.extract(headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "url.path": scope["path"]},
        )
        try:
            with trace.use_span(span, end_on_exit=True):
                try:
                    await target(scope, receive, sending)
                finally:
                    span.set_attribute("http.response.status_code", status)
        finally:
            _access_log.info(
                "http",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 3),
                request_id=request_id,
                client=(scope.get("client") or ("", 0))[0],
            )


def add_error_handlers(app: FastAPI) -> None:
    """The edge's own routes answer errors with the same body as the gateway."""

    def respond(request: Request, refusal: EdgeRefusal) -> Response:
        found = request_id(request)
        return error_response(refusal.to_http(found), found)

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, EdgeRefusal)
        return respond(request, error)

    async def failed(request: Request, error: Exception) -> Response:
        assert isinstance(error, grpc.aio.AioRpcError)
        found = request_id(request)
        return error_response(http_error(rich_status(error), found), found)

    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        violations = [
            (".".join(str(part) for part in problem["loc"][1:]), str(problem["msg"]))
            for problem in error.errors()
        ]
        status = edge_status(
            code_pb2.INVALID_ARGUMENT,
            "the request is not valid",
            "INVALID_REQUEST",
            violations=violations,
        )
        return respond(request, EdgeRefusal(status))

    app.add_exception_handler(EdgeRefusal, refused)
    app.add_exception_handler(grpc.aio.AioRpcError, failed)
    app.add_exception_handler(RequestValidationError, invalid)


def with_edge_routes(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """The generated document plus the edge's own routes (`/auth`, `/.well-known`), whose
    errors use the shared error body."""
    own = get_openapi(title="edge", version="v1", openapi_version="3.1.0", routes=app.routes)
    error = {"$ref": "#/components/responses/Error"}
    for item in own["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            responses.pop("422", None)
            responses["4XX"] = error
            responses["5XX"] = error
    schemas = {
        name: schema
        for name, schema in own.get("components", {}).get("schemas", {}).items()
        if name not in ("HTTPValidationError", "ValidationError")
    }
    merged = {**document, "paths": {**document["paths"], **own["paths"]}}
    merged["components"] = {
        **document["components"],
        "schemas": {**document["components"]["schemas"], **schemas},
    }
    merged["tags"] = [
        *document["tags"],
        {"name": "auth", "description": "Sign-in, sessions and tokens (edge/auth.py)."},
        {"name": "well-known", "description": "Token issuer metadata and keys."},
    ]
    return merged


def run(settings: EdgeSettings | None = None, **uvicorn_options: Any) -> None:
    """Serve the edge with uvicorn until interrupted (the `coder edge` command)."""
    settings = settings or EdgeSettings()
    app = create_app(settings)
    uvicorn_options.setdefault("access_log", False)  # FrontDoor writes structured lines
    uvicorn.run(app, host=settings.host, port=settings.port, **uvicorn_options)
