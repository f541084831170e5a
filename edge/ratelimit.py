"""Rate limits of the edge, on the kit's `RateLimiter` (GCRA; in-process when embedded, Redis
when `CODER_CACHE_URL` names one, so every edge replica shares the counts).

- `/auth/*`: per client IP; sign-in attempts (`login`) have their own, tighter policy, and a
  password sign-in is also limited per account (`account`, keyed by a digest of the email), so
  many IPs cannot make identity hash one account's passwords faster than that.
- `/api/*`: per user (`sub` of the verified bearer token) and per organization (`org`); a call
  without a valid token is limited per IP instead, and left for the service to refuse.

A refused call is 429 with `Retry-After` and the error body (ErrorInfo reason `RATE_LIMITED`).
The quota travels in the structured-field headers of the IETF draft
(draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "user";q=50;w=1` and
`RateLimit: "user";r=0;t=1` (remaining hits, seconds until the full quota is back); `/api`
responses carry them always, `/auth` ones when refused.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import code_pb2

from edge.errors import EdgeRefusal, edge_status
from edge.gateway import error_response, scope_request_id
from edge.settings import EdgeSettings
from services.kit import Principal, TokenVerifier, Unauthenticated
from services.kit.cache import RateDecision, RateLimiter

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Policy:
    """A named quota: `limit` hits per `window` seconds per key."""

    name: str
    limit: int
    window: float


def client_ip(scope: Scope) -> str:
    """The client's address as the front door resolved it (`edge.proxies`: the socket peer,
    or what a trusted proxy forwarded)."""
    client = scope.get("client")
    return str(client[0])[:64] if client else "unknown"


def account_key(email: str) -> str:
    """The per-account limit's key of a sign-in email: a digest of it as identity normalizes
    it, so the cache holds no addresses and every spelling of one account shares a count."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def policy_headers(policy: Policy, decision: RateDecision) -> dict[str, str]:
    """`RateLimit-Policy` and `RateLimit` of one decision (and `Retry-After` when refused)."""
    headers = {
        "ratelimit-policy": f'"{policy.name}";q={policy.limit};w={math.ceil(policy.window)}',
        "ratelimit": f'"{policy.name}";r={decision.remaining};t={math.ceil(decision.reset_after)}',
    }
    if not decision.allowed:
        headers["retry-after"] = str(max(1, math.ceil(decision.retry_after)))
    return headers


def refusal(policy: Policy, decision: RateDecision) -> EdgeRefusal:
    status = edge_status(
        code_pb2.RESOURCE_EXHAUSTED,
        f"too many requests; retry in {max(1, math.ceil(decision.retry_after))} s",
        "RATE_LIMITED",
        metadata={"policy": policy.name},
    )
    return EdgeRefusal(status, headers=policy_headers(policy, decision))


class RateLimits:
    """The edge's policies on a limiter bound at start-up (`limiter` is set in the lifespan)."""

    def __init__(self, settings: EdgeSettings) -> None:
        self.login = Policy("login", settings.auth_login_limit, settings.auth_window_seconds)
        self.account = Policy("account", settings.auth_account_limit, settings.auth_window_seconds)
        self.auth = Policy("auth", settings.auth_limit, settings.auth_window_seconds)
        self.user = Policy("user", settings.api_user_limit, settings.api_window_seconds)
        self.organization = Policy(
            "organization", settings.api_organization_limit, settings.api_window_seconds
        )
        self.ip = Policy("ip", settings.api_ip_limit, settings.api_window_seconds)
        self.limiter: RateLimiter | None = None

    async def hit(self, policy: Policy, key: str) -> RateDecision:
        assert self.limiter is not None, "the limiter is bound in the app's lifespan"
        return await self.limiter.hit(
            f"rl:{policy.name}:{key}", limit=policy.limit, window=policy.window
        )

    async def enforce(self, policy: Policy, key: str) -> RateDecision:
        """Count a hit; raise the 429 refusal when it does not fit."""
        decision = await self.hit(policy, key)
        if not decision.allowed:
            raise refusal(policy, decision)
        return decision


class ApiRateLimit:
    """ASGI wrapper limiting `/api/*` per user and organization (per IP without a valid
    token) before the wrapped app runs; every answer carries the RateLimit headers."""

    def __init__(self, app: App, limits: RateLimits, verifier: TokenVerifier | None) -> None:
        self._app = app
        self._limits = limits
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            policy, decision = await self._decide(scope, headers)
        except EdgeRefusal as refused:
            request_id = scope_request_id(scope, headers)
            await error_response(refused.to_http(request_id), request_id)(scope, receive, send)
            return
        extra = [(k.encode(), v.encode()) for k, v in policy_headers(policy, decision).items()]

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self._app(scope, receive, send_with_headers)

    async def _decide(
        self, scope: Scope, headers: Mapping[str, str]
    ) -> tuple[Policy, RateDecision]:
        principal = await self._principal(headers.get("authorization", ""))
        limits = self._limits
        if principal is None:
            ip = client_ip(scope)
            return limits.ip, await limits.enforce(limits.ip, ip)
        user = await limits.enforce(limits.user, principal.subject)
        organization = await limits.enforce(limits.organization, principal.organization_id)
        if organization.remaining < user.remaining:
            return limits.organization, organization
        return limits.user, user

    async def _principal(self, authorization: str) -> Principal | None:
        scheme, _, token = authorization.partition(" ")
        if self.verifier is None or scheme.lower() != "bearer" or not token:
            return None
        try:
            return await self.verifier.verify(token.strip())
        except (Unauthenticated, grpc.aio.AioRpcError):
            # The service refuses the token itself; here it only picks the limit's key.
            return None
