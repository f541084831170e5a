"""Structured logs (structlog, JSON), Prometheus RED metrics and OpenTelemetry tracing."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from prometheus_client import CollectorRegistry, Counter, Histogram

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


def configure_tracing(service_name: str, exporter: str = "") -> trace.TracerProvider:
    """Install the SDK tracer provider; `exporter` is `console` or empty (no export)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
