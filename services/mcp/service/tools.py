"""The tool gateway: the tools a caller may use, and their execution for the caller — the
allow-lists, the rate limit, the timeout, the call, the audit record and its event.

A call reads as its steps: `_resolve` (which tool), `_admit` (allow-list, rate limit),
`_run_platform` or `_run_external` (the work, timed), `_record` (audit + event, one batch).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from coder.mcp.v1 import mcp_service_pb2 as api
from coder.mcp.v1 import resources_pb2
from services.kit import (
    Clock,
    DeadlineExceeded,
    DomainError,
    NotFound,
    PageRequest,
    Peers,
    PermissionDenied,
    Principal,
    ResourceExhausted,
    Unavailable,
    current_principal,
    new_id,
)
from services.kit.cache import RateLimiter
from services.mcp import _platform, _remote
from services.mcp._calls import call_platform, request_of
from services.mcp._schemas import structured
from services.mcp._settings import McpSettings
from services.mcp.events import PLATFORM_SERVER, McpEvents
from services.mcp.repository import McpRepository
from services.mcp.service.policies import PolicyService
from services.mcp.service.servers import ServerService

WINDOW_SECONDS = 60.0
PROJECT_ID = re.compile(r"^[0-9A-Za-z_.@:-]{1,128}$")


@dataclass(slots=True)
class Outcome:
    """What a tool answered, in MCP's terms."""

    content: list[dict[str, Any]] = field(default_factory=list)
    structured: dict[str, Any] | None = None
    is_error: bool = False
    error_reason: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class _Target:
    tool: resources_pb2.Tool
    platform: _platform.PlatformTool | None = None
    server: resources_pb2.Server | None = None


def _text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def _refused(error: DomainError) -> Outcome:
    """A platform RPC's refusal, as an error result the model can read and act on."""
    text = f"{error.code.name}: {error.message}"
    return Outcome([_text(text)], None, True, error.reason, error.message)


