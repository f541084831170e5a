"""The organization's registry of external MCP servers and the discovery of their tools."""

from __future__ import annotations

from typing import Any

import mcp_types

from coder.mcp.v1 import mcp_service_pb2 as api
from coder.mcp.v1 import resources_pb2
from services.kit import (
    DOMAINS,
    AlreadyExists,
    Clock,
    DeadlineExceeded,
    DocumentExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Peers,
    Unavailable,
    current_principal,
    new_id,
    remaining_time,
)
from services.mcp import _remote
from services.mcp._calls import credential
from services.mcp._settings import McpSettings
from services.mcp.events import SERVER_DELETED, SERVER_REFRESHED, SERVER_REGISTERED, McpEvents
from services.mcp.repository import McpRepository

RESERVED_NAMES = frozenset(domain.name for domain in DOMAINS)
"""Server names that would shadow the platform's tools (`planning.*`, …)."""


def external_tool(found: mcp_types.Tool) -> resources_pb2.Tool:
    """A discovered tool as stored, under its server-side name."""
    tool = resources_pb2.Tool(
        name=found.name,
        title=found.title or (found.annotations.title if found.annotations else None) or "",
        description=found.description or "",
        source=resources_pb2.TOOL_SOURCE_EXTERNAL,
        read_only=bool(found.annotations and found.annotations.read_only_hint),
    )
    tool.input_schema.update(_json(found.input_schema))
    if found.output_schema:
        tool.output_schema.update(_json(found.output_schema))
    return tool


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    # Struct holds JSON values only; a schema is JSON, so this is a no-op on sane servers.
    return {str(key): value for key, value in schema.items()}


class ServerService:
    def __init__(
        self, repository: McpRepository, peers: Peers, clock: Clock, settings: McpSettings
    ) -> None:
        self._repository = repository
        self._peers = peers
        self._clock = clock
        self._settings = settings

    async def create(self, draft: resources_pb2.Server) -> resources_pb2.Server:
        principal = current_principal()
        if draft.name in RESERVED_NAMES:
            raise InvalidArgument(
                "server.name is reserved",
                violations=[
                    FieldViolation("server.name", "names a platform domain, whose tools it shadows")
                ],
            )
        _remote.check_url(draft.url, "server.url")
        now = self._clock.now()
        server = resources_pb2.Server(
            id=new_id(),
            name=draft.name,
            url=draft.url,
            description=draft.description,
            credential_secret_id=draft.credential_secret_id,
            timeout_seconds=draft.timeout_seconds,
            created_by=principal.subject,
        )
        server.create_time.FromDatetime(now)
        server.update_time.FromDatetime(now)
        event = McpEvents(principal, self._clock).server(SERVER_REGISTERED, server)
        try:
            return await self._repository.create_server(principal.organization_id, server, event)
        except DocumentExists:
            raise AlreadyExists(
                f"a server named {draft.name} is registered", reason="SERVER_NAME_TAKEN"
            ) from None

    async def _server(self, organization_id: str, server_id: str) -> resources_pb2.Server:
        server = await self._repository.get_server(organization_id, server_id)
        if server is None:
            raise NotFound(f"server {server_id} not found", reason="NOT_FOUND")
        return server

    async def get(self, server_id: str) -> resources_pb2.Server:
        return await self._server(current_principal().organization_id, server_id)

    async def page(self, request: api.ListServersRequest) -> tuple[list[resources_pb2.Server], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        servers, continuation = await self._repository.page_servers(
            organization_id, page.size, page.continuation
        )
        return servers, page.seal(continuation)

    async def delete(self, server_id: str) -> None:
        principal = current_principal()
        server = await self._server(principal.organization_id, server_id)
        event = McpEvents(principal, self._clock).server(SERVER_DELETED, server)
        await self._repository.delete_server(principal.organization_id, server, event)

    def timeout(self, configured: float) -> float:
        """A server's timeout, within what is left of the caller's deadline."""
        left = remaining_time()
        return configured if left is None else max(0.001, min(configured, left - 0.05))

    async def endpoint(self, server: resources_pb2.Server, seconds: float) -> _remote.Endpoint:
        """Where to reach the server, its credential read for the caller; `seconds` bound
        each call to it."""
        token = ""
        if server.credential_secret_id:
            token = await credential(
                self._peers, server.credential_secret_id, server.name, self.timeout(seconds)
            )
        return _remote.Endpoint(server.url, token, self.timeout(seconds))

    async def refresh(self, server_id: str) -> resources_pb2.Server:
        """Discover the server's tools. Unreachable or too slow: the previous tools stay, and
        `refresh_error` says why."""
        principal = current_principal()
        server = await self._server(principal.organization_id, server_id)
        endpoint = await self.endpoint(server, self._settings.discovery_timeout_seconds)
        try:
            found = await _remote.discover(endpoint)
        except (Unavailable, DeadlineExceeded) as error:
            server.refresh_error = error.message
        else:
            del server.tools[:]
            server.tools.extend(
                external_tool(tool) for tool in found if _remote.TOOL_NAME.match(tool.name)
            )
            server.refresh_error = ""
        now = self._clock.now()
        server.refresh_time.FromDatetime(now)
        server.update_time.FromDatetime(now)
        event = McpEvents(principal, self._clock).server(SERVER_REFRESHED, server)
        return await self._repository.replace_server(
            principal.organization_id, server, server.etag, event
        )
