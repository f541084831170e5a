"""Typed calls to other services, with the caller's token or on behalf of an event.

`await resources.peers.stub(PlanningServiceStub)` gives the typed stub of a peer domain (the
domain comes from the stub's proto package); calls made with it pass the current caller's
token, ids, trace context and budget on (`ContextPropagation`).

Work started by an event has no caller token. `await resources.peers.stub(PlanningServiceStub,
on_behalf_of=event)` gives a stub whose calls carry a delegated token instead: identity issues
it by RFC 8693 token exchange, with the event's actor as `sub`, this service as `act`, the
event's organization as `org`, and the target domain as audience (`coder.planning`), for five
minutes. Tokens are cached per (acting service, subject, organization, audience, scope) until a
minute before they expire. The calls also carry the event's trace context (when no span is
current) and a deadline.

How this process gets the token: when identity is hosted in the same process (embedded mode)
it attaches an in-process exchanger at registration, and no credential is needed. Otherwise
the process signs a client assertion (RFC 7523: a JWT with `iss` = `sub` = `service:<domain>`,
`aud` `coder.identity`, one minute, a fresh `jti`) with its own key (`CODER_SERVICE_KEY`) and
calls `IdentityService.ExchangeToken` with it as the bearer token; identity holds only the
public key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import jwt
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import trace

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.identity.v1 import identity_service_pb2 as identity_api
from coder.identity.v1 import identity_service_pb2_grpc as identity_grpc
from services.kit import _errors
from services.kit._auth import domain_audience, issued_at, platform_subject
from services.kit._clients import ServiceChannels
from services.kit._clock import Clock, SystemClock
from services.kit._context import remaining_time
from services.kit._errors import DomainError, FailedPrecondition
from services.kit._ids import new_id
from services.kit._keys import SigningKey
from services.kit._registry import domain as registry_domain

if TYPE_CHECKING:
    from services.kit._revocation import Revocations

S = TypeVar("S")

ISSUED_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 (RFC 8693 token type)
ASSERTION_SECONDS = 60
REFRESH_MARGIN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class DelegationRequest:
    """What a delegated token is asked for: which service acts, for whom, where, and why."""

    actor_domain: str
    subject: actor_pb2.Actor
    organization_id: str
    audience: str
    scope: str = ""
    event_id: str = ""
    event_type: str = ""

    @classmethod
    def for_event(
        cls, actor_domain: str, event: event_pb2.Event, audience: str, scope: str = ""
    ) -> DelegationRequest:
        """The request for work `actor_domain` does on behalf of `event`'s actor."""
        subject = actor_pb2.Actor(kind=event.actor.kind, id=event.actor.id)
        return cls(
            actor_domain=actor_domain,
            subject=subject,
            organization_id=event.organization_id,
            audience=audience,
            scope=" ".join(scope.split()),
            event_id=event.id,
            event_type=event.type,
        )

    @property
    def cache_key(self) -> tuple[str, int, str, str, str, str]:
        return (
            self.actor_domain,
            int(self.subject.kind),
            self.subject.id,
            self.organization_id,
            self.audience,
            self.scope,
        )


@dataclass(frozen=True, slots=True)
class DelegatedToken:
    """A delegated access token and its lifetime in seconds from issue."""

    access_token: str
    expires_in: int
    scope: str = ""


TokenExchanger = Callable[[DelegationRequest], Awaitable[DelegatedToken]]
"""Issues delegated tokens in process (identity attaches one when it is hosted here)."""


def service_key(raw: str) -> SigningKey | None:
    """The process's service key from `CODER_SERVICE_KEY` (a private JWK), or None if unset;
    ValueError when it is not an EC P-256 private JWK with a kid."""
    if not raw.strip():
        return None
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"CODER_SERVICE_KEY is not a JWK: {error}") from error
    if not isinstance(parsed, dict):
        raise ValueError("CODER_SERVICE_KEY must be a JSON object (a private JWK)")
    return SigningKey.from_jwk(parsed)


def client_assertion(key: SigningKey, domain: str, *, now: float | None = None) -> str:
    """A single-use client assertion (RFC 7523 §3) authenticating `domain`'s service to
    identity: `iss` = `sub` = `service:<domain>`, `aud` `coder.identity`, one minute."""
    issued = int(time.time() if now is None else now)
    subject = platform_subject(domain)
    claims = {
        "iss": subject,
        "sub": subject,
        "aud": domain_audience("identity"),
        "iat": issued,
        "exp": issued + ASSERTION_SECONDS,
        "jti": new_id(),
    }
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})


@dataclass(slots=True)
class _Cached:
    token: str
    refresh_at: float
    issued_at: float


@dataclass(slots=True)
class _KeyLock:
    lock: asyncio.Lock
    users: int = 0


