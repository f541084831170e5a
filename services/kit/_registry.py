"""The service registry: every domain of the suite and its port (DESIGN.md, one table).

Envoy's config, `coder dev` and service-to-service clients all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Domain:
    """One domain of the suite."""

    name: str
    port: int
    summary: str

    @property
    def grpc_service_prefix(self) -> str:
        """Fully qualified proto package of the domain's API."""
        return f"coder.{self.name}.v1"


DOMAINS: tuple[Domain, ...] = (
    Domain("ui", 3000, "Next.js web app"),
    Domain("edge", 3001, "FastAPI edge: sign-in, tokens, REST/SSE/WebSocket to gRPC"),
    Domain("prompt", 3002, "prompt templates and versions"),
    Domain("secret", 3003, "centralized secrets: encrypted values, versions, grants, rotation"),
    Domain("usage", 3004, "usage metering and quotas"),
    Domain("embeddings", 3005, "vector embeddings and search"),
    Domain("ai", 3006, "LLM completions through providers"),
    Domain("planning", 3007, "plans, projects and tasks"),
    Domain("execution", 3008, "the plan execution engine"),
    Domain("mcp", 3009, "Model Context Protocol tools"),
    Domain("knowledge", 3010, "documentation management"),
    Domain("dashboard", 3011, "dashboards over live data"),
    Domain("calendar", 3012, "calendars and events"),
    Domain("messaging", 3013, "conversations"),
    Domain("logging", 3014, "log ingestion"),
    Domain("learning", 3015, "learning paths and progress"),
    Domain("collaboration", 3016, "pairing sessions and innovation ideas"),
    Domain("quality", 3017, "experiments and compliance"),
    Domain("resource", 3018, "capacity planning"),
    Domain("workflow", 3019, "workflow orchestration"),
    Domain("observability", 3020, "telemetry and tracing"),
    Domain("notification", 3021, "notifications: inbox, email, webhooks, preferences"),
    Domain("identity", 3022, "accounts, organizations, teams, roles, sessions"),
)

EMBEDDED_GRPC_PORT = 50051
ENVOY_PORT = 8080
ENVOY_ADMIN_PORT = 9901

_BY_NAME = {domain.name: domain for domain in DOMAINS}


def domain(name: str) -> Domain:
    """The registry entry of a domain; KeyError names the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise KeyError(f"unknown domain {name!r}; known: {known}") from None
