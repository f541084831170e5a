"""One trace per request across the edge and the services, and the edge's RED metrics on
`/metrics`.

The trace test wires the suite as `coder dev` does (the edge a companion of the gRPC host, one
process, one tracer provider) and exports over OTLP/gRPC to a collector inside the test; the
two-process wiring (`coder serve` + `coder edge`) is tests/services/test_cli_telemetry.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge import EdgeSettings
from edge.embedded import EmbeddedEdge
from services.kit import Host, Settings, Telemetry, TokenVerifier, open_resources
from services.planning import SERVICE
from tests.fixtures.otlp_collector import ReceivedSpan, grpc_collector
from tests.fixtures.tokens import TokenFactory

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def otlp_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    return monkeypatch


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def counter(text: str, name: str, **labels: str) -> float:
    """The value of counter `name` with exactly `labels` in a Prometheus text exposition."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{name}_total" and sample.labels == labels:
                return float(sample.value)
    return 0.0


class TestOneTracePerRequest:
    async def test_embedded_edge_and_service_spans_share_the_callers_trace(
        self,
        otlp_environment: pytest.MonkeyPatch,
        tmp_path: Path,
        verifier: TokenVerifier,
        token: TokenFactory,
    ) -> None:
        async with grpc_collector() as collector:
            otlp_environment.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
            telemetry = Telemetry("coder-dev")
            settings = Settings(data_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 't.db'}")
            async with open_resources(
                settings, [SERVICE], verifier=verifier, tracer_provider=telemetry.tracer_provider
            ) as resources:
                host = Host([SERVICE], resources, readiness_interval=0.2)
                await host.start()
                edge = EmbeddedEdge(EdgeSettings(port=free_port()))
                await edge.start(host)
                try:
                    async with httpx.AsyncClient(base_url=edge.url, timeout=10) as client:
                        listed = await client.get(
                            "/api/v1/planning/projects",
                            headers={
                                "authorization": f"Bearer {token(org='org-trace')}",
                                "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01",
                            },
                        )
                        scraped = await client.get("/metrics")
                finally:
                    await edge.stop()
                    await host.stop(grace=0)
            await asyncio.to_thread(telemetry.shutdown)

        assert listed.status_code == 200, listed.text
        spans = [s for s in collector.spans() if s.trace_id == CALLER_TRACE]
        edge_span = one(spans, "GET /api/v1/planning/projects")
        service_span = one(spans, "coder.planning.v1.PlanningService/ListProjects")
        assert {s.service for s in spans} == {"coder-dev"}
        assert edge_span.parent_span_id == CALLER_SPAN
        assert service_span.parent_span_id == edge_span.span_id
        assert edge_span.attributes["http.route"] == "/api/v1/planning/projects"
        assert edge_span.attributes["http.response.status_code"] == 200
        assert service_span.attributes["rpc.grpc.status_code"] == "OK"
        # One process, one scrape target: the edge's /metrics carries the host's RPCs too.
        method = "/coder.planning.v1.PlanningService/ListProjects"
        assert counter(scraped.text, "coder_grpc_requests", method=method, code="OK") == 1
        route = {"method": "GET", "route": "/api/v1/planning/projects", "status": "200"}
        assert counter(scraped.text, "coder_http_requests", **route) == 1


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [span for span in spans if span.span.name == name]
    assert len(found) == 1, [span.span.name for span in spans]
    return found[0]


class TestEdgeMetrics:
    async def test_a_rest_call_is_counted_by_route_template_and_status(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        route = {"method": "GET", "route": "/api/v1/planning/projects/{project_id}"}
        before = counter(
            (await client.get("/metrics")).text, "coder_http_requests", **route, status="404"
        )
        missing = await client.get("/api/v1/planning/projects/no-such-project", headers=bearer)
        assert missing.status_code == 404
        scraped = await client.get("/metrics")
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        after = counter(scraped.text, "coder_http_requests", **route, status="404")
        assert after == before + 1
        families = {family.name: family for family in text_string_to_metric_families(scraped.text)}
        durations = families["coder_http_request_duration_seconds"].samples
        assert any(
            s.name.endswith("_count") and s.labels == route and s.value >= 1 for s in durations
        )
        assert "process_resident_memory_bytes" in families

    async def test_edge_routes_by_path_and_unknown_paths_as_unmatched(
        self, client: httpx.AsyncClient
    ) -> None:
        # This edge's host runs no identity service, so its JWKS route answers 501.
        jwks_status = (await client.get("/.well-known/jwks.json")).status_code
        await client.get("/api/v1/no/such/route/7f3a")
        text = (await client.get("/metrics")).text
        jwks = {"method": "GET", "route": "/.well-known/jwks.json", "status": str(jwks_status)}
        assert counter(text, "coder_http_requests", **jwks) >= 1
        unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
        assert counter(text, "coder_http_requests", **unmatched) >= 1
        assert "7f3a" not in text
        # Scrapes are not counted: they would drown the requests they measure.
        assert "/metrics" not in text
