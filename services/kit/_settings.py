"""Settings of a process, read from `CODER_*` environment variables (and `.env`).

Backends are chosen by URL; every default is the embedded one, so a laptop needs no setup:
- store: `sqlite:///<path>` (default `.coder/coder.db`) or
  `cosmos://<host>:<port>/<database>?key=<key>[&tls=false]` (also `cosmos+https://…`);
- bus: `memory://` or `amqp://user:pass@host:5672/vhost`;
- cache, rate limits, locks: `memory://` or `redis://host:6379/0`;
- durable execution: Temporal's frontend `host:port` (`coder dev` runs the dev server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit._temporal import TemporalSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".coder"), description="Embedded state: SQLite file, dev keys.")
    store_url: str = Field("", description="Document store URL; empty means SQLite in data_dir.")
    bus_url: str = Field("memory://", description="Event bus URL.")
    cache_url: str = Field("memory://", description="Cache, rate limiter and lock URL.")

    temporal_url: str = Field(
        "", description="Temporal frontend host:port; empty: none (coder dev sets its own)."
    )
    temporal_namespace: str = Field("default", description="Temporal namespace.")
    temporal_tls: bool = Field(False, description="Reach Temporal over TLS.")
    temporal_api_key: SecretStr = Field(
        SecretStr(""), description="Temporal Cloud API key (implies TLS)."
    )
    temporal_ca_file: Path | None = Field(None, description="CA bundle of Temporal's server.")
    temporal_client_cert_file: Path | None = Field(None, description="mTLS client certificate.")
    temporal_client_key_file: Path | None = Field(None, description="mTLS client private key.")

    host: str = Field("127.0.0.1", description="Address the gRPC server binds.")
    grpc_port: int | None = Field(
        None, description="gRPC port; default: the registry's port, or 50051 for `coder dev`."
    )

    peers: str = Field(
        "", description='Other services\' addresses, JSON: {"ai": "ai.internal:3006"}.'
    )
    peer_host: str = Field(
        "127.0.0.1", description="Host of services not in `peers` (on their registry port)."
    )

    service_key: SecretStr = Field(
        SecretStr(""),
        description="This service's private JWK (EC P-256, with kid): signs its client "
        "assertions to identity for delegated tokens (distributed mode; `coder service-key`).",
    )

    jwks_url: str = Field("", description="JWKS URL of the token issuer (the edge).")
    jwks_file: Path | None = Field(None, description="JWKS file; used when jwks_url is empty.")
    jwt_issuer: str = Field("coder", description="Expected `iss` of access tokens.")
    jwt_audience: str = Field("coder-api", description="Expected `aud` of access tokens.")
    jwt_leeway_seconds: float = Field(30.0, description="Clock skew tolerated on exp/nbf.")
    token_max_seconds: float = Field(
        900.0,
        gt=0,
        description="Longest lifetime (exp - iat) of an access token the services accept; a "
        "revocation is kept this long plus the leeway. Identity's token lifetimes must fit.",
    )
    revocation_sync_seconds: float = Field(
        10.0, gt=0, description="How often a process reloads the shared set of revocations."
    )

    log_level: str = Field("info", description="debug, info, warning, error.")
    log_format: Literal["json", "console"] = Field("json", description="Log line format.")
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port serving Prometheus metrics (text format, on `host`); unset: none.",
    )
    deployment_environment: str = Field(
        "development",
        description="`deployment.environment.name` of this process's telemetry "
        "(OTEL_RESOURCE_ATTRIBUTES overrides it).",
    )

    grace_seconds: float = Field(10.0, description="Drain time on SIGTERM.")
    max_message_bytes: int = Field(8 * 1024 * 1024, description="Max gRPC message size.")
    keepalive_time_ms: int = Field(30_000, description="gRPC keepalive ping interval.")
    keepalive_timeout_ms: int = Field(10_000, description="gRPC keepalive ack timeout.")
    default_deadline_seconds: float = Field(
        30.0, description="Budget for calls that arrive without a deadline."
    )

    outbox_poll_seconds: float = Field(0.5, description="Outbox relay idle poll interval.")
    outbox_linger_seconds: float = Field(
        0.01,
        ge=0,
        description="How long the outbox relay waits after a commit wakes it, so that the "
        "commits right behind it leave in the same pass.",
    )
    bus_max_retries: int = Field(5, description="Deliveries before a message is dead-lettered.")
    bus_retry_delay_ms: int = Field(1000, description="Delay before a failed delivery is retried.")

    def temporal(self) -> TemporalSettings:
        return TemporalSettings(
            url=self.temporal_url,
            namespace=self.temporal_namespace,
            tls=self.temporal_tls,
            api_key=self.temporal_api_key.get_secret_value(),
            ca_file=self.temporal_ca_file,
            client_cert_file=self.temporal_client_cert_file,
            client_key_file=self.temporal_client_key_file,
        )

    def resolved_store_url(self) -> str:
        if self.store_url:
            return self.store_url
        return f"sqlite:///{(self.data_dir / 'coder.db').as_posix()}"
