"""OpsService: the probes every server hosts beside health and reflection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from coder.ops.v1 import ops_pb2, ops_pb2_grpc


class OpsServicer(ops_pb2_grpc.OpsServiceServicer):
    async def Echo(
        self, request: ops_pb2.EchoRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.EchoResponse:
        return ops_pb2.EchoResponse(message=request.message)

    async def Ticks(
        self, request: ops_pb2.TicksRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[ops_pb2.TicksResponse]:
        # The cursor of a tick is its sequence number; validation allows digits only.
        start = int(request.cursor) + 1 if request.cursor else 1
        for sequence in range(start, request.count + 1):
            await asyncio.sleep(request.interval_ms / 1000)
            now = Timestamp()
            now.GetCurrentTime()
            yield ops_pb2.TicksResponse(sequence=sequence, cursor=str(sequence), time=now)
