"""Settings of the edge process, read from `CODER_EDGE_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.proxies import parse_networks

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
        True,
        description="Mark the auth cookies `Secure`. Unset, `coder dev` on a loopback address "
        "turns it off (browsers reach it over plain http); every other way the edge runs "
        "keeps it on. Set it to force either way.",
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
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or CIDRs of the proxies in front of the edge "
        "(Envoy's address as the edge sees it, e.g. `127.0.0.1/32` on one host); only their "
        "forwarding headers count. Empty (the default): the client is the socket peer.",
    )
    trusted_proxy_hops: int = Field(
        1,
        ge=1,
        description="How many trusted proxies may stand in a row (1 behind Envoy): the client "
        "is the first forwarded address, walking right to left, that no trusted proxy wrote.",
    )
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = Field(
        "x-forwarded-for",
        description="The header the trusted proxies write the client into: `x-forwarded-for` "
        "(with `x-forwarded-proto`; Envoy) or `forwarded` (RFC 7239).",
    )
    header_count_limit: int = Field(100, ge=1, description="Most request header fields (431).")
    header_bytes_limit: int = Field(
        16 * 1024, ge=1024, description="Largest request head: request line and headers (431)."
    )
    header_field_bytes_limit: int = Field(
        8 * 1024, ge=256, description="Largest single header field, name and value (431)."
    )
    authorization_bytes_limit: int = Field(
        4 * 1024,
        ge=256,
        description="Largest Authorization header (431); it travels on as gRPC metadata, "
        "whose whole size is limited too.",
    )
    url_bytes_limit: int = Field(8 * 1024, ge=256, description="Longest request target (414).")
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Time for a request's head to arrive once it began (408)."
    )
    body_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest wait for the next piece of a declared body (408)."
    )
    json_depth_limit: int = Field(
        32, ge=2, description="Deepest nesting of arrays and objects in a JSON body (400)."
    )
    hsts_seconds: int = Field(
        31_536_000,
        ge=0,
        description="`max-age` of Strict-Transport-Security, sent on https requests only "
        "(TLS to the edge, or a trusted proxy saying https); 0 sends none.",
    )
    auth_login_limit: int = Field(
        10, ge=1, description="Sign-in attempts (login, register, OIDC, token) per IP per window."
    )
    auth_account_limit: int = Field(
        10,
        ge=1,
        description="Password sign-ins per account (email) per window, from any IP; taken "
        "before identity hashes the password.",
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

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # refuse a malformed list at start-up, not on the first request
        return value
