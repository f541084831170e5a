"""Telemetry of the distributed wiring as an operator runs it: `coder serve planning` and
`coder edge` as two processes configured only by the standard OTEL_* variables, a collector
(OTLP/gRPC trace and metrics services) inside the test, the service's metrics port and the
edge's `/metrics`. The spans and the last metrics reach the collector because SIGTERM flushes
them: the processes' batch delay is longer than the test."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2

from services.kit import SigningKey, jwks
from tests.edge.test_telemetry import CALLER_SPAN, CALLER_TRACE, counter, free_port, one
from tests.fixtures.otlp_collector import Collector, attributes, grpc_collector

CODER = [sys.executable, "-m", "cli"]


def environment(collector: Collector, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODER_"))}
    env.update(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_METRICS_EXPORTER": "otlp",
            # Longer than the test: what arrives was flushed by the shutdown on SIGTERM.
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            "CODER_DATA_DIR": str(tmp_path / ".coder"),
            "CODER_LOG_LEVEL": "warning",
        }
    )
    env.update(extra)
    return env


def start(arguments: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [*CODER, *arguments],
            env=env,
            cwd=log.parent,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


async def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(process.wait, 30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    assert process.returncode == 0, await asyncio.to_thread(log.read_text)


async def wait_until_served(client: httpx.AsyncClient, url: str, within: float = 40.0) -> None:
    """Poll `url` until it answers 200 (both processes up and connected)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            if (await client.get(url, timeout=2)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} never answered 200")
        await asyncio.sleep(0.1)


def pushed(collector: Collector, name: str, service: str, **labels: str) -> float:
    """The last value pushed over OTLP for metric `name` by `service` with `labels`."""
    values = [
        point.as_double
        for resource, point in collector.metric_points(name)
        if resource["service.name"] == service and attributes(point.attributes) == labels
    ]
    return values[-1] if values else 0.0


@pytest.fixture
def jwks_file(tmp_path: Path) -> tuple[SigningKey, Path]:
    key = SigningKey.generate()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks([key])))
    return key, path


@pytest.mark.timeout(120)
async def test_serve_and_edge_export_one_trace_and_serve_metrics(
    tmp_path: Path, jwks_file: tuple[SigningKey, Path]
) -> None:
    key, path = jwks_file
    grpc_port, metrics_port, edge_port = free_port(), free_port(), free_port()
    token = key.mint(
        subject="user-1",
        organization_id="org-telemetry",
        issuer="coder",
        audience="coder-api",
        roles=["member"],
    )
    async with grpc_collector() as collector:
        service_log, edge_log = tmp_path / "planning.log", tmp_path / "edge.log"
        service = start(
            ["serve", "planning", "--port", str(grpc_port)],
            environment(
                collector, tmp_path, CODER_JWKS_FILE=str(path), CODER_METRICS_PORT=str(metrics_port)
            ),
            service_log,
        )
        edge = start(
            ["edge", "--port", str(edge_port)],
            environment(
                collector,
                tmp_path,
                CODER_EDGE_PEERS=json.dumps({"planning": f"127.0.0.1:{grpc_port}"}),
                CODER_EDGE_JWKS_FILE=str(path),
            ),
            edge_log,
        )
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                edge_url = f"http://127.0.0.1:{edge_port}"
                await wait_until_served(client, f"{edge_url}/api/v1/ops/echo?message=up")
                listed = await client.get(
                    f"{edge_url}/api/v1/planning/projects",
                    headers={
                        "authorization": f"Bearer {token}",
                        "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                    },
                )
                service_metrics = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
                edge_metrics = await client.get(f"{edge_url}/metrics")
        finally:
            await stop(edge, edge_log)
            await stop(service, service_log)

    assert listed.status_code == 200, listed.text
    spans = [s for s in collector.spans() if s.trace_id == CALLER_TRACE]
    edge_span = one(spans, "GET /api/v1/planning/projects")
    service_span = one(spans, "coder.planning.v1.PlanningService/ListProjects")
    assert edge_span.service == "coder-edge"
    assert service_span.service == "coder-planning"
    assert edge_span.parent_span_id == CALLER_SPAN
    assert service_span.parent_span_id == edge_span.span_id
    assert service_span.resource["service.namespace"] == "coder"
    assert service_span.resource["deployment.environment.name"] == "development"

    method = "/coder.planning.v1.PlanningService/ListProjects"
    assert counter(service_metrics.text, "coder_grpc_requests", method=method, code="OK") == 1
    route = {"method": "GET", "route": "/api/v1/planning/projects", "status": "200"}
    assert counter(edge_metrics.text, "coder_http_requests", **route) == 1
    # The same counters, pushed over OTLP once more as each process stopped.
    assert pushed(collector, "coder_grpc_requests", "coder-planning", method=method, code="OK") == 1
    assert pushed(collector, "coder_http_requests", "coder-edge", **route) == 1
    assert any(
        isinstance(point, metrics_pb2.HistogramDataPoint)
        for _, point in collector.metric_points("coder_grpc_request_duration_seconds")
    )
