"""`/mcp`: the platform's MCP gateway (`services.mcp.protocol`) for MCP clients over
streamable HTTP, and its OAuth 2.0 protected-resource metadata (RFC 9728) at
`/.well-known/oauth-protected-resource[/mcp]`. The logic is the MCP service's; the edge
gives it its channels, its token verifier and its public URL."""

from __future__ import annotations

from typing import Any

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from edge.settings import EdgeSettings
from edge.wellknown import TAG, base_url
from services.kit import TokenVerifier
from services.mcp.protocol import (
    METADATA_PATH,
    Gateway,
    Scope,
    StreamableHttp,
    bearer_of,
    protected_resource_metadata,
)

PATH = "/mcp"


class McpEndpoint:
    """The `/mcp` route and its metadata; `channel` is set when the edge's channels open."""

    def __init__(self, settings: EdgeSettings, verifier: TokenVerifier) -> None:
        self._settings = settings
        self._verifier = verifier
        self.channel: Any = None
        gateway = Gateway(
            lambda domain: self._channel(domain),
            lambda ctx: bearer_of(ctx.request.headers) if ctx.request is not None else "",
            settings.deadline_seconds,
        )
        self.http = StreamableHttp(gateway, self._verified, self._base_url)

    def _channel(self, domain: str) -> grpc.aio.Channel:
        channel: grpc.aio.Channel = self.channel(domain)
        return channel

    async def _verified(self, token: str) -> bool:
        try:
            await self._verifier.verify(token)
        except Exception:
            return False
        return True

    def _base_url(self, scope: Scope) -> str:
        return base_url(Request(scope), self._settings.public_url)

    def route(self) -> Route:
        return Route(PATH, self.http, methods=["GET", "POST", "DELETE"], include_in_schema=False)

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/.well-known", tags=[TAG])

        async def metadata(request: Request) -> JSONResponse:
            document = protected_resource_metadata(
                base_url(request, self._settings.public_url), PATH
            )
            return JSONResponse(document, headers={"cache-control": "public, max-age=300"})

        router.add_api_route(
            METADATA_PATH.removeprefix("/.well-known"),
            metadata,
            methods=["GET"],
            operation_id="WellKnown_OauthProtectedResource",
            summary="OAuth 2.0 protected-resource metadata (RFC 9728) of the MCP endpoint.",
        )
        router.add_api_route(
            f"{METADATA_PATH.removeprefix('/.well-known')}{PATH}",
            metadata,
            methods=["GET"],
            operation_id="WellKnown_OauthProtectedResourceMcp",
            summary="The same metadata at the path RFC 9728 derives from `/mcp`.",
        )
        return router
