"""Provider keys, read from Secret Management at call time for the caller.

The AI service never stores a key: a provider names a secret, and each call reads its value
with GetSecretValue on a delegated token for the caller (subject the caller, `act` this
service), so Secret Management decides per caller (owner, grantee) and audits the read with
the calling service. Values are kept in process for a short while per organization, caller
and secret, so a stream of calls pays one read; they are never logged, and refusals name the
secret id only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from google.protobuf import empty_pb2

from coder.secret.v1 import secret_service_pb2, secret_service_pb2_grpc
from services.ai._peers import answered
from services.kit import Clock, FailedPrecondition, Peers, Principal
from services.kit.bus import EventFactory

READ_REASON = "ai completion"
RESOLVE_EVENT = "ai.credential.resolving"
"""Names the unit of work a delegated token is issued for (it is never published)."""


class Credentials(Protocol):
    async def api_key(self, principal: Principal, secret_id: str) -> str:
        """The key held by the secret, read with the caller's rights."""
        ...


@dataclass(slots=True)
class _Held:
    value: str
    until: float


class CachedCredentials:
    """Keys of another `Credentials`, kept `ttl` seconds per organization, caller and secret
    (at most `size` of them), so a stream of calls pays one read."""

    def __init__(self, source: Credentials, clock: Clock, ttl: float, size: int = 1024) -> None:
        self._source = source
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._held: dict[tuple[str, str, str], _Held] = {}

    async def api_key(self, principal: Principal, secret_id: str) -> str:
        key = (principal.organization_id, principal.subject, secret_id)
        now = self._clock.monotonic()
        held = self._held.get(key)
        if held is not None and held.until > now:
            return held.value
        value = await self._source.api_key(principal, secret_id)
        if len(self._held) >= self._size:
            self._held = {k: h for k, h in self._held.items() if h.until > now}
            if len(self._held) >= self._size:
                self._held.pop(next(iter(self._held)))
        self._held[key] = _Held(value, now + self._ttl)
        return value


class SecretCredentials:
    """Keys from Secret Management's GetSecretValue, on a delegated token for the caller."""

    def __init__(self, peers: Peers, clock: Clock) -> None:
        self._peers = peers
        self._clock = clock

    async def api_key(self, principal: Principal, secret_id: str) -> str:
        return await self._read(principal, secret_id)

    async def _read(self, principal: Principal, secret_id: str) -> str:
        work = EventFactory.acting(principal, self._clock)(
            RESOLVE_EVENT, secret_id, empty_pb2.Empty()
        )
        secrets = await self._peers.stub(
            secret_service_pb2_grpc.SecretServiceStub,
            on_behalf_of=work,
            scope="secret.value.read",
        )
        answer = await answered(
            secrets.GetSecretValue(
                secret_service_pb2.GetSecretValueRequest(secret_id=secret_id, reason=READ_REASON)
            )
        )
        value = answer.value
        kind = value.WhichOneof("kind")
        if kind == "api_key":
            return str(value.api_key.key)
        if kind == "generic":
            return str(value.generic.value)
        raise FailedPrecondition(
            f"secret {secret_id} holds no API key", reason="CREDENTIAL_NOT_AN_API_KEY"
        )
