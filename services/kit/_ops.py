"""OpsService: the echo RPC every server hosts beside health and reflection."""

from __future__ import annotations

import grpc

from coder.ops.v1 import ops_pb2, ops_pb2_grpc


class OpsServicer(ops_pb2_grpc.OpsServiceServicer):
    async def Echo(
        self, request: ops_pb2.EchoRequest, context: grpc.aio.ServicerContext
    ) -> ops_pb2.EchoResponse:
        return ops_pb2.EchoResponse(message=request.message)
