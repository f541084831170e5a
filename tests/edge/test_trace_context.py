"""The edge continues the caller's W3C trace: calls to services carry the edge's own span as
their parent when one is active, and the caller's headers unchanged otherwise."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from edge.transcoding import call_options

CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_without_an_edge_span_the_callers_context_passes_through() -> None:
    options = call_options({"traceparent": CALLER, "tracestate": "a=1"}, "r-1", 30)
    assert ("traceparent", CALLER) in options.metadata
    assert ("tracestate", "a=1") in options.metadata


def test_with_an_edge_span_the_service_call_is_its_child() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("edge") as span:
        options = call_options({"traceparent": CALLER}, "r-1", 30)
        context = span.get_span_context()
    sent = dict(options.metadata)["traceparent"]
    version, trace_id, parent_id, _flags = sent.split("-")
    assert version == "00"
    assert trace_id == format(context.trace_id, "032x")
    assert parent_id == format(context.span_id, "016x")
    assert [name for name, _ in options.metadata].count("traceparent") == 1
