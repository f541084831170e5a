"""`/auth/*`: sign-in over HTTP in front of identity's public RPCs, with the refresh token in a
cookie for browsers.

Browsers get the refresh token in `coder_refresh` (httpOnly, Secure, SameSite=Strict, Path
`/auth`) and a CSRF token in `coder_csrf` (readable by scripts, SameSite=Strict). Every call
that spends the cookie (refresh, logout, switch organization) must echo the CSRF cookie in
`X-CSRF-Token` (double submit). Programs that cannot keep cookies ask for the refresh token in
the body (`"returnRefreshToken": true` at login/register) and send it back as
`{"refreshToken": …}`; a token from the body needs no CSRF header, and the answer carries the
next one in the body instead of a cookie.

The rules (passwords, sessions, rotation, reuse detection) are identity's; this module only
moves tokens between HTTP and gRPC.
"""

from __future__ import annotations

import secrets
from typing import Any

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from google.rpc import code_pb2
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from edge.errors import EdgeRefusal, edge_status, http_error, rich_status
from edge.gateway import error_response, request_id_of
from edge.openapi import EMAIL_PATTERN
from edge.ratelimit import Policy, RateLimits, account_key, client_ip
from edge.settings import EdgeSettings
from edge.transcoding import CallOptions, call_options, render

REFRESH_COOKIE = "coder_refresh"
CSRF_COOKIE = "coder_csrf"
CSRF_HEADER = "x-csrf-token"
REFRESH_PATH = "/auth"
TAG = "auth"

_LABEL_MAX = 200
_AGENT_MAX = 1000


class _Body(BaseModel):
    # Strict: a JSON body's values are taken as their declared type only (`"yes"` is not a
    # boolean, `1` not a string), as the OpenAPI document says; unknown fields are refused.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True
    )


def _email(*, optional: bool = False) -> Any:
    """An email as identity's `email` rule takes it (edge.openapi.EMAIL_PATTERN)."""
    if optional:
        return Field("", max_length=320, pattern=f"^$|{EMAIL_PATTERN}")
    return Field(max_length=320, pattern=EMAIL_PATTERN, json_schema_extra={"format": "email"})


class RegisterBody(_Body):
    """A new account; with `organizationName` also an organization it owns."""

    email: str = _email()
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field(min_length=1, max_length=200)
    organization_name: str = Field("", max_length=200)
    device_label: str = Field("", max_length=_LABEL_MAX, description="Default: the user agent.")
    return_refresh_token: bool = Field(
        False, description="Answer the refresh token in the body instead of a cookie."
    )


class LoginBody(_Body):
    """Password sign-in."""

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    organization_id: str = Field(
        "", max_length=64, description="Default: the most recently used organization."
    )
    device_label: str = Field("", max_length=_LABEL_MAX, description="Default: the user agent.")
    return_refresh_token: bool = Field(
        False, description="Answer the refresh token in the body instead of a cookie."
    )


class RefreshBody(_Body):
    """Optional: a refresh token from the body (then no CSRF header is needed)."""

    refresh_token: str = Field("", max_length=512)


