"""`POST /auth/token`: the OAuth 2.0 token endpoint for service accounts (RFC 6749 §4.4,
client-credentials grant), in front of identity's IssueServiceToken.

Form-encoded; the client authenticates with HTTP Basic (`client_id:client_secret`, each
form-urlencoded as RFC 6749 §2.3.1 asks) or with `client_id` / `client_secret` form fields, not
both. Errors take the RFC 6749 §5.2 form (`{"error", "error_description"}`) that OAuth client
libraries read — `invalid_request`, `invalid_client` (401, with `WWW-Authenticate` after
Basic), `unsupported_grant_type`, `invalid_scope` — plus the `requestId`. A rate-limit refusal
(429) and an unavailable identity service keep the edge's usual error body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote_plus

import grpc
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from google.rpc import error_details_pb2
from pydantic import BaseModel

from coder.identity.v1 import identity_service_pb2 as api
from edge.auth import TAG, SignIn
from edge.errors import rich_status
from edge.transcoding import CallOptions

GRANT_TYPE = "client_credentials"
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


class TokenAnswer(BaseModel):
    """An OAuth 2.0 access-token response (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class OAuthErrorBody(BaseModel):
    """A token-endpoint error (RFC 6749 §5.2)."""

    error: str
    error_description: str
    requestId: str


_OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OAuthErrorBody, "description": description}
    for status, description in (
        (400, "invalid_request, unsupported_grant_type or invalid_scope"),
        (401, "invalid_client"),
    )
}


class OAuthError(Exception):
    """A token-endpoint refusal in the RFC 6749 §5.2 form."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """Client id and secret from an HTTP Basic header; None without one."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "malformed Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)


def _reason(error: grpc.aio.AioRpcError) -> str:
    for detail in rich_status(error).details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


async def _issue(
    sign_in: SignIn,
    request: Request,
    options: CallOptions,
    credentials: tuple[str, str],
    scope: str,
) -> api.IssueServiceTokenResponse:
    client_id, client_secret = credentials
    try:
        reply: api.IssueServiceTokenResponse = await sign_in.stub.IssueServiceToken(
            api.IssueServiceTokenRequest(
                client_id=client_id,
                client_secret=client_secret,
                scope=scope,
                ip_address=sign_in.client_ip(request),
            ),
            metadata=options.metadata,
            timeout=options.timeout,
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise OAuthError("invalid_client", "client authentication failed", 401) from None
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            kind = "invalid_scope" if _reason(error) == "INVALID_SCOPE" else "invalid_request"
            raise OAuthError(kind, error.details() or kind) from None
        raise
    return reply


def token_router(sign_in: SignIn) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=[TAG])

    @router.post(
        "/token", response_model=TokenAnswer, operation_id="Auth_Token", responses=_OAUTH_ERRORS
    )
    async def token(
        request: Request,
        grant_type: Annotated[str, Form(description="Must be `client_credentials`.")] = "",
        scope: Annotated[
            str, Form(description="Space-separated permissions to narrow the token to.")
        ] = "",
        client_id: Annotated[str, Form(description="Unless sent with HTTP Basic.")] = "",
        client_secret: Annotated[str, Form(description="Unless sent with HTTP Basic.")] = "",
    ) -> Response:
        """OAuth 2.0 client-credentials grant: a service account's access token."""
        await sign_in.limit(request, sign_in.limits.login)
        options = sign_in.options(request)
        authorization = request.headers.get("authorization", "")
        basic = authorization.lower().startswith("basic ")
        try:
            if grant_type != GRANT_TYPE:
                raise OAuthError(
                    "unsupported_grant_type" if grant_type else "invalid_request",
                    f"grant_type must be {GRANT_TYPE}",
                )
            from_header = basic_credentials(authorization)
            if from_header is not None:
                if client_id or client_secret:
                    raise OAuthError("invalid_request", "send the credentials only once")
                client_id, client_secret = from_header
            if not client_id or not client_secret:
                raise OAuthError("invalid_client", "client credentials are required", 401)
            credentials = (client_id, client_secret)
            reply = await _issue(sign_in, request, options, credentials, scope)
        except OAuthError as refused:
            headers = {**_NO_STORE, "x-request-id": options.request_id}
            if refused.status == 401 and basic:
                headers["www-authenticate"] = 'Basic realm="coder"'
            body = {
                "error": refused.error,
                "error_description": refused.description,
                "requestId": options.request_id,
            }
            return JSONResponse(body, refused.status, headers)
        answer = {
            "access_token": reply.access_token,
            "token_type": reply.token_type,
            "expires_in": reply.expires_in,
            "scope": reply.scope,
        }
        return JSONResponse(answer, headers={**_NO_STORE, "x-request-id": options.request_id})

    return router
