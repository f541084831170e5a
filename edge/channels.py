"""gRPC channels from the edge to the services, one per target, opened at start-up.

The edge passes token, request id, trace context and deadline on every call itself, so its
channels carry no client interceptor (which would cost an extra task per call).
"""

from __future__ import annotations

from typing import Protocol

import grpc

from edge.settings import EdgeSettings
from services.kit import ServiceChannels, domain


class ChannelSource(Protocol):
    """Anything that hands out the channel of a domain (`services.kit.ServiceChannels` too)."""

    def channel(self, domain: str) -> grpc.aio.Channel: ...

    async def close(self) -> None: ...


class EdgeChannels:
    """Channels by domain: every domain to `grpc_target` when set (embedded mode), else to its
    address in `peers` or on `peer_host` at its registry port."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._one = settings.grpc_target
        self._peers = ServiceChannels.parse_targets(settings.peers)
        self._host = settings.peer_host
        self._max = settings.max_message_bytes
        self._channels: dict[str, grpc.aio.Channel] = {}

    def target(self, name: str) -> str:
        if self._one:
            return self._one
        return self._peers.get(name) or f"{self._host}:{domain(name).port}"

    def channel(self, domain: str) -> grpc.aio.Channel:
        target = self.target(domain)
        found = self._channels.get(target)
        if found is None:
            found = grpc.aio.insecure_channel(
                target,
                options=[
                    ("grpc.max_receive_message_length", self._max),
                    ("grpc.max_send_message_length", self._max),
                    ("grpc.keepalive_time_ms", 30_000),
                ],
            )
            self._channels[target] = found
        return found

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()