class SwitchOrganizationBody(_Body):
    """The organization to switch the session to: one of the user's, or a new one (how a user
    who signed up through OIDC, and so belongs to none, gets one). Exactly one of
    `organizationId` and `createOrganizationName`."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": [chosen],
                    "properties": {chosen: {"minLength": 1}, other: {"maxLength": 0}},
                }
                for chosen, other in (
                    ("organizationId", "createOrganizationName"),
                    ("createOrganizationName", "organizationId"),
                )
            ]
        }
    )

    organization_id: str = Field("", max_length=64)
    create_organization_name: str = Field("", max_length=200)
    refresh_token: str = Field("", max_length=512)

    @model_validator(mode="after")
    def _one_target(self) -> SwitchOrganizationBody:
        if bool(self.organization_id) == bool(self.create_organization_name):
            raise ValueError("give exactly one of organizationId and createOrganizationName")
        return self


class AcceptInvitationBody(_Body):
    """An invitation token. A new account gives `displayName` and `password` (and `email` for a
    link invitation); a signed-in user sends its bearer token, or `useSession` to spend its
    refresh cookie (with `X-CSRF-Token`), and joins with that account."""

    token: str = Field(min_length=1, max_length=512)
    display_name: str = Field("", max_length=200)
    password: str = Field("", max_length=1024)
    email: str = _email(optional=True)
    device_label: str = Field("", max_length=_LABEL_MAX, description="Default: the user agent.")
    use_session: bool = Field(False, description="Join with the account of the refresh cookie.")
    return_refresh_token: bool = Field(
        False, description="Answer the refresh token in the body instead of a cookie."
    )


class AuthAnswer(_Body):
    """A signed-in session: the access token (keep it in memory) and who it is for."""

    access_token: str = Field(description="JWT, empty while the user has no organization.")
    access_token_expire_time: str | None = None
    user: dict[str, Any]
    organization_id: str
    session: dict[str, Any]
    role: str
    refresh_token: str | None = Field(
        None, description="Only when the refresh token was asked for in the body."
    )


FOLLOW_UPS: dict[str, dict[str, Any]] = {
    "IdentityService_CreateOrganization": {
        "SwitchOrganization": {
            "operationId": "Auth_SwitchOrganization",
            "requestBody": {"organizationId": "$response.body#/organization/id"},
            "description": "The caller's access token stays in its own organization; switching "
            "the session to the new one (a refresh: the cookie with `X-CSRF-Token`, or "
            "`refreshToken` in the body) answers an access token for it.",
        }
    }
}
"""OpenAPI links from API operations to the `/auth` routes that follow them, by operationId."""


def request_id(request: Request) -> str:
    """The request's id (the caller's when sane, else a new one), the same for every use."""
    found = getattr(request.state, "request_id", None)
    if not isinstance(found, str):
        found = request_id_of({k.lower(): v for k, v in request.headers.items()})
        request.state.request_id = found
    return found


def refused(code: int, message: str, reason: str, http_status: int | None = None) -> EdgeRefusal:
    return EdgeRefusal(edge_status(code, message, reason), http_status)


class SignIn:
    """What the `/auth` routes share: settings, limits, and identity's stub (bound in the
    app's lifespan)."""

    def __init__(self, settings: EdgeSettings, limits: RateLimits) -> None:
        self.settings = settings
        self.limits = limits
        self.identity: IdentityServiceStub | None = None

    @property
    def stub(self) -> IdentityServiceStub:
        assert self.identity is not None, "identity is bound in the app's lifespan"
        return self.identity

    def options(self, request: Request) -> CallOptions:
        """Request id, trace context and budget of a call to identity. Its sign-in RPCs are
        public, so no Authorization is passed on (at `/auth/token` it holds client
        credentials)."""
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
        return call_options(headers, request_id(request), self.settings.deadline_seconds)

    def client_ip(self, request: Request) -> str:
        """The caller's address as the front door resolved it (`edge.proxies`)."""
        return client_ip(request.scope)

    async def limit(self, request: Request, policy: Policy) -> None:
        await self.limits.enforce(policy, self.client_ip(request))

    def device(self, request: Request, label: str) -> dict[str, str]:
        agent = request.headers.get("user-agent", "")
        return {
            "device_label": (label or agent)[:_LABEL_MAX],
            "ip_address": self.client_ip(request),
            "user_agent": agent[:_AGENT_MAX],
        }

    def answer(
        self, result: api.AuthResult, options: CallOptions, *, in_body: bool, status: int = 200
    ) -> JSONResponse:
        """The session as JSON; the refresh token in the body or in the cookies."""
        document = render(result)
        refresh_token = document.pop("refreshToken", "")
        document.setdefault("accessTokenExpireTime", None)
        if in_body:
            document["refreshToken"] = refresh_token
        response = JSONResponse(document, status, {"x-request-id": options.request_id})
        response.headers["cache-control"] = "no-store"
        if not in_body:
            self.set_cookies(response, refresh_token)
        return response

    def set_cookies(self, response: Response, refresh_token: str) -> None:
        secure = self.settings.cookie_secure
        response.set_cookie(
            REFRESH_COOKIE,
            refresh_token,
            max_age=self.settings.refresh_cookie_seconds,
            path=REFRESH_PATH,
            secure=secure,
            httponly=True,
            samesite="strict",
        )
        response.set_cookie(
            CSRF_COOKIE,
            secrets.token_urlsafe(32),
            max_age=self.settings.refresh_cookie_seconds,
            path="/",
            secure=secure,
            httponly=False,
            samesite="strict",
        )

    def clear_cookies(self, response: Response) -> None:
        secure = self.settings.cookie_secure
        response.delete_cookie(
            REFRESH_COOKIE, path=REFRESH_PATH, secure=secure, httponly=True, samesite="strict"
        )
        response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")

    def refresh_token(self, request: Request, from_body: str) -> tuple[str, bool]:
        """The refresh token to spend and whether it came from the body. A cookie counts only
        with a matching `X-CSRF-Token` header."""
        if from_body:
            return from_body, True
        cookie = request.cookies.get(REFRESH_COOKIE, "")
        if not cookie:
            raise refused(code_pb2.UNAUTHENTICATED, "no refresh token", "REFRESH_TOKEN_MISSING")
        expected = request.cookies.get(CSRF_COOKIE, "")
        given = request.headers.get(CSRF_HEADER, "")
        if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            raise refused(
                code_pb2.PERMISSION_DENIED,
                "the X-CSRF-Token header must equal the coder_csrf cookie",
                "CSRF_MISMATCH",
            )
        return cookie, False

    async def refresh(
        self,
        request: Request,
        from_body: str,
        organization_id: str = "",
        create_organization_name: str = "",
    ) -> Response:
        """Spend a refresh token for the next one (optionally switching organization)."""
        token, in_body = self.refresh_token(request, from_body)
        options = self.options(request)
        try:
            reply: api.RefreshSessionResponse = await self.stub.RefreshSession(
                api.RefreshSessionRequest(
                    refresh_token=token,
                    organization_id=organization_id,
                    create_organization_name=create_organization_name,
                    ip_address=self.client_ip(request),
                ),
                metadata=options.metadata,
                timeout=options.timeout,
            )
        except grpc.aio.AioRpcError as error:
            response = error_response(
                http_error(rich_status(error), options.request_id), options.request_id
            )
            if not in_body and error.code() == grpc.StatusCode.UNAUTHENTICATED:
                self.clear_cookies(response)
            return response
        return self.answer(reply.result, options, in_body=in_body)


