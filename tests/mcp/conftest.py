"""The MCP service with the services it calls (planning, prompt, usage, secret) on one
real gRPC host, the edge in front of it on a real port (its `/mcp`), an external MCP server
of the test's own (the SDK's `MCPServer` over streamable HTTP on loopback), and a recorder
of the events the service publishes."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator

import pytest

from coder.mcp.v1 import mcp_service_pb2_grpc
from edge import EdgeSettings
from services.kit import Resources
from services.kit.bus import Subscription
from services.knowledge import SERVICE as KNOWLEDGE
from services.mcp import McpSettings, definition
from services.planning import SERVICE as PLANNING
from services.prompt import SERVICE as PROMPT
from services.secret import SecretSettings
from services.secret import definition as secret_definition
from services.usage import SERVICE as USAGE
from tests.conftest import HostFactory
from tests.edge.conftest import serving
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import TokenFactory
from tests.mcp.external import External, serving_external

CALLS_PER_MINUTE = 30


@pytest.fixture(scope="session")
async def mcp_host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    settings = McpSettings(calls_per_minute=CALLS_PER_MINUTE, discovery_timeout_seconds=10)
    secret = secret_definition(
        SecretSettings(master_key=base64.b64encode(os.urandom(32)).decode(), sweep_seconds=3600)
    )
    services = [definition(settings), PLANNING, PROMPT, USAGE, secret, KNOWLEDGE]
    async with service_host(services) as started:
        yield started


@pytest.fixture(scope="session")
def resources(mcp_host: ServiceHost) -> Resources:
    return mcp_host.resources


@pytest.fixture(scope="session")
def stub(mcp_host: ServiceHost) -> mcp_service_pb2_grpc.McpServiceStub:
    return mcp_service_pb2_grpc.McpServiceStub(mcp_host.channel)


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every mcp event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("mcp-event-tests", "mcp", ("mcp.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
async def edge_url(mcp_host: ServiceHost, token: TokenFactory) -> AsyncIterator[str]:
    settings = EdgeSettings(
        grpc_target=mcp_host.target,
        deadline_seconds=20.0,
        api_user_limit=1_000_000,
        api_organization_limit=1_000_000,
        api_ip_limit=1_000_000,
    )
    async with serving(settings, token.verifier()) as url:
        yield url


@pytest.fixture(scope="session")
async def external() -> AsyncIterator[External]:
    """The external MCP server, for the whole session."""
    async with serving_external() as state:
        yield state
