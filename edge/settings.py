"""Settings of the edge process, read from `CODER_EDGE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DESCRIPTOR_SET = Path(__file__).resolve().parents[1] / "gen" / "descriptor.binpb"


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CODER_EDGE_", env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(3001, description="HTTP port of the edge.")
    descriptor_set: Path = Field(
        DEFAULT_DESCRIPTOR_SET, description="Descriptor set the routes are built from."
    )
    grpc_target: str = Field(
        "",
        description="One `host:port` serving every service (embedded mode); empty means each "
        "domain's address from `peers` or `peer_host` and the registry port.",
    )
    peers: str = Field("", description='Services\' addresses, JSON: {"ai": "ai.internal:3006"}.')
    peer_host: str = Field("127.0.0.1", description="Host of services not in `peers`.")
    probe_domain: str = Field(
        "planning",
        description="Domain whose server answers OpsService calls (every server hosts it).",
    )
    body_limit_bytes: int = Field(1024 * 1024, description="Largest request body accepted.")
    deadline_seconds: float = Field(30.0, description="Budget of a unary call.")
    stream_deadline_seconds: float = Field(
        3600.0, description="Budget of a streaming call (SSE, NDJSON, WebSocket subscription)."
    )
    heartbeat_seconds: float = Field(15.0, description="SSE heartbeat comment interval.")
    ws_queue_size: int = Field(256, description="Frames buffered per WebSocket connection.")
    ws_send_timeout_seconds: float = Field(
        10.0, description="How long a full WebSocket send queue may block before closing 1013."
    )
    max_message_bytes: int = Field(8 * 1024 * 1024, description="Max gRPC message size.")
    jwks_url: str = Field("", description="JWKS of the token issuer, to verify WebSocket tokens.")
    jwks_file: Path | None = Field(None, description="JWKS file; used when jwks_url is empty.")
    jwt_issuer: str = Field("coder", description="Expected `iss` of access tokens.")
    jwt_audience: str = Field("coder-api", description="Expected `aud` of access tokens.")
    server_url: str = Field("", description="Public base URL put in the OpenAPI `servers`.")
