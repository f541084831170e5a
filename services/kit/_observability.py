"""Structured logs (structlog, JSON), Prometheus RED metrics and OpenTelemetry tracing, and how
they leave the process.

Telemetry is configured by the standard OpenTelemetry variables, so any collector setup that
works for other services works here (docs/observability.md):
- spans: `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`; unset means `otlp` when an OTLP
  endpoint is set and nothing otherwise), `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`,
  `…_PROTOCOL` (`http/protobuf`, the default, or `grpc`), `…_HEADERS`, `…_TIMEOUT`,
  `OTEL_TRACES_SAMPLER[_ARG]`, `OTEL_BSP_*`;
- resource: `service.name` per process (`coder-<domain>`, `coder-edge`, `coder-dev`), version,
  instance and deployment environment, overridden by `OTEL_SERVICE_NAME` and
  `OTEL_RESOURCE_ATTRIBUTES`;
- metrics: Prometheus text on `/metrics` (the edge) or the metrics port (`CODER_METRICS_PORT`);
  with `OTEL_METRICS_EXPORTER=otlp` the same registry is also pushed over OTLP every
  `OTEL_METRIC_EXPORT_INTERVAL` ms, converted at export time so a call is recorded only once.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import math
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping, MutableMapping
from typing import Any, cast
from wsgiref.simple_server import WSGIServer

import structlog
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as HistogramData,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)

from services.kit._context import current_call


def _add_call_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    state = current_call()
    if state is not None:
        event.setdefault("request_id", state.request_id)
        if state.principal is not None:
            event.setdefault("org", state.principal.organization_id)
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", format(span.trace_id, "032x"))
    return event


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Configure structlog and the standard logging bridge once per process."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_call_context,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


_log = get_logger("coder.telemetry")


# --- metrics -------------------------------------------------------------------------------------


def process_registry() -> CollectorRegistry:
    """A new Prometheus registry holding the process collectors (CPU, memory, file descriptors,
    garbage collection, Python version): one per process's scrape target."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class Metrics:
    """RED metrics per RPC: rate and errors (counter by code), duration (histogram)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "coder_grpc_requests",
            "RPCs handled, by method and gRPC status code.",
            ("method", "code"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "coder_grpc_request_duration_seconds",
            "RPC handling time, by method.",
            ("method",),
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )


class MetricsServer:
    """Serves a registry in the Prometheus text format on its own HTTP port (any path), from a
    daemon thread so a scrape never waits on the event loop; `coder serve` runs one when
    `CODER_METRICS_PORT` is set."""

    def __init__(self, registry: CollectorRegistry, *, host: str = "127.0.0.1", port: int = 0):
        self._registry = registry
        self._host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def start(self) -> int:
        """Bind and serve; returns the bound port (useful with port 0)."""
        self._server, self._thread = start_http_server(
            self._port, addr=self._host, registry=self._registry
        )
        self.port = int(self._server.server_port)
        return self.port

    async def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        # `shutdown` waits for the serving loop's next poll (up to half a second): off the loop.
        await asyncio.to_thread(server.shutdown)
        server.server_close()
        thread.join()


# --- exporters from the standard variables -------------------------------------------------------

_PROTOCOLS = ("http/protobuf", "grpc")


def _variable(name: str, environ: Mapping[str, str]) -> str:
    return environ.get(name, "").strip()


def otlp_protocol(signal: str, environ: Mapping[str, str] | None = None) -> str:
    """The OTLP protocol of `signal` (`TRACES`, `METRICS`): `OTEL_EXPORTER_OTLP_<signal>_PROTOCOL`,
    else `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf` (the specification's default)."""
    environ = os.environ if environ is None else environ
    protocol = (
        _variable(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", environ)
        or _variable("OTEL_EXPORTER_OTLP_PROTOCOL", environ)
        or "http/protobuf"
    ).lower()
    if protocol not in _PROTOCOLS:
        raise ValueError(f"OTLP protocol {protocol!r} is not supported; use one of {_PROTOCOLS}")
    return protocol


def exporter_names(signal: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The exporters `OTEL_<signal>_EXPORTER` names (comma-separated; `none` means none).

    Unset, traces go to OTLP when an OTLP endpoint is configured and nowhere otherwise, so a
    laptop exports nothing and pointing a process at a collector takes one variable; metrics
    are pushed only when asked for, because `/metrics` already serves them.
    """
    environ = os.environ if environ is None else environ
    raw = _variable(f"OTEL_{signal}_EXPORTER", environ)
    if not raw:
        endpoint = _variable("OTEL_EXPORTER_OTLP_ENDPOINT", environ) or _variable(
            f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", environ
        )
        return ["otlp"] if signal == "TRACES" and endpoint else []
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    if "none" in names:
        return []
    known = ("otlp", "console") if signal == "TRACES" else ("otlp", "prometheus")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"OTEL_{signal}_EXPORTER: unknown exporter(s) {unknown}; use {known}")
    return list(dict.fromkeys(names))


def span_exporters(environ: Mapping[str, str] | None = None) -> list[SpanExporter]:
    """The span exporters the standard variables ask for (each reads its own endpoint, headers,
    timeout, compression and certificates from the environment)."""
    exporters: list[SpanExporter] = []
    for name in exporter_names("TRACES", environ):
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif otlp_protocol("TRACES", environ) == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcSpanExporter,
            )

            exporters.append(GrpcSpanExporter())
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter as HttpSpanExporter,
            )

            exporters.append(HttpSpanExporter())
    return exporters


def metric_exporter(environ: Mapping[str, str] | None = None) -> MetricExporter | None:
    """The OTLP metric exporter when `OTEL_METRICS_EXPORTER` includes `otlp`, else None."""
    if "otlp" not in exporter_names("METRICS", environ):
        return None
    if otlp_protocol("METRICS", environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter()


def telemetry_resource(service_name: str, *, environment: str = "") -> Resource:
    """The resource of a process: `service.name`, namespace `coder`, version, a fresh instance
    id, host and deployment environment; `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
    take precedence over all of them."""
    ours: dict[str, str] = {
        "service.name": service_name,
        "service.namespace": "coder",
        "service.version": _suite_version(),
        "service.instance.id": str(uuid.uuid4()),
        "host.name": socket.gethostname(),
    }
    if environment:
        ours["deployment.environment.name"] = environment
    # `Resource.create` lets the attributes given override the environment's; the standard
    # says the environment wins, so it is merged again on top.
    return Resource.create(ours).merge(OTELResourceDetector().detect())


def _suite_version() -> str:
    try:
        return importlib.metadata.version("coder-suite")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


# --- Prometheus registry → OTLP ------------------------------------------------------------------


def _labels(sample: Any, drop: str = "") -> dict[str, str]:
    return {key: value for key, value in sample.labels.items() if key != drop}


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def registry_metrics(registry: CollectorRegistry, *, started_ns: int, now_ns: int) -> list[Metric]:
    """The registry's counters, gauges and histograms as OTLP metrics (cumulative).

    A series' start time is its `_created` sample when it has one, else `started_ns`. Summaries
    and info metrics are left out (the suite defines none).
    """
    metrics: list[Metric] = []
    for family in registry.collect():
        created: dict[tuple[tuple[str, str], ...], int] = {}
        for sample in family.samples:
            if sample.name.endswith("_created"):
                created[_key(_labels(sample))] = int(sample.value * 1e9)
        data: Any
        if family.type == "counter":
            data = Sum(
                data_points=[
                    NumberDataPoint(
                        attributes=_labels(sample),
                        start_time_unix_nano=created.get(_key(_labels(sample)), started_ns),
                        time_unix_nano=now_ns,
                        value=sample.value,
                    )
                    for sample in family.samples
                    if sample.name.endswith("_total")
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
                is_monotonic=True,
            )
        elif family.type == "gauge":
            data = Gauge(
                data_points=[
                    NumberDataPoint(
                        attributes=_labels(sample),
                        start_time_unix_nano=started_ns,
                        time_unix_nano=now_ns,
                        value=sample.value,
                    )
                    for sample in family.samples
                ]
            )
        elif family.type == "histogram":
            data = HistogramData(
                data_points=_histogram_points(family, created, started_ns, now_ns),
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
            )
        else:
            continue
        if data.data_points:
            metrics.append(Metric(family.name, family.documentation, family.unit, data))
    return metrics


def _histogram_points(
    family: Any, created: Mapping[tuple[tuple[str, str], ...], int], started_ns: int, now_ns: int
) -> list[HistogramDataPoint]:
    buckets: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    totals: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for sample in family.samples:
        labels = _labels(sample, drop="le")
        key = _key(labels)
        if sample.name.endswith("_bucket"):
            buckets.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_count"):
            totals.setdefault(key, {})["count"] = sample.value
        elif sample.name.endswith("_sum"):
            totals.setdefault(key, {})["sum"] = sample.value
    points = []
    for key, cumulative in buckets.items():
        cumulative.sort()
        bounds = [bound for bound, _ in cumulative if not math.isinf(bound)]
        # Prometheus buckets are cumulative (`le`); OTLP's are counts per bucket.
        counts, previous = [], 0.0
        for _, value in cumulative:
            counts.append(int(value - previous))
            previous = value
        total = totals.get(key, {})
        points.append(
            HistogramDataPoint(
                attributes=dict(key),
                start_time_unix_nano=created.get(key, started_ns),
                time_unix_nano=now_ns,
                count=int(total.get("count", previous)),
                sum=total.get("sum", 0.0),
                bucket_counts=counts,
                explicit_bounds=bounds,
                # Prometheus keeps no minimum or maximum; None leaves the optional fields unset.
                min=cast(float, None),
                max=cast(float, None),
            )
        )
    return points


class MetricsPush:
    """Pushes a Prometheus registry over OTLP every `interval` seconds from a daemon thread,
    and once more on `stop`, so the last counts of a stopping process are not lost."""

    def __init__(
        self,
        registry: CollectorRegistry,
        exporter: MetricExporter,
        resource: Resource,
        *,
        interval: float = 60.0,
    ) -> None:
        self._registry = registry
        self._exporter = exporter
        self._resource = resource
        self._interval = interval
        self._started_ns = time.time_ns()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def collect(self) -> MetricsData:
        """The registry now, as one OTLP export."""
        scope = InstrumentationScope("coder.metrics")
        metrics = registry_metrics(
            self._registry, started_ns=self._started_ns, now_ns=time.time_ns()
        )
        return MetricsData(
            [ResourceMetrics(self._resource, [ScopeMetrics(scope, metrics, "")], "")]
        )

    def push(self) -> bool:
        """Export the registry once; whether the collector took it."""
        from opentelemetry.sdk.metrics.export import MetricExportResult

        try:
            result = self._exporter.export(self.collect())
        except Exception as error:  # an export failure must never take the process down
            _log.warning("metrics.push_failed", error=repr(error))
            return False
        return bool(result == MetricExportResult.SUCCESS)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="otlp-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.push()

    def stop(self) -> None:
        """Stop the timer, push a last time and shut the exporter down (blocking)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.push()
        self._exporter.shutdown()


# --- a process's telemetry -----------------------------------------------------------------------


class Telemetry:
    """What leaves one process: its resource, a tracer provider exporting spans as the standard
    variables say (batched), and, with `OTEL_METRICS_EXPORTER=otlp`, a push of its metrics.

    Building one changes nothing global; `install()` makes its provider the process's global
    one (OpenTelemetry allows that once per process). The kit and the edge take the provider as
    a resource (`open_resources(tracer_provider=…)`, `create_app(tracer_provider=…)`), so tests
    build their own without touching the global. `shutdown()` flushes what is buffered.
    """

    def __init__(self, service_name: str, *, environment: str = "") -> None:
        self.resource = telemetry_resource(service_name, environment=environment)
        # The sampler comes from OTEL_TRACES_SAMPLER / _ARG (parent-based always-on by default).
        # Not shut down at exit by the SDK: the owner calls `shutdown`, which bounds the wait.
        self.tracer_provider = TracerProvider(resource=self.resource, shutdown_on_exit=False)
        for exporter in span_exporters():
            self.tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
        self._push = "otlp" in exporter_names("METRICS")
        if self._push:
            otlp_protocol("METRICS")  # a misconfiguration fails at start-up, not at first push
        self._pushes: list[MetricsPush] = []

    def install(self) -> Telemetry:
        """Make this provider the global one (for code that asks OpenTelemetry for a tracer)."""
        trace.set_tracer_provider(self.tracer_provider)
        return self

    def push_metrics(self, registry: CollectorRegistry) -> MetricsPush | None:
        """Start pushing `registry` over OTLP when `OTEL_METRICS_EXPORTER` asks for it; the
        interval is `OTEL_METRIC_EXPORT_INTERVAL` milliseconds (default 60000)."""
        exporter = metric_exporter() if self._push else None
        if exporter is None:
            return None
        interval_ms = float(_variable("OTEL_METRIC_EXPORT_INTERVAL", os.environ) or 60_000)
        push = MetricsPush(registry, exporter, self.resource, interval=interval_ms / 1000)
        push.start()
        self._pushes.append(push)
        return push

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Push the metrics a last time and flush and close the span exporters, waiting at most
        `timeout` seconds: an unreachable collector (whose exporters retry for up to
        `OTEL_EXPORTER_OTLP_TIMEOUT`) must not hold a stopping process up past its grace period.
        Returns whether everything was handed over. Blocking: from async code, run it in a
        thread."""
        worker = threading.Thread(target=self._shutdown, name="telemetry-shutdown", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            _log.warning("telemetry.flush_timed_out", seconds=timeout)
            return False
        return True

    def _shutdown(self) -> None:
        pushes, self._pushes = self._pushes, []
        for push in pushes:
            push.stop()
        self.tracer_provider.shutdown()


def configure_telemetry(service_name: str, *, environment: str = "") -> Telemetry:
    """The process's telemetry, its tracer provider installed as the global one."""
    return Telemetry(service_name, environment=environment).install()
