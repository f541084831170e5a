"""Every storage query of the MCP service. Containers, all partitioned by organization:
- `servers`: the registered external servers with the tools last discovered, and one name
  reservation per server (`kind` tells them apart), with the server events (outbox);
- `policies`: the allow-lists, one document per role (id = the role);
- `executions`: the audit log of tool calls, each written in one batch with its
  `mcp.tool.executed` or `mcp.tool.failed` event (outbox).
"""

from __future__ import annotations

from coder.events.v1 import event_pb2
from coder.mcp.v1 import resources_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import BatchOp, ContainerSpec, DocumentStore, F, Query, reservation_id
from services.mcp._mapping import (
    SERVER,
    SERVER_NAME,
    execution_document,
    execution_from_document,
    policy_document,
    policy_from_document,
    server_document,
    server_from_document,
)

__all__ = ["CONTAINERS", "McpRepository"]

SERVERS = "servers"
POLICIES = "policies"
EXECUTIONS = "executions"

CONTAINERS = (
    ContainerSpec(SERVERS, indexes=("/kind", "/createTime"), outbox=True),
    ContainerSpec(POLICIES),
    ContainerSpec(EXECUTIONS, indexes=("/startTime", "/tool"), outbox=True),
)


def _name_id(name: str) -> str:
    return reservation_id("name", name)


class McpRepository(Repository):
    """Reads and atomic writes of servers, policies and executions."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._servers = self.entities(SERVERS)
        self._policies = self.entities(POLICIES)
        self._executions = self.entities(EXECUTIONS)

    # --- servers -------------------------------------------------------------------------------

    async def create_server(
        self, organization_id: str, server: resources_pb2.Server, event: event_pb2.Event
    ) -> resources_pb2.Server:
        """The server and its name reservation; DocumentExists when the name is taken."""
        reservation = {"id": _name_id(server.name), "kind": SERVER_NAME, "serverId": server.id}
        written = await self._servers.commit(
            organization_id,
            [BatchOp.create(server_document(server)), BatchOp.create(reservation)],
            [event],
        )
        return server_from_document(written[0])

    async def get_server(self, organization_id: str, server_id: str) -> resources_pb2.Server | None:
        document = await self._servers.get(organization_id, server_id)
        if document is None or document.get("kind") != SERVER:
            return None
        return server_from_document(document)

    async def server_named(self, organization_id: str, name: str) -> resources_pb2.Server | None:
        reservation = await self._servers.get(organization_id, _name_id(name))
        if reservation is None:
            return None
        return await self.get_server(organization_id, reservation["serverId"])

    async def page_servers(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Server], str | None]:
        query = (
            Query()
            .where(F("kind") == SERVER)
            .order_by("createTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._servers.page(query, organization_id)
        return [server_from_document(d) for d in page.items], page.continuation

    async def every_server(self, organization_id: str) -> list[resources_pb2.Server]:
        query = Query().where(F("kind") == SERVER).order_by("createTime")
        return [server_from_document(d) for d in await self._servers.every(query, organization_id)]

    async def replace_server(
        self,
        organization_id: str,
        server: resources_pb2.Server,
        if_match: str,
        event: event_pb2.Event,
    ) -> resources_pb2.Server:
        """EtagMismatch when the server changed since it was read."""
        written = await self._servers.commit(
            organization_id,
            [BatchOp.replace(server_document(server), if_match=if_match)],
            [event],
        )
        return server_from_document(written[0])

    async def delete_server(
        self, organization_id: str, server: resources_pb2.Server, event: event_pb2.Event
    ) -> None:
        operations = [BatchOp.delete(server.id), BatchOp.delete(_name_id(server.name))]
        await self._servers.commit(organization_id, operations, [event])

    # --- policies ------------------------------------------------------------------------------

    async def policies(self, organization_id: str) -> list[resources_pb2.ToolPolicy]:
        documents = await self._policies.every(Query(), organization_id)
        return sorted((policy_from_document(d) for d in documents), key=lambda p: p.role)

    async def put_policy(
        self, organization_id: str, policy: resources_pb2.ToolPolicy
    ) -> resources_pb2.ToolPolicy:
        written = await self._policies.container.upsert(organization_id, policy_document(policy))
        return policy_from_document(written)

    async def delete_policy(self, organization_id: str, role: str) -> bool:
        """False when the role had no policy."""
        if await self._policies.get(organization_id, role) is None:
            return False
        await self._policies.container.delete(organization_id, role)
        return True

    # --- executions ----------------------------------------------------------------------------

    async def record_execution(
        self,
        organization_id: str,
        execution: resources_pb2.ToolExecution,
        event: event_pb2.Event,
    ) -> None:
        await self._executions.commit(
            organization_id, [BatchOp.create(execution_document(execution))], [event]
        )

    async def page_executions(
        self, organization_id: str, tool: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.ToolExecution], str | None]:
        query = Query()
        if tool:
            query = query.where(F("tool") == tool)
        query = query.order_by("startTime", desc=True).limit(page_size).after(continuation)
        page = await self._executions.page(query, organization_id)
        return [execution_from_document(d) for d in page.items], page.continuation