def auth_router(sign_in: SignIn) -> APIRouter:
    """The `/auth` routes on `sign_in`'s resources."""
    router = APIRouter(prefix="/auth", tags=[TAG])
    limits = sign_in.limits

    @router.post(
        "/register", response_model=AuthAnswer, status_code=201, operation_id="Auth_Register"
    )
    async def register(request: Request, body: RegisterBody) -> Response:
        """Create an account (and optionally its organization) and sign it in."""
        await sign_in.limit(request, limits.login)
        options = sign_in.options(request)
        reply: api.RegisterResponse = await sign_in.stub.Register(
            api.RegisterRequest(
                email=body.email,
                password=body.password,
                display_name=body.display_name,
                organization_name=body.organization_name,
                **sign_in.device(request, body.device_label),
            ),
            metadata=options.metadata,
            timeout=options.timeout,
        )
        return sign_in.answer(reply.result, options, in_body=body.return_refresh_token, status=201)

    @router.post("/login", response_model=AuthAnswer, operation_id="Auth_Login")
    async def login(request: Request, body: LoginBody) -> Response:
        """Sign in with email and password."""
        await sign_in.limit(request, limits.login)
        await limits.enforce(limits.account, account_key(body.email))
        options = sign_in.options(request)
        reply: api.LoginResponse = await sign_in.stub.Login(
            api.LoginRequest(
                email=body.email,
                password=body.password,
                organization_id=body.organization_id,
                **sign_in.device(request, body.device_label),
            ),
            metadata=options.metadata,
            timeout=options.timeout,
        )
        return sign_in.answer(reply.result, options, in_body=body.return_refresh_token)

    @router.post("/refresh", response_model=AuthAnswer, operation_id="Auth_Refresh")
    async def refresh(request: Request, body: RefreshBody | None = None) -> Response:
        """Trade the refresh token (cookie + `X-CSRF-Token`, or body) for a new access token
        and the next refresh token. A spent token revokes its whole session."""
        await sign_in.limit(request, limits.auth)
        return await sign_in.refresh(request, body.refresh_token if body else "")

    @router.post(
        "/switch-organization", response_model=AuthAnswer, operation_id="Auth_SwitchOrganization"
    )
    async def switch_organization(request: Request, body: SwitchOrganizationBody) -> Response:
        """Move the session to another organization of the user's, or to a new one it
        creates (a refresh either way)."""
        await sign_in.limit(request, limits.auth)
        return await sign_in.refresh(
            request, body.refresh_token, body.organization_id, body.create_organization_name
        )

    @router.post(
        "/invitations/accept", response_model=AuthAnswer, operation_id="Auth_AcceptInvitation"
    )
    async def accept_invitation(request: Request, body: AcceptInvitationBody) -> Response:
        """Join an organization by invitation, creating the account when needed, and sign in."""
        await sign_in.limit(request, limits.login)
        options = sign_in.options(request)
        metadata = list(options.metadata)
        bearer = request.headers.get("authorization", "")
        if bearer:
            # The RPC is public; a verified bearer token makes the caller the joining user.
            metadata.append(("authorization", bearer))
        refresh_token = ""
        if body.use_session and not bearer:
            refresh_token, _ = sign_in.refresh_token(request, "")
        reply: api.AcceptInvitationResponse = await sign_in.stub.AcceptInvitation(
            api.AcceptInvitationRequest(
                token=body.token,
                display_name=body.display_name,
                password=body.password,
                email=body.email,
                refresh_token=refresh_token,
                **sign_in.device(request, body.device_label),
            ),
            metadata=tuple(metadata),
            timeout=options.timeout,
        )
        return sign_in.answer(reply.result, options, in_body=body.return_refresh_token)

    @router.post("/logout", status_code=204, response_class=Response, operation_id="Auth_Logout")
    async def logout(request: Request, body: RefreshBody | None = None) -> Response:
        """End the session and clear the cookies. Ending a session that is already over is
        not an error."""
        await sign_in.limit(request, limits.auth)
        token, in_body = sign_in.refresh_token(request, body.refresh_token if body else "")
        options = sign_in.options(request)
        try:
            await sign_in.stub.Logout(
                api.LogoutRequest(refresh_token=token),
                metadata=options.metadata,
                timeout=options.timeout,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAUTHENTICATED:
                raise
        response = Response(status_code=204, headers={"x-request-id": options.request_id})
        if not in_body:
            sign_in.clear_cookies(response)
        return response

    return router
