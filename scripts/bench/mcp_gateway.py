"""MCP gateway benchmark, side by side in one run, one tool (`planning.list_projects` of a
project-less organization, so the tool's own work is small and the gateway's cost shows):

1. the planning RPC itself (ListProjects over gRPC) — the floor;
2. McpService.CallTool over gRPC (resolve, allow-list, rate limit, the planning RPC,
   the audit record and its event in one batch);
3. the same through the edge's REST route (`POST /api/v1/mcp/tools/{name}:call`);
4. MCP `tools/call` through the edge's `/mcp` with the SDK's streamable HTTP client (one
   connection; stateless, so each call is one POST).

    .venv/bin/python scripts/bench/mcp_gateway.py [--calls 300]

Sequential calls (latency, not throughput): p50 and p99 in milliseconds. Everything embedded
(SQLite, in-process bus and cache), host and edge in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from coder.mcp.v1 import mcp_service_pb2 as mcp_api
from coder.mcp.v1.mcp_service_pb2_grpc import McpServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.kit import (
    Host,
    KeySource,
    Settings,
    SigningKey,
    TokenVerifier,
    configure_logging,
    jwks,
    open_resources,
)
from services.mcp import McpSettings, definition
from services.planning import SERVICE as PLANNING

TOOL = "planning.list_projects"
HERE = Path(__file__).resolve().parent


async def timed(label: str, calls: int, once: Callable[[], Awaitable[object]]) -> None:
    for _ in range(min(20, calls)):
        await once()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await once()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"{label:<44} p50 {statistics.median(samples):7.2f} ms   p99 {p99:7.2f} ms")


async def main(options: argparse.Namespace) -> None:
    from edge import EdgeSettings, create_app
    from edge.server import server_config

    configure_logging("warning")
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    directory = Path(tempfile.mkdtemp(prefix="bench-mcp-"))
    settings = Settings.model_validate(
        {
            "store_url": f"sqlite:///{directory / 'store.db'}",
            "bus_url": "memory://",
            "cache_url": "memory://",
            "log_level": "warning",
        }
    )
    services = [definition(McpSettings(calls_per_minute=1_000_000)), PLANNING]
    token = key.mint(
        subject="user-1",
        organization_id=f"bench-{uuid.uuid4().hex[:8]}",
        issuer="coder",
        audience="coder-api",
        roles=["member"],
        lifetime_seconds=600,
    )
    metadata = (("authorization", f"Bearer {token}"),)
    async with open_resources(settings, services, verifier=verifier) as resources:
        host = Host(services, resources)
        await host.start()
        await host.wait_ready()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        edge_settings = EdgeSettings(
            grpc_target=f"127.0.0.1:{host.port}",
            api_user_limit=1_000_000,
            api_organization_limit=1_000_000,
            api_ip_limit=1_000_000,
        )
        app = create_app(edge_settings, verifier=verifier)
        server = uvicorn.Server(server_config(app, edge_settings, log_level="warning"))
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                planning = PlanningServiceStub(channel)
                gateway = McpServiceStub(channel)
                await timed(
                    "gRPC planning ListProjects (floor)",
                    options.calls,
                    lambda: planning.ListProjects(
                        planning_api.ListProjectsRequest(), metadata=metadata
                    ),
                )
                await timed(
                    "gRPC McpService.CallTool",
                    options.calls,
                    lambda: gateway.CallTool(mcp_api.CallToolRequest(name=TOOL), metadata=metadata),
                )
            headers = {"authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=url, headers=headers) as rest:
                await timed(
                    "REST POST /api/v1/mcp/tools/{name}:call",
                    options.calls,
                    lambda: rest.post(f"/api/v1/mcp/tools/{TOOL}:call", json={}),
                )
            http = create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(30))
            async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as c:
                await timed(
                    "MCP tools/call via /mcp (SDK client)",
                    options.calls,
                    lambda: c.call_tool(TOOL, {}),
                )
        finally:
            server.should_exit = True
            await task
            await host.stop(0.5)


if __name__ == "__main__":
    # Run as a script, this folder leads sys.path and its edge.py shadows the `edge` package.
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