class _Shared:
    """What every view of one process's peers shares: channels, credentials, token cache."""

    def __init__(
        self,
        channels: ServiceChannels,
        clock: Clock,
        key: SigningKey | None,
        deadline_seconds: float,
        cache_size: int,
        revocations: Revocations | None,
    ) -> None:
        self.channels = channels
        self.clock = clock
        self.key = key
        self.deadline_seconds = deadline_seconds
        self.cache_size = cache_size
        self.revocations = revocations
        self.exchanger: TokenExchanger | None = None
        self.tokens: OrderedDict[tuple[str, int, str, str, str, str], _Cached] = OrderedDict()
        self.locks: dict[tuple[str, int, str, str, str, str], _KeyLock] = {}


class Peers:
    """Typed stubs of the suite's other services (in `Resources.peers`).

    A service gets the view that acts as itself (`acting_as(domain)`), so the `act` claim of
    its delegated tokens names it; every view of a process shares one token cache.
    """

    def __init__(
        self,
        channels: ServiceChannels,
        *,
        clock: Clock | None = None,
        key: SigningKey | None = None,
        deadline_seconds: float = 30.0,
        cache_size: int = 10_000,
        revocations: Revocations | None = None,
    ) -> None:
        """`revocations`: a cached delegated token they revoke (its subject removed from the
        organization or its role changed since it was issued) is exchanged again."""
        self._shared = _Shared(
            channels, clock or SystemClock(), key, deadline_seconds, cache_size, revocations
        )
        self._domain = ""

    @property
    def domain(self) -> str:
        """The domain this view acts as ('' for the process-wide view)."""
        return self._domain

    def acting_as(self, domain: str) -> Peers:
        """The view of these peers that acts as `domain`'s service."""
        view = object.__new__(Peers)
        view._shared = self._shared
        view._domain = domain
        return view

    def attach_exchanger(self, exchanger: TokenExchanger) -> None:
        """Issue delegated tokens in process (identity, when hosted here, attaches itself)."""
        self._shared.exchanger = exchanger

    async def stub(
        self,
        factory: Callable[[grpc.aio.Channel], S],
        *,
        on_behalf_of: event_pb2.Event | None = None,
        scope: str = "",
    ) -> S:
        """The typed stub of a peer (`PlanningServiceStub` → the planning service).

        Without `on_behalf_of`, calls pass the current caller's token on. With it, they carry
        a delegated token for the event's actor in the event's organization, narrowed to
        `scope` (space-separated permission patterns) when given, the event's trace context
        and a deadline. Get the stub per unit of work: the token it holds is refreshed by the
        next `stub` call, not by the stub itself (it stays valid for at least a minute).
        Refusals raise the kit's errors (`PermissionDenied` `SUBJECT_NOT_IN_ORGANIZATION`…).
        """
        target = stub_domain(factory)
        channel = self._shared.channels.channel(target)
        if on_behalf_of is None:
            return factory(channel)
        token = await self.delegated_token(target, on_behalf_of, scope=scope)
        return factory(_DelegatedChannel(channel, token, on_behalf_of, self._shared))

    async def delegated_token(
        self, audience: str, event: event_pb2.Event, *, scope: str = ""
    ) -> str:
        """A delegated token for `audience`'s service on behalf of `event` (cached)."""
        if not self._domain:
            raise FailedPrecondition(
                "delegated calls need the peers of a service (Resources.for_service)",
                reason="NO_ACTING_SERVICE",
            )
        registry_domain(audience)
        request = DelegationRequest.for_event(self._domain, event, audience, scope)
        return await self._token(request)

    async def _token(self, request: DelegationRequest) -> str:
        shared = self._shared
        key = request.cache_key
        cached = shared.tokens.get(key)
        if self._usable(request, cached):
            assert cached is not None
            shared.tokens.move_to_end(key)
            return cached.token
        async with self._exclusive(key):
            # Concurrent handlers needing the same token wait for one exchange.
            cached = shared.tokens.get(key)
            if self._usable(request, cached):
                assert cached is not None
                return cached.token
            issued = await self._exchange(request)
            margin = min(REFRESH_MARGIN_SECONDS, issued.expires_in / 5)
            shared.tokens[key] = _Cached(
                issued.access_token,
                shared.clock.monotonic() + issued.expires_in - margin,
                _issued_at(issued.access_token),
            )
            shared.tokens.move_to_end(key)
            while len(shared.tokens) > shared.cache_size:
                shared.tokens.popitem(last=False)
            return issued.access_token

    def _usable(self, request: DelegationRequest, cached: _Cached | None) -> bool:
        """A cached token that is neither due for renewal nor revoked since it was issued."""
        shared = self._shared
        if cached is None or cached.refresh_at <= shared.clock.monotonic():
            return False
        revocations = shared.revocations
        return revocations is None or not revocations.revokes(
            request.organization_id, request.subject.id, cached.issued_at
        )

    async def _exchange(self, request: DelegationRequest) -> DelegatedToken:
        shared = self._shared
        if shared.exchanger is not None:
            return await shared.exchanger(request)
        if shared.key is None:
            raise FailedPrecondition(
                "this process has no service credentials to ask identity for a delegated "
                "token: set CODER_SERVICE_KEY (see `coder service-key`)",
                reason="NO_SERVICE_CREDENTIALS",
            )
        assertion = client_assertion(shared.key, request.actor_domain)
        stub = identity_grpc.IdentityServiceStub(shared.channels.channel("identity"))
        message = identity_api.ExchangeTokenRequest(
            subject=request.subject,
            organization_id=request.organization_id,
            audience=request.audience,
            scope=request.scope,
            event_id=request.event_id,
            event_type=request.event_type,
        )
        try:
            reply: identity_api.ExchangeTokenResponse = await stub.ExchangeToken(
                message,
                metadata=(("authorization", f"Bearer {assertion}"),),
                timeout=_budget(shared.deadline_seconds, None),
            )
        except grpc.aio.AioRpcError as error:
            raise domain_error(error) from error
        return DelegatedToken(reply.access_token, reply.expires_in, reply.scope)

    @contextlib.asynccontextmanager
    async def _exclusive(self, key: tuple[str, int, str, str, str, str]) -> AsyncIterator[None]:
        locks = self._shared.locks
        entry = locks.get(key)
        if entry is None:
            entry = locks[key] = _KeyLock(asyncio.Lock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del locks[key]


def _issued_at(token: str) -> float:
    """When identity issued a delegated token (read from it: identity signed it, and the
    callee verifies it; here it only dates the cache entry)."""
    try:
        return issued_at(jwt.decode(token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        return 0.0


def stub_domain(factory: Callable[..., Any]) -> str:
    """The domain of a generated stub, from its proto package (`coder.planning.v1`)."""
    module = str(getattr(factory, "__module__", ""))
    parts = module.split(".")
    if len(parts) < 3 or parts[0] != "coder":
        raise ValueError(f"{factory!r} is not a generated stub of a coder.<domain>.v1 package")
    registry_domain(parts[1])
    return parts[1]


def _budget(default: float, requested: float | None) -> float:
    """The timeout of a call: the requested one or the default, within the caller's budget."""
    budget = default if requested is None else min(default, requested)
    left = remaining_time()
    return budget if left is None else min(budget, left)


_ERRORS: dict[grpc.StatusCode, type[DomainError]] = {
    cls.code: cls
    for cls in (
        _errors.InvalidArgument,
        _errors.NotFound,
        _errors.AlreadyExists,
        _errors.FailedPrecondition,
        _errors.Aborted,
        _errors.Unauthenticated,
        _errors.PermissionDenied,
        _errors.ResourceExhausted,
        _errors.Unavailable,
        _errors.DeadlineExceeded,
        _errors.Unimplemented,
    )
}


def domain_error(error: grpc.aio.AioRpcError) -> DomainError:
    """The kit error of a peer's refusal, with its ErrorInfo reason, so a delegated call fails
    the same way whether identity answered in process or over gRPC."""
    reason = ""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            for detail in status_pb2.Status.FromString(value).details:
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    reason = info.reason
    kind = _ERRORS.get(error.code(), DomainError)
    return kind(str(error.details() or error.code().name), reason=reason or None)


class _DelegatedChannel(grpc.aio.Channel):  # type: ignore[misc]
    """A channel whose calls carry a delegated token, the event's trace context when no span
    is current, and a deadline; generated stubs are built on it as on any channel."""

    def __init__(
        self, channel: grpc.aio.Channel, token: str, event: event_pb2.Event, shared: _Shared
    ) -> None:
        self._channel = channel
        self._token = token
        self._event = event
        self._shared = shared

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        metadata = grpc.aio.Metadata(*(kwargs.get("metadata") or ()))
        metadata["authorization"] = f"Bearer {self._token}"
        if not trace.get_current_span().get_span_context().is_valid and self._event.traceparent:
            metadata["traceparent"] = self._event.traceparent
            if self._event.tracestate:
                metadata["tracestate"] = self._event.tracestate
        kwargs["metadata"] = metadata
        kwargs["timeout"] = _budget(self._shared.deadline_seconds, kwargs.get("timeout"))
        return kwargs

    def _bind(self, callable_: Any) -> Any:
        def call(request: Any, **kwargs: Any) -> Any:
            return callable_(request, **self._options(kwargs))

        return call

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind(self._channel.unary_unary(method, *args, **kwargs))

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind(self._channel.unary_stream(method, *args, **kwargs))

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind(self._channel.stream_unary(method, *args, **kwargs))

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._bind(self._channel.stream_stream(method, *args, **kwargs))

    # The underlying channel is shared and owned by ServiceChannels: this view never closes it.
    async def __aenter__(self) -> _DelegatedChannel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def close(self, grace: float | None = None) -> None:
        return None

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()
