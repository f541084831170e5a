"""The edge's FastAPI application: sign-in (`/auth`), `/.well-known`, REST→gRPC routes with
rate limits, SSE/NDJSON streams, the WebSocket bridge and the OpenAPI document, wired to
resources opened in the lifespan."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import uvicorn
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from google.rpc import code_pb2
from opentelemetry import trace
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException

from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from edge.auth import FOLLOW_UPS, SignIn, auth_router, request_id
from edge.channels import ChannelSource, edge_channels
from edge.cors import CorsPolicy, parse_origins
from edge.descriptors import load_descriptor_set
from edge.docs import docs_router
from edge.errors import EdgeRefusal, edge_status, http_error, rich_status
from edge.frontdoor import FrontDoor
from edge.gateway import Gateway, error_response
from edge.mcp import McpEndpoint
from edge.metrics import EdgeMetrics
from edge.oidc import OidcFlows, oidc_router
from edge.openapi import (
    ERROR_SCHEMA,
    FRONT_DOOR_REFUSALS,
    REFUSALS,
    REQUEST_ID_HEADER,
    SERVER_ERROR,
    build_document,
)
from edge.ratelimit import ApiRateLimit, RateLimits
from edge.server import server_config
from edge.settings import EdgeSettings
from edge.token import token_router
from edge.transcoding import Calls, RouteTable
from edge.websocket import WebSocketBridge
from edge.wellknown import Jwks, wellknown_router
from services.kit import KeySource, Telemetry, TokenVerifier, process_registry
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
    tracer_provider: trace.TracerProvider | None = None,
    metrics_registry: CollectorRegistry | None = None,
) -> FastAPI:
    """The edge app. `channels` reach the services (default: from the settings, opened in the
    lifespan and closed after); `verifier` checks tokens for WebSocket connects and the API's
    per-user limits (default: the settings' JWKS, else identity's GetJwks in process).
    Request spans go to `tracer_provider` (default: the global one); the RED metrics, served on
    `/metrics`, to `metrics_registry` (default: a new registry with the process collectors)."""
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
    mcp = McpEndpoint(settings, verifier)
    metrics = EdgeMetrics(metrics_registry)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        source = channels or edge_channels(settings)
        calls = Calls(table, source.channel, settings.probe_domain)
        gateway.calls = calls
        bridge.calls = calls
        mcp.channel = source.channel
        sign_in.identity = IdentityServiceStub(source.channel("identity"))
        backends = await open_cache(settings.cache_url, prefix="coder:edge:")
        limits.limiter = backends.limiter
        flows.cache = backends.cache
        flows.http = httpx.AsyncClient(timeout=settings.deadline_seconds)
        try:
            async with mcp.http.running():
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
    app.include_router(mcp.router())
    app.include_router(docs_router())
    app.router.routes.append(mcp.route())
    add_error_handlers(app)
    document = with_edge_routes(document, app)
    app.state.openapi_document = document
    app.state.metrics = metrics

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(document)

    @app.websocket("/ws")
    async def websocket(socket: WebSocket) -> None:
        await bridge.serve(socket)

    # Every path no route above claims is the gateway's: REST routes, and the 404/405 error
    # bodies for the rest (a Mount would miss paths with a newline, which its regex skips).
    api = ApiRateLimit(gateway, limits, verifier)
    app.router.default = api
    # In front of every route: caller, limits, the one body reader, security headers; and
    # `/api/` handed to the gateway before FastAPI scans its own routes (edge.frontdoor).
    app.add_middleware(
        FrontDoor,
        api=api,
        tracer=trace.get_tracer("coder.edge", tracer_provider=tracer_provider),
        metrics=metrics,
        settings=settings,
    )
    # Outermost, so every answer (errors and 404s included) carries the CORS headers a page
    # needs to read it, and preflights never reach the gateway.
    app.add_middleware(
        CorsPolicy,
        origins=parse_origins(settings.cors_origins),
        max_age_seconds=settings.cors_max_age_seconds,
    )
    return app


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

    async def http_exception(request: Request, error: Exception) -> Response:
        # Starlette's own refusals (405 on an edge route, 404 from a mount) in the error body.
        assert isinstance(error, StarletteHTTPException)
        code, reason = _STARLETTE_STATUS.get(
            error.status_code, (code_pb2.INVALID_ARGUMENT, "INVALID_REQUEST")
        )
        status = edge_status(code, str(error.detail), reason)
        return respond(request, EdgeRefusal(status, error.status_code, dict(error.headers or {})))

    app.add_exception_handler(EdgeRefusal, refused)
    app.add_exception_handler(grpc.aio.AioRpcError, failed)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_exception)


_STARLETTE_STATUS: dict[int, tuple[int, str]] = {
    401: (code_pb2.UNAUTHENTICATED, "UNAUTHENTICATED"),
    403: (code_pb2.PERMISSION_DENIED, "PERMISSION_DENIED"),
    404: (code_pb2.NOT_FOUND, "ROUTE_NOT_FOUND"),
    405: (code_pb2.UNIMPLEMENTED, "METHOD_NOT_ALLOWED"),
    413: (code_pb2.OUT_OF_RANGE, "BODY_TOO_LARGE"),
}


EDGE_REFUSALS: dict[str, tuple[str, ...]] = {
    "auth": ("401", "403", "404", "409", "429"),
    "well-known": (),
}
"""The refusals of the edge's own routes by tag, beyond the front door's: sign-in answers what
identity's sign-in RPCs refuse (bad credentials 401, CSRF or lockout 403, an unknown provider
or invitation 404, a taken email 409) and its rate limits (429); the issuer's metadata nothing
of its own."""


def with_edge_routes(document: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """The generated document plus the edge's own routes (`/auth`, `/.well-known`), whose
    errors use the shared error body, and the links from API operations to them
    (`edge.auth.FOLLOW_UPS`)."""
    own = get_openapi(title="edge", version="v1", openapi_version="3.1.0", routes=app.routes)
    error = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
    for item in own["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            responses.pop("422", None)
            for status, response in responses.items():
                if status.startswith(("2", "3")):
                    response.setdefault("headers", {})["X-Request-Id"] = REQUEST_ID_HEADER
            codes = {*FRONT_DOOR_REFUSALS, *EDGE_REFUSALS[operation["tags"][0]]}
            for code in sorted(codes):
                declared = responses.get(code)
                if declared is None:
                    responses[code] = {"$ref": f"#/components/responses/{REFUSALS[code][0]}"}
                else:
                    # The route's own body (RFC 6749 at /auth/token), or the front door's.
                    content = declared["content"]["application/json"]
                    content["schema"] = {"anyOf": [content["schema"], error]}
            responses["5XX"] = {"$ref": f"#/components/responses/{SERVER_ERROR}"}
    schemas = {
        name: schema
        for name, schema in own.get("components", {}).get("schemas", {}).items()
        if name not in ("HTTPValidationError", "ValidationError")
    }
    paths = {**document["paths"], **own["paths"]}
    for producer, links in FOLLOW_UPS.items():
        for item in paths.values():
            for operation in item.values():
                if operation["operationId"] == producer:
                    answer = next(v for k, v in operation["responses"].items() if k[0] == "2")
                    answer["links"] = {**answer.get("links", {}), **links}
    merged = {**document, "paths": paths}
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


def run(
    settings: EdgeSettings | None = None,
    *,
    telemetry: Telemetry | None = None,
    **uvicorn_options: Any,
) -> None:
    """Serve the edge with uvicorn until interrupted (the `coder edge` command). `telemetry`
    (owned by `run` from then on) receives the request spans and pushes the metrics when
    configured to; it is flushed and shut down once uvicorn has stopped."""
    settings = settings or EdgeSettings()
    registry = process_registry()
    app = create_app(
        settings,
        tracer_provider=telemetry.tracer_provider if telemetry is not None else None,
        metrics_registry=registry,
    )
    # uvicorn drains on SIGTERM, restores the handler it found and raises the signal again; with
    # the default handler the process would die there, before the telemetry is flushed.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        if telemetry is not None:
            telemetry.push_metrics(registry)
        uvicorn.Server(server_config(app, settings, **uvicorn_options)).run()
    finally:
        if telemetry is not None:
            telemetry.shutdown()


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)
