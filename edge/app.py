"""The edge's FastAPI application: REST→gRPC routes, SSE/NDJSON streams, the WebSocket
bridge and the OpenAPI document, wired to resources opened in the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, WebSocket
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from edge.channels import ChannelSource, EdgeChannels
from edge.descriptors import load_descriptor_set
from edge.gateway import Gateway
from edge.openapi import build_document
from edge.settings import EdgeSettings
from edge.transcoding import Calls, RouteTable
from edge.websocket import WebSocketBridge
from services.kit import KeySource, TokenVerifier


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
    lifespan and closed after); `verifier` checks WebSocket tokens on connect (default: from
    the settings' JWKS)."""
    files = load_descriptor_set(settings.descriptor_set)
    table = RouteTable(files)
    document = build_document(files, table, server_url=settings.server_url)
    gateway = Gateway(settings, table)
    bridge = WebSocketBridge(settings, table, verifier or token_verifier(settings))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        source = channels or EdgeChannels(settings)
        calls = Calls(table, source.channel, settings.probe_domain)
        gateway.calls = calls
        bridge.calls = calls
        try:
            yield
        finally:
            await bridge.close()
            if channels is None:
                await source.close()

    app = FastAPI(
        title=document["info"]["title"],
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

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
    app.router.default = gateway
    return app


def run(settings: EdgeSettings | None = None, **uvicorn_options: Any) -> None:
    """Serve the edge with uvicorn until interrupted (the `coder edge` command)."""
    settings = settings or EdgeSettings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, **uvicorn_options)
