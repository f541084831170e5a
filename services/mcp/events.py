"""The events the MCP service publishes, each through the outbox in the batch of the change it
tells of. It consumes none.

- `mcp.tool.executed` (`coder.usage.v1.UsageRecorded`): a tool call succeeded; Usage meters it
  (category `mcp.execution`: executions and seconds by `server` and `tool`, and `project` when
  the arguments name one). Subject: the execution id.
- `mcp.tool.failed` (`ToolFailed`, the execution's audit record): a tool answered an error, ran
  out of time or could not be reached.
- `mcp.server.registered`, `mcp.server.refreshed`, `mcp.server.deleted` (`ServerChanged`).
"""

from __future__ import annotations

from coder.events.v1 import event_pb2
from coder.mcp.v1 import events_pb2, resources_pb2
from coder.usage.v1 import events_pb2 as usage_events_pb2
from services.kit import Clock, Principal
from services.kit.bus import EventFactory

TOOL_EXECUTED = "mcp.tool.executed"
TOOL_FAILED = "mcp.tool.failed"
SERVER_REGISTERED = "mcp.server.registered"
SERVER_REFRESHED = "mcp.server.refreshed"
SERVER_DELETED = "mcp.server.deleted"

PLATFORM_SERVER = "platform"
"""The `server` dimension of the platform's own tools in usage."""


class McpEvents:
    """Builds the events of one caller's work."""

    def __init__(self, principal: Principal, clock: Clock) -> None:
        self._event = EventFactory.acting(principal, clock)

    def executed(
        self, execution: resources_pb2.ToolExecution, server: str, project_id: str
    ) -> event_pb2.Event:
        usage = usage_events_pb2.UsageRecorded(
            user_id=execution.caller_id,
            project_id=project_id,
            quantities={"duration_seconds": f"{execution.duration_ms / 1000:.3f}"},
            attributes={"server": server, "tool": execution.tool},
        )
        usage.occur_time.CopyFrom(execution.start_time)
        return self._event(TOOL_EXECUTED, execution.id, usage)

    def failed(self, execution: resources_pb2.ToolExecution) -> event_pb2.Event:
        return self._event(TOOL_FAILED, execution.id, events_pb2.ToolFailed(execution=execution))

    def server(self, kind: str, server: resources_pb2.Server) -> event_pb2.Event:
        return self._event(kind, server.id, events_pb2.ServerChanged(server=server))
