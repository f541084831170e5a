"""gRPC channels from the edge to the services, one per target, opened at start-up.

The edge passes token, request id, trace context and deadline on every call itself, so its
channels carry no client interceptor (which would cost an extra task per call).
"""

from __future__ import annotations

from typing import Protocol

import grpc

from edge.settings import EdgeSettings
from services.kit import ServiceChannels


class ChannelSource(Protocol):
    """Anything that hands out the channel of a domain (`services.kit.ServiceChannels` too)."""

    def channel(self, domain: str) -> grpc.aio.Channel: ...

    async def close(self) -> None: ...


def edge_channels(settings: EdgeSettings) -> ServiceChannels:
    """Channels by domain: every domain to `grpc_target` when set (embedded mode), else to its
    address in `peers` or on `peer_host` at its registry port; no client interceptor."""
    return ServiceChannels(
        targets=ServiceChannels.parse_targets(settings.peers),
        default_host=settings.peer_host,
        every_domain_to=settings.grpc_target,
        max_message_bytes=settings.max_message_bytes,
        propagate=False,
    )