class ToolService:
    def __init__(
        self,
        repository: McpRepository,
        servers: ServerService,
        policies: PolicyService,
        peers: Peers,
        limiter: RateLimiter,
        clock: Clock,
        settings: McpSettings,
    ) -> None:
        self._repository = repository
        self._servers = servers
        self._policies = policies
        self._peers = peers
        self._limiter = limiter
        self._clock = clock
        self._settings = settings

    # --- listing -------------------------------------------------------------------------------

    async def available(self) -> list[resources_pb2.Tool]:
        """The platform's tools the caller holds the permission of, then the registered
        servers' tools, narrowed by the caller's allow-list."""
        principal = current_principal()
        platform = [tool.proto() for tool in _platform.TOOLS if tool.offered_to(principal)]
        external = sorted(
            (
                _offered(server, tool)
                for server in await self._repository.every_server(principal.organization_id)
                for tool in server.tools
            ),
            key=lambda tool: tool.name,
        )
        allow_list = await self._policies.allow_list(principal)
        return allow_list.narrow([*platform, *external])

    # --- a call --------------------------------------------------------------------------------

    async def call(self, name: str, arguments: dict[str, Any]) -> api.CallToolResponse:
        principal = current_principal()
        target = await self._resolve(principal, name)
        await self._admit(principal, name)
        execution = resources_pb2.ToolExecution(
            id=new_id(),
            tool=name,
            source=target.tool.source,
            server_id=target.tool.server_id,
            caller_id=principal.subject,
            actor_id=principal.actor,
        )
        execution.start_time.FromDatetime(self._clock.now())
        started = time.perf_counter()
        try:
            if target.platform is not None:
                outcome = await self._run_platform(target.platform, arguments)
            else:
                assert target.server is not None
                outcome = await self._run_external(target.server, target.tool, arguments)
        except (DeadlineExceeded, Unavailable) as error:
            # Out of time or unreachable: recorded, then the caller gets the error itself.
            failed = Outcome([], None, True, error.reason, error.message)
            await self._record(principal, execution, failed, started, target, arguments)
            raise
        await self._record(principal, execution, outcome, started, target, arguments)
        reply = api.CallToolResponse(is_error=outcome.is_error, execution=execution)
        for block in outcome.content:
            reply.content.add().update(block)
        if outcome.structured is not None:
            reply.structured_content.update(outcome.structured)
        return reply

    async def _resolve(self, principal: Principal, name: str) -> _Target:
        platform = _platform.BY_NAME.get(name)
        if platform is not None:
            if not platform.offered_to(principal):
                raise PermissionDenied(
                    f"the caller lacks {platform.rule.permission}, which {name} needs",
                    reason="PERMISSION_MISSING",
                )
            return _Target(platform.proto(), platform=platform)
        prefix, _, tool_name = name.partition(".")
        server = await self._repository.server_named(principal.organization_id, prefix)
        if server is not None:
            for tool in server.tools:
                if tool.name == tool_name:
                    return _Target(_offered(server, tool), server=server)
        raise NotFound(f"tool {name} not found", reason="TOOL_NOT_FOUND")

    async def _admit(self, principal: Principal, name: str) -> None:
        allow_list = await self._policies.allow_list(principal)
        if not allow_list.permits(name):
            raise PermissionDenied(
                f"the tool policies of the caller's roles do not allow {name}",
                reason="TOOL_NOT_ALLOWED",
            )
        limit = self._settings.calls_per_minute
        decision = await self._limiter.hit(
            f"mcp:calls:{principal.organization_id}:{principal.subject}",
            limit=limit,
            window=WINDOW_SECONDS,
        )
        if not decision.allowed:
            raise ResourceExhausted(
                f"more than {limit} tool calls per minute",
                reason="RATE_LIMITED",
                retry_after=max(decision.retry_after, 0.001),
            )

    async def _run_platform(
        self, tool: _platform.PlatformTool, arguments: dict[str, Any]
    ) -> Outcome:
        timeout = self._servers.timeout(self._settings.tool_timeout_seconds)
        try:
            request = request_of(tool, arguments)
            reply = await call_platform(self._peers, tool, request, timeout)
        except DeadlineExceeded as error:
            raise DeadlineExceeded(
                f"{tool.name} did not answer in time: {error.message}", reason="TOOL_TIMEOUT"
            ) from None
        except DomainError as error:
            return _refused(error)
        result = structured(reply)
        # The JSON as text too, for clients that read no structured content (MCP advises it).
        return Outcome([_text(json.dumps(result, ensure_ascii=False))], result)

    async def _run_external(
        self, server: resources_pb2.Server, tool: resources_pb2.Tool, arguments: dict[str, Any]
    ) -> Outcome:
        timeout = float(server.timeout_seconds or self._settings.tool_timeout_seconds)
        endpoint = await self._servers.endpoint(server, timeout)
        _, _, remote_name = tool.name.partition(".")
        result = await _remote.call(endpoint, remote_name, arguments)
        content = [
            block.model_dump(mode="json", by_alias=True, exclude_none=True)
            for block in result.content
        ]
        outcome = Outcome(content, _object_or_none(result.structured_content), result.is_error)
        if result.is_error:
            outcome.error_reason = "TOOL_ERROR"
            outcome.error_message = " ".join(
                block.get("text", "") for block in content if block.get("type") == "text"
            )[:2000]
        return outcome

    async def _record(
        self,
        principal: Principal,
        execution: resources_pb2.ToolExecution,
        outcome: Outcome,
        started: float,
        target: _Target,
        arguments: dict[str, Any],
    ) -> None:
        execution.duration_ms = round((time.perf_counter() - started) * 1000)
        events = McpEvents(principal, self._clock)
        if outcome.is_error:
            execution.status = resources_pb2.EXECUTION_STATUS_FAILED
            execution.error_reason = outcome.error_reason or "TOOL_ERROR"
            execution.error_message = outcome.error_message[:2000]
            event = events.failed(execution)
        else:
            execution.status = resources_pb2.EXECUTION_STATUS_SUCCEEDED
            server = target.server.name if target.server is not None else PLATFORM_SERVER
            event = events.executed(execution, server, _project_of(arguments))
        await self._repository.record_execution(principal.organization_id, execution, event)

    # --- the audit log -------------------------------------------------------------------------

    async def executions(
        self, request: api.ListToolExecutionsRequest
    ) -> tuple[list[resources_pb2.ToolExecution], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        executions, continuation = await self._repository.page_executions(
            organization_id, request.tool, page.size, page.continuation
        )
        return executions, page.seal(continuation)


def _offered(server: resources_pb2.Server, tool: resources_pb2.Tool) -> resources_pb2.Tool:
    """A server's tool as callers see it: `<server>.<tool>`, with its server."""
    offered = resources_pb2.Tool()
    offered.CopyFrom(tool)
    offered.name = f"{server.name}.{tool.name}"
    offered.server_id = server.id
    offered.source = resources_pb2.TOOL_SOURCE_EXTERNAL
    return offered


def _project_of(arguments: dict[str, Any]) -> str:
    """The project a call concerns, when its arguments name one (usage's `project`)."""
    value = arguments.get("projectId", arguments.get("project_id", ""))
    return value if isinstance(value, str) and PROJECT_ID.match(value) else ""


def _object_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None
