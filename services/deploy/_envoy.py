"""`coder envoy-config`: the Envoy front proxy's config, rendered from the service registry,
the catalog of implemented domains and the descriptor set into `envoy/envoy.yaml.j2`."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from coder.ops.v1 import ops_pb2
from services.deploy._descriptors import (
    Rpc,
    load_descriptor_set,
    rpcs,
    transcoder_descriptor_set,
)
from services.kit import ENVOY_ADMIN_PORT, ENVOY_PORT, domain

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "envoy" / "envoy.yaml.j2"
DEFAULT_OUTPUT = Path("envoy/envoy.yaml")
DEFAULT_DESCRIPTOR = Path("gen/descriptor.binpb")
OPS_SERVICE = ops_pb2.DESCRIPTOR.services_by_name["OpsService"].full_name
JWT_PROVIDER = "coder"

LUA = ROOT / "envoy" / "contract.lua"
ERROR_DOMAIN = "coder.dev"  # the ErrorInfo domain of the services and the edge

# ErrorInfo reasons of Envoy's own error replies, by HTTP status: the reasons the edge gives
# when it refuses the same request itself (edge/errors.py), or the services' default reason.
LOCAL_REPLY_REASONS: dict[int, str] = {
    400: "INVALID_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ROUTE_NOT_FOUND",
    413: "BODY_TOO_LARGE",
    429: "RATE_LIMITED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _default_url(name: str) -> str:
    return f"http://127.0.0.1:{domain(name).port}"


@dataclass(frozen=True, slots=True)
class EnvoyOptions:
    """What `coder envoy-config` takes on the command line."""

    listen_address: str = "0.0.0.0"  # noqa: S104 - the front proxy faces the network
    listen_port: int = ENVOY_PORT
    admin_port: int = ENVOY_ADMIN_PORT
    upstream_host: str = "127.0.0.1"
    embedded_port: int | None = None
    edge_url: str = field(default_factory=lambda: _default_url("edge"))
    ui_url: str = field(default_factory=lambda: _default_url("ui"))
    descriptor: Path = DEFAULT_DESCRIPTOR
    rate_limit: int = 1000
    api_timeout_seconds: int = 30
    jwks_cache_seconds: int = 300


@dataclass(frozen=True, slots=True)
class Upstream:
    """One cluster: a name, its endpoints and the gRPC service its health check asks about."""

    name: str
    endpoints: tuple[tuple[str, int], ...]
    health_service: str = ""

    @property
    def static(self) -> bool:
        """True when every endpoint is an IP literal (STATIC cluster, no DNS)."""
        try:
            for host, _ in self.endpoints:
                ipaddress.ip_address(host)
        except ValueError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class GrpcRoute:
    """The route of one gRPC service: its exposed methods go to `cluster`."""

    service: str
    cluster: str
    methods: tuple[str, ...]

    @property
    def prefix(self) -> str:
        return f"/{self.service}/"

    @property
    def paths(self) -> list[str]:
        return [f"/{self.service}/{method}" for method in self.methods]


def exposed_methods(service: str, all_rpcs: Sequence[Rpc]) -> tuple[str, ...]:
    """The RPCs of `service` that Envoy exposes: those with an HTTP binding (the public API).
    RPCs without one are internal (the edge calls them, e.g. sign-in) and are not reachable
    through Envoy."""
    return tuple(rpc.name for rpc in all_rpcs if rpc.service == service and rpc.bindings)


def _http_upstream(name: str, url: str) -> tuple[Upstream, str]:
    """An HTTP/1.1 upstream from a URL, and the URL without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{name} URL must be http://host[:port], got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{name} URL must not carry a path, query or fragment: {url!r}")
    port = parts.port or 80
    return Upstream(name, ((parts.hostname, port),)), f"http://{parts.netloc}"


def _route_match(method: str, template: str, regex: str | None) -> dict[str, Any]:
    match: dict[str, Any] = {"safe_regex": {"regex": f"^{regex}$"}} if regex else {"path": template}
    match["headers"] = [{"name": ":method", "string_match": {"exact": method}}]
    return match


