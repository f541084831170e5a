"""Telemetry out of the process: exporters chosen by the standard OpenTelemetry variables,
the resource, spans exported over OTLP/gRPC and OTLP/HTTP to a collector in the test, the
Prometheus registry pushed over OTLP, and the metrics port."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import socket
from collections.abc import Sequence

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.metrics.export import HistogramDataPoint, Sum
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from services.kit import MetricsServer, Telemetry, process_registry
from services.kit._observability import Metrics, exporter_names, registry_metrics, span_exporters
from tests.fixtures.otlp_collector import attributes, grpc_collector, http_collector


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without OTEL_* variables."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def unused_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kinds(exporters: Sequence[object]) -> list[type]:
    return [type(exporter) for exporter in exporters]


class TestExporterChoice:
    def test_nothing_is_exported_by_default(self) -> None:
        assert span_exporters() == []
        assert exporter_names("METRICS") == []

    def test_an_endpoint_alone_exports_spans_over_otlp_http(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        assert kinds(span_exporters()) == [HttpSpanExporter]
        # Metrics are scraped from /metrics unless a push is asked for.
        assert exporter_names("METRICS") == []

    def test_the_traces_endpoint_and_protocol_choose_grpc(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4317")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        assert kinds(span_exporters()) == [GrpcSpanExporter]

    def test_the_signal_protocol_overrides_the_general_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
        assert kinds(span_exporters()) == [HttpSpanExporter]

    def test_none_wins_over_an_endpoint(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
        assert span_exporters() == []

    def test_console_and_otlp_together(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console, otlp")
        assert kinds(span_exporters()) == [ConsoleSpanExporter, HttpSpanExporter]

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("OTEL_TRACES_EXPORTER", "jaeger"),
            ("OTEL_METRICS_EXPORTER", "statsd"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    )
    def test_a_misconfiguration_fails_at_start_up(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
    ) -> None:
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValueError, match=value.split("/")[-1]):
            Telemetry("coder-test")


class TestResource:
    def test_service_version_instance_and_environment(self) -> None:
        first = Telemetry("coder-planning", environment="staging").resource.attributes
        second = Telemetry("coder-planning").resource.attributes
        assert first["service.name"] == "coder-planning"
        assert first["service.namespace"] == "coder"
        assert first["service.version"] == importlib.metadata.version("coder-suite")
        assert first["deployment.environment.name"] == "staging"
        assert first["host.name"]
        assert first["service.instance.id"] != second["service.instance.id"]

    def test_the_standard_variables_take_precedence(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_SERVICE_NAME", "planning-eu")
        monkeypatch.setenv(
            "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod,cloud.region=westeurope"
        )
        found = Telemetry("coder-planning", environment="development").resource.attributes
        assert found["service.name"] == "planning-eu"
        assert found["deployment.environment.name"] == "prod"
        assert found["cloud.region"] == "westeurope"


class TestSpanExport:
    async def test_spans_reach_an_otlp_grpc_collector_with_the_configured_headers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with grpc_collector() as collector:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
            telemetry = Telemetry("coder-test")
            tracer = telemetry.tracer_provider.get_tracer("test")
            with tracer.start_as_current_span("work") as span:
                span.set_attribute("n", 7)
            # Shutdown flushes from the exporter's thread to this loop's server: off the loop.
            await asyncio.to_thread(telemetry.shutdown)
            [received] = collector.spans()
        assert received.span.name == "work"
        assert received.attributes == {"n": 7}
        assert received.service == "coder-test"
        assert collector.headers[0]["x-tenant"] == "acme"

    async def test_spans_reach_an_otlp_http_collector(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with http_collector() as collector:
            monkeypatch.setenv(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector.endpoint}/v1/traces"
            )
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
            telemetry = Telemetry("coder-test")
            with telemetry.tracer_provider.get_tracer("test").start_as_current_span("work"):
                pass
            await asyncio.to_thread(telemetry.shutdown)
        assert [(s.span.name, s.service) for s in collector.spans()] == [("work", "coder-test")]
        assert collector.headers[0]["x-tenant"] == "acme"
        assert collector.headers[0]["content-type"] == "application/x-protobuf"

    async def test_an_unreachable_collector_does_not_hold_the_exit_up(
        self, monkeypatch: pytest.MonkeyPatch, unused_port: int
    ) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{unused_port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        telemetry = Telemetry("coder-test")
        with telemetry.tracer_provider.get_tracer("test").start_as_current_span("lost"):
            pass
        # The exporter retries with backoff for up to 10 s; the shutdown gives up first.
        assert await asyncio.to_thread(telemetry.shutdown, 0.2) is False

    async def test_the_sampler_comes_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with grpc_collector() as collector:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
            telemetry = Telemetry("coder-test")
            with telemetry.tracer_provider.get_tracer("test").start_as_current_span("x") as span:
                assert not span.is_recording()
            await asyncio.to_thread(telemetry.shutdown)
        assert collector.spans() == []


def red_metrics() -> Metrics:
    metrics = Metrics(CollectorRegistry())
    for _ in range(3):
        metrics.requests.labels("/coder.ops.v1.OpsService/Echo", "OK").inc()
    metrics.requests.labels("/coder.ops.v1.OpsService/Echo", "INTERNAL").inc()
    for seconds in (0.0003, 0.0007, 0.003, 20.0):
        metrics.duration.labels("/coder.ops.v1.OpsService/Echo").observe(seconds)
    return metrics


class TestMetricsOverOtlp:
    def test_counters_and_histograms_convert_to_cumulative_otlp_points(self) -> None:
        converted = {
            metric.name: metric
            for metric in registry_metrics(red_metrics().registry, started_ns=1, now_ns=2)
        }
        requests = converted["coder_grpc_requests"].data
        assert isinstance(requests, Sum)
        assert requests.is_monotonic
        values = {dict(p.attributes or {})["code"]: p.value for p in requests.data_points}
        assert values == {"OK": 3.0, "INTERNAL": 1.0}
        assert all(p.start_time_unix_nano > 1 for p in requests.data_points)  # `_created`
        [histogram] = converted["coder_grpc_request_duration_seconds"].data.data_points
        assert isinstance(histogram, HistogramDataPoint)
        assert histogram.count == 4
        assert histogram.sum == pytest.approx(20.004)
        assert list(histogram.explicit_bounds[:3]) == [0.0005, 0.001, 0.0025]
        assert len(histogram.bucket_counts) == len(histogram.explicit_bounds) + 1
        # 0.0003 | 0.0007 | — | 0.003 … and 20 s beyond the last bound.
        assert list(histogram.bucket_counts[:4]) == [1, 1, 0, 1]
        assert histogram.bucket_counts[-1] == 1
        assert sum(histogram.bucket_counts) == 4

    async def test_the_registry_is_pushed_on_shutdown_with_the_resource(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with grpc_collector() as collector:
            monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", collector.endpoint)
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            # A long interval: the one push this test sees is the final one, at shutdown.
            monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")
            telemetry = Telemetry("coder-test")
            assert telemetry.push_metrics(red_metrics().registry) is not None
            await asyncio.to_thread(telemetry.shutdown)
        points = list(collector.metric_points("coder_grpc_requests"))
        assert {p.attributes[1].value.string_value: p.as_double for _, p in points} == {
            "OK": 3.0,
            "INTERNAL": 1.0,
        }
        assert {resource["service.name"] for resource, _ in points} == {"coder-test"}
        [(_, histogram)] = collector.metric_points("coder_grpc_request_duration_seconds")
        assert histogram.count == 4
        assert attributes(histogram.attributes) == {"method": "/coder.ops.v1.OpsService/Echo"}

    def test_no_push_unless_asked_for(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        telemetry = Telemetry("coder-test")
        assert telemetry.push_metrics(red_metrics().registry) is None
        telemetry.shutdown()


class TestMetricsServer:
    async def test_serves_the_registry_in_the_prometheus_text_format(self) -> None:
        metrics = Metrics(process_registry())
        metrics.requests.labels("/coder.ops.v1.OpsService/Echo", "OK").inc(2)
        server = MetricsServer(metrics.registry, port=0)
        port = server.start()
        try:
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"http://127.0.0.1:{port}/metrics")
        finally:
            await server.stop()
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(reply.text)}
        [sample] = [s for s in families["coder_grpc_requests"].samples if s.name.endswith("_total")]
        assert sample.labels == {"method": "/coder.ops.v1.OpsService/Echo", "code": "OK"}
        assert sample.value == 2
        assert "process_cpu_seconds" in families
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
