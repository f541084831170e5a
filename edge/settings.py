"""Settings of the edge process, read from `CODER_EDGE_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DESCRIPTOR_SET = Path(__file__).resolve().parents[1] / "gen" / "descriptor.binpb"


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CODER_EDGE_", env_file=".env", extra="ignore", populate_by_name=True
    )

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
    public_url: str = Field(
        "",
        description="Public base URL of the edge (OIDC redirect URIs, `jwks_uri`); empty means "
        "the URL the request came in on.",
    )
    ui_url: str = Field(
        "http://localhost:3000",
        description="Base URL of the web app; an OIDC sign-in ends at `<ui_url>/auth/complete`.",
    )
    cors_origins: str = Field(
        "",
        description="Browser origins allowed to call the edge cross-origin, comma-separated "
        "(`http://127.0.0.1:3000`); empty allows none. `coder dev` defaults it to the UI's.",
    )
    cors_max_age_seconds: int = Field(
        600, ge=0, le=7200, description="How long a browser may cache a preflight answer."
    )
    cache_url: str = Field(
        "memory://",
        validation_alias=AliasChoices("cache_url", "CODER_EDGE_CACHE_URL", "CODER_CACHE_URL"),
        description="Rate limits and OIDC flow state: `memory://` (embedded) or `redis://…` "
        "shared by every edge replica (`CODER_CACHE_URL`).",
    )
    cookie_secure: bool = Field(
        True, description="Mark the auth cookies `Secure`; turn off only for plain-http dev."
    )
    refresh_cookie_seconds: int = Field(
        30 * 86_400, description="Max-Age of the refresh cookie (identity's session lifetime)."
    )
    oidc_providers: str = Field(
        "",
        description='OpenID Connect providers, JSON: {"google": {"clientId": "…", '
        '"clientSecret": "…"}, "<name>": {"discoveryUrl": "…", "clientId": "…", '
        '"clientSecret": "…", "scope": "openid email profile"}}; `google` needs no discoveryUrl.',
    )
    oidc_flow_seconds: int = Field(600, description="How long an OIDC sign-in may take.")
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        description="Proxies in front of the edge that append to X-Forwarded-For (1 behind "
        "Envoy); the client IP is the entry that many from the right, else the socket peer.",
    )
    auth_login_limit: int = Field(
        10, ge=1, description="Sign-in attempts (login, register, OIDC, token) per IP per window."
    )
    auth_limit: int = Field(60, ge=1, description="Other /auth/* calls per IP per window.")
    auth_window_seconds: float = Field(60.0, gt=0, description="Window of the /auth/* limits.")
    api_user_limit: int = Field(50, ge=1, description="/api calls per user per API window.")
    api_organization_limit: int = Field(
        500, ge=1, description="/api calls per organization per API window."
    )
    api_ip_limit: int = Field(
        50, ge=1, description="/api calls per IP per API window, for calls without a valid token."
    )
    api_window_seconds: float = Field(1.0, gt=0, description="Window of the /api limits.")
    jwks_max_age_seconds: int = Field(
        5, ge=0, description="How long /.well-known/jwks.json is cached (edge and clients)."
    )