def _public_matches(all_rpcs: Sequence[Rpc]) -> list[dict[str, Any]]:
    """Route matches of every exposed public RPC: its HTTP bindings and its gRPC path."""
    matches: list[dict[str, Any]] = []
    for rpc in all_rpcs:
        if not rpc.public or not rpc.bindings:
            continue
        for binding in rpc.bindings:
            matches.append(_route_match(binding.method, binding.template, binding.regex))
        matches.append({"path": rpc.grpc_path})
    return matches


def build_context(options: EnvoyOptions, services: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Everything the template needs. `services` maps each implemented domain to the full names
    of its gRPC services (the catalog's `ServiceDefinition.service_names`)."""
    if not services:
        raise ValueError("no implemented domain: nothing to route /api/ to")
    descriptor_set = load_descriptor_set(options.descriptor)

    def endpoint(name: str) -> tuple[str, int]:
        port = options.embedded_port or domain(name).port
        return (options.upstream_host, port)

    upstreams: list[Upstream] = []
    routes: list[tuple[str, str]] = []  # (gRPC service full name, cluster)
    for name in sorted(services):
        names = list(services[name])
        upstreams.append(Upstream(name, (endpoint(name),), names[0]))
        routes += [(service, name) for service in names]
    # Every server hosts OpsService: its cluster balances over all of them.
    ops_endpoints = tuple(dict.fromkeys(endpoint(name) for name in sorted(services)))
    upstreams.append(Upstream("ops", ops_endpoints, OPS_SERVICE))
    routes.append((OPS_SERVICE, "ops"))

    transcoded = [service for service, _ in routes]
    all_rpcs = rpcs(descriptor_set, transcoded)
    grpc_routes = [
        GrpcRoute(service, cluster, exposed_methods(service, all_rpcs))
        for service, cluster in routes
    ]
    edge, edge_url = _http_upstream("edge", options.edge_url)
    ui, _ = _http_upstream("ui", options.ui_url)
    if options.rate_limit < 1:
        raise ValueError("rate limit must be at least 1 request per second")
    return {
        "options": options,
        "grpc_upstreams": upstreams,
        "http_upstreams": [edge, ui],
        "grpc_routes": [route for route in grpc_routes if route.methods],
        "transcoded_services": transcoded,
        "public_matches": _public_matches(all_rpcs),
        "jwks_uri": f"{edge_url}/.well-known/jwks.json",
        "jwt_provider": JWT_PROVIDER,
        "local_reply_reasons": LOCAL_REPLY_REASONS,
        "error_domain": ERROR_DOMAIN,
        "created_resources": {
            rpc.grpc_path: rpc.resource_field for rpc in all_rpcs if rpc.creates and rpc.bindings
        },
        "contract_lua": LUA.read_text(),
        "descriptor_b64": base64.b64encode(
            transcoder_descriptor_set(descriptor_set, transcoded)
        ).decode(),
    }


def _json(value: Any) -> str:
    """A YAML flow scalar/collection: JSON is YAML, and unambiguous for any string."""
    return json.dumps(value, sort_keys=True)


def render(options: EnvoyOptions, services: Mapping[str, Sequence[str]]) -> str:
    """The config as YAML text."""
    environment = jinja2.Environment(  # noqa: S701 - renders YAML, not HTML
        loader=jinja2.FileSystemLoader(TEMPLATE.parent),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["j"] = _json
    return environment.get_template(TEMPLATE.name).render(build_context(options, services))


def implemented_services() -> dict[str, tuple[str, ...]]:
    """Implemented domain → its gRPC service names, from the catalog."""
    from services import catalog

    return {definition.domain: definition.service_names for definition in catalog.load_all()}


def write(options: EnvoyOptions, output: Path = DEFAULT_OUTPUT) -> Path:
    """Render the config for the catalog's implemented domains into `output`."""
    text = render(options, implemented_services())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return output
