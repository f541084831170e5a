"""Calls to other services: channels by domain, with the caller's context passed on.

Every outgoing call made while handling an RPC carries the caller's bearer token (or a service
token the caller supplies), its request id, its W3C trace context, and a timeout no longer than
what is left of the caller's own budget (DESIGN.md, Deadlines). Channels are opened lazily at
run time, one per target, and closed with the process's resources.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import grpc
from opentelemetry import propagate

from services.kit._context import bearer_token, remaining_time, request_id
from services.kit._errors import DeadlineExceeded
from services.kit._registry import domain as registry_domain


def _outgoing(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    if "authorization" not in metadata:
        token = bearer_token()
        if token:
            metadata["authorization"] = f"Bearer {token}"
    if "x-request-id" not in metadata:
        rid = request_id()
        if rid:
            metadata["x-request-id"] = rid
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for key, value in carrier.items():
        if key not in metadata:
            metadata[key] = value
    timeout = details.timeout
    left = remaining_time()
    if left is not None:
        if left <= 0:
            raise DeadlineExceeded("no time left for the downstream call")
        timeout = left if timeout is None else min(timeout, left)
    return grpc.aio.ClientCallDetails(
        details.method, timeout, metadata, details.credentials, details.wait_for_ready
    )


class ContextPropagation(
    grpc.aio.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.aio.UnaryStreamClientInterceptor,  # type: ignore[misc]
):
    """Client interceptor that passes the current call's token, ids and budget on."""

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_outgoing(client_call_details), request)

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_outgoing(client_call_details), request)


class ServiceChannels:
    """gRPC channels to the suite's services, addressed by domain.

    `targets` maps a domain to `host:port`: the domains hosted by this process map to its own
    server, others come from `CODER_PEERS` (a JSON object); a domain listed nowhere goes to
    `every_domain_to` when given (one embedded server hosting all), else to `default_host` on
    its registry port. `propagate=False` leaves out the context-passing client interceptor, for
    a caller that sets token, ids and deadline on every call itself (the edge): the interceptor
    costs an extra task per call.
    """

    def __init__(
        self,
        *,
        targets: Mapping[str, str] | None = None,
        default_host: str = "127.0.0.1",
        every_domain_to: str = "",
        max_message_bytes: int = 8 * 1024 * 1024,
        propagate: bool = True,
    ) -> None:
        self._targets = dict(targets or {})
        self._default_host = default_host
        self._every_domain_to = every_domain_to
        self._interceptors = [ContextPropagation()] if propagate else []
        self._max_message_bytes = max_message_bytes
        self._channels: dict[str, grpc.aio.Channel] = {}

    @staticmethod
    def parse_targets(raw: str) -> dict[str, str]:
        """Parse `CODER_PEERS` (`{"ai": "ai.internal:3006"}`); empty means none."""
        if not raw.strip():
            return {}
        parsed = json.loads(raw)
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
        ):
            raise ValueError("CODER_PEERS must be a JSON object of domain → host:port")
        for name in parsed:
            registry_domain(name)
        return parsed

    def serve_locally(self, domains: Iterable[str], target: str) -> None:
        """Send `domains` to `target` (this process's own server, once it is bound)."""
        for name in domains:
            self._targets[name] = target

    def target(self, domain: str) -> str:
        if domain in self._targets:
            return self._targets[domain]
        if self._every_domain_to:
            return self._every_domain_to
        return f"{self._default_host}:{registry_domain(domain).port}"

    def channel(self, domain: str) -> grpc.aio.Channel:
        """The shared channel to a domain's service (opened on first use)."""
        target = self.target(domain)
        found = self._channels.get(target)
        if found is None:
            found = grpc.aio.insecure_channel(
                target,
                options=[
                    ("grpc.max_receive_message_length", self._max_message_bytes),
                    ("grpc.max_send_message_length", self._max_message_bytes),
                    ("grpc.keepalive_time_ms", 30_000),
                ],
                interceptors=self._interceptors,
            )
            self._channels[target] = found
        return found

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()
