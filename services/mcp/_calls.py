"""Calls to the other services of the suite for the caller (its own token passes on): the
platform tools' RPCs and Secret Management for a server's credential. Their refusals become
the kit's errors with their code and reason."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message

from coder.secret.v1 import secret_service_pb2 as secret_api
from coder.secret.v1.secret_service_pb2_grpc import SecretServiceStub
from services.kit import FailedPrecondition, InvalidArgument, Peers, domain_error
from services.mcp._platform import PlatformTool


def request_of(tool: PlatformTool, arguments: dict[str, Any]) -> Message:
    """The tool's RPC request from its arguments (proto3 JSON); INVALID_ARGUMENT when they
    are not of its input schema."""
    try:
        return ParseDict(arguments, tool.request())
    except ParseError as error:
        raise InvalidArgument(
            f"the arguments do not fit {tool.name}: {error}", reason="INVALID_ARGUMENTS"
        ) from None


async def call_platform(
    peers: Peers, tool: PlatformTool, request: Message, seconds: float
) -> Message:
    """Run the tool's RPC on its service for the caller."""
    stub = await peers.stub(tool.stub)
    try:
        reply: Message = await getattr(stub, tool.method)(request, timeout=seconds)
    except grpc.aio.AioRpcError as error:
        raise domain_error(error) from None
    return reply


async def credential(peers: Peers, secret_id: str, server_name: str, seconds: float) -> str:
    """The bearer token a server's secret holds, read with the caller's token (so the caller
    needs `secret.value.read` on it, and Secret Management records the access)."""
    stub = await peers.stub(SecretServiceStub)
    request = secret_api.GetSecretValueRequest(
        secret_id=secret_id, reason=f"MCP server {server_name}"
    )
    try:
        reply: secret_api.GetSecretValueResponse = await stub.GetSecretValue(
            request, timeout=seconds
        )
    except grpc.aio.AioRpcError as error:
        raise domain_error(error) from None
    value = reply.value
    kind = value.WhichOneof("kind")
    if kind == "api_key":
        return value.api_key.key
    if kind == "oauth2_token":
        return value.oauth2_token.access_token
    if kind == "generic":
        return value.generic.value
    raise FailedPrecondition(
        f"secret {secret_id} holds a {kind} value; a server's credential is an API key, an "
        "OAuth 2.0 token or a generic secret",
        reason="CREDENTIAL_UNUSABLE",
    )
