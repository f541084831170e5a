"""The edge's RED metrics (requests by method, route template and status; duration) and the
`/metrics` endpoint serving them in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from services.kit import process_registry

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ROUTE_KEY = "coder.route"
"""Scope key where the gateway leaves the path template of the route it matched."""

UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


def route_of(scope: Scope) -> str:
    """The route template a request matched: the gateway's `google.api.http` template, the
    FastAPI route's path for the edge's own routes, else `unmatched` (raw paths carry ids and
    would make one series per resource)."""
    found = scope.get(ROUTE_KEY)
    if isinstance(found, str) and found:
        return found
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def method_of(scope: Scope) -> str:
    """The request's method, or `_OTHER` for a non-standard one (bounded label values)."""
    method = str(scope.get("method", ""))
    return method if method in _METHODS else "_OTHER"


class EdgeMetrics:
    """HTTP RED metrics of one edge app. `registry` is the process's scrape target: a new one
    with the process collectors for `coder edge`, the gRPC host's in `coder dev` (one process,
    one `/metrics`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else process_registry()
        self.requests = Counter(
            "coder_http_requests",
            "HTTP requests the edge answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "coder_http_request_duration_seconds",
            "HTTP request handling time at the edge, by method and route template.",
            ("method", "route"),
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    async def respond(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a scrape with the registry in the Prometheus text format."""
        body = generate_latest(self.registry)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", CONTENT_TYPE_LATEST.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
