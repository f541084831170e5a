"""OpenID Connect sign-in: the browser half of the authorization-code flow with PKCE.

`GET /auth/oidc/{provider}/login` stores `state`, `nonce` and the PKCE verifier in the cache
(keyed by state, for `oidc_flow_seconds`), binds the browser to that state with a short-lived
httpOnly cookie `coder_oidc` (SameSite=Lax: the provider's redirect back is a cross-site
navigation), and redirects to the provider. `GET /auth/oidc/{provider}/callback` spends the
state once, checks the binding cookie, exchanges the code with the verifier, verifies the ID
token (the provider's keys by discovery, `iss`, `aud`, `exp`, nonce) and hands it to identity's
LoginExternal, which verifies it again and finds or creates the account. The browser then gets
the refresh cookies and a redirect to `<ui_url>/auth/complete`: the access token never travels
in a URL, the web app asks `/auth/refresh` for it.

The provider names and client ids here and in identity's `CODER_IDENTITY_OIDC_PROVIDERS` must
agree.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from google.rpc import code_pb2
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from coder.identity.v1 import identity_service_pb2 as api
from edge.auth import TAG, SignIn, refused
from edge.errors import EdgeRefusal
from edge.wellknown import base_url
from services.kit.cache import Cache

GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
BINDING_COOKIE = "coder_oidc"
BINDING_PATH = "/auth/oidc"
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
"""Asymmetric only: an ID token is never accepted on a shared secret."""
DISCOVERY_SECONDS = 3600.0
LEEWAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class OidcClient:
    """The edge's registration at one provider."""

    name: str
    discovery_url: str
    client_id: str
    client_secret: str
    scope: str = "openid email profile"


def oidc_clients(raw: str) -> dict[str, OidcClient]:
    """`CODER_EDGE_OIDC_PROVIDERS` by name; `google` defaults its discovery URL. ValueError
    when malformed."""
    if not raw:
        return {}
    try:
        entries = json.loads(raw)
        clients = {}
        for name, entry in entries.items():
            discovery = entry.get("discoveryUrl") or (
                GOOGLE_DISCOVERY_URL if name == "google" else ""
            )
            if not discovery:
                raise KeyError(f"{name}.discoveryUrl")
            clients[name] = OidcClient(
                name=name,
                discovery_url=str(discovery),
                client_id=str(entry["clientId"]),
                client_secret=str(entry.get("clientSecret", "")),
                scope=str(entry.get("scope", "openid email profile")),
            )
        return clients
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"CODER_EDGE_OIDC_PROVIDERS is malformed: {error}") from error


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _state_key(state: str) -> str:
    return f"oidc:state:{_digest(state)}"


class OidcFlows:
    """The configured providers, their discovery documents, and the flows in the cache
    (`cache` and `http` are bound in the app's lifespan)."""

    def __init__(self, sign_in: SignIn) -> None:
        self.sign_in = sign_in
        self.clients = oidc_clients(sign_in.settings.oidc_providers)
        self.cache: Cache | None = None
        self.http: httpx.AsyncClient | None = None
        self._discovered: dict[str, tuple[dict[str, Any], float]] = {}

    def client(self, name: str) -> OidcClient:
        found = self.clients.get(name)
        if found is None:
            raise refused(
                code_pb2.NOT_FOUND,
                f"no identity provider {name!r} is configured",
                "OIDC_PROVIDER_UNKNOWN",
            )
        return found

    async def discovery(self, client: OidcClient) -> dict[str, Any]:
        cached = self._discovered.get(client.name)
        if cached is not None and time.monotonic() - cached[1] < DISCOVERY_SECONDS:
            return cached[0]
        document = await self._get_json(client, client.discovery_url)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise _unavailable(client, f"its discovery document has no {key}")
        self._discovered[client.name] = (document, time.monotonic())
        return document

    async def _get_json(self, client: OidcClient, url: str) -> dict[str, Any]:
        assert self.http is not None
        try:
            response = (await self.http.get(url)).raise_for_status()
            document: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise _unavailable(client, str(error)) from error
        return document

    async def start(self, client: OidcClient, redirect_uri: str) -> tuple[str, str]:
        """Store a new flow; the provider URL to send the browser to and the binding value."""
        assert self.cache is not None
        document = await self.discovery(client)
        state, nonce, binding = generate_token(43), generate_token(43), generate_token(43)
        verifier = generate_token(86)  # RFC 7636: 43 to 128 characters
        flow = {
            "provider": client.name,
            "nonce": nonce,
            "verifier": verifier,
            "binding": _digest(binding),
            "redirectUri": redirect_uri,
        }
        await self.cache.set(
            _state_key(state),
            json.dumps(flow).encode(),
            ttl=self.sign_in.settings.oidc_flow_seconds,
        )
        url = prepare_grant_uri(
            document["authorization_endpoint"],
            client.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=client.scope,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
        )
        return str(url), binding

    async def finish(self, client: OidcClient, state: str, binding: str) -> dict[str, Any]:
        """Spend the flow of `state` (once) after checking the browser's binding cookie."""
        assert self.cache is not None
        key = _state_key(state)
        raw = await self.cache.get(key) if state else None
        if raw is None or not await self.cache.delete(key):
            raise refused(
                code_pb2.UNAUTHENTICATED,
                "the sign-in state is unknown, spent or expired",
                "OIDC_STATE_INVALID",
            )
        flow: dict[str, Any] = json.loads(raw)
        if flow["provider"] != client.name:
            raise refused(
                code_pb2.UNAUTHENTICATED,
                "the sign-in state belongs to another provider",
                "OIDC_STATE_INVALID",
            )
        if not binding or not secrets.compare_digest(_digest(binding), flow["binding"]):
            raise refused(
                code_pb2.UNAUTHENTICATED,
                "this browser did not start the sign-in (no or another binding cookie)",
                "OIDC_BROWSER_MISMATCH",
            )
        return flow

    async def exchange(self, client: OidcClient, code: str, flow: dict[str, Any]) -> str:
        """The ID token for the authorization code, redeemed with the PKCE verifier."""
        assert self.http is not None
        document = await self.discovery(client)
        try:
            body = prepare_token_request(
                "authorization_code",
                code=code,
                redirect_uri=flow["redirectUri"],
                code_verifier=flow["verifier"],
            )
            response = await self.http.post(
                document["token_endpoint"],
                content=body,
                auth=(client.client_id, client.client_secret),
                headers={
                    "accept": "application/json",
                    "content-type": "application/x-www-form-urlencoded",
                },
            )
        except httpx.HTTPError as error:
            raise _unavailable(client, str(error)) from error
        if response.status_code != 200:
            raise refused(
                code_pb2.UNAUTHENTICATED,
                f"the provider refused the code ({response.status_code})",
                "OIDC_CODE_REFUSED",
            )
        try:
            id_token = response.json()["id_token"]
        except (ValueError, KeyError, TypeError):
            raise refused(
                code_pb2.UNAUTHENTICATED, "the provider gave no ID token", "OIDC_CODE_REFUSED"
            ) from None
        if not isinstance(id_token, str):
            raise refused(
                code_pb2.UNAUTHENTICATED, "the provider gave no ID token", "OIDC_CODE_REFUSED"
            )
        return id_token

    async def verify(self, client: OidcClient, id_token: str, nonce: str) -> dict[str, Any]:
        """The ID token's claims once signature, `iss`, `aud`, `exp`, `sub` and nonce hold."""
        document = await self.discovery(client)
        keys = KeySet.import_key_set(cast(Any, await self._get_json(client, document["jwks_uri"])))
        try:
            token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": document["issuer"]},
                aud={"essential": True, "value": client.client_id},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as error:
            raise refused(
                code_pb2.UNAUTHENTICATED, f"the ID token is not valid: {error}", "ID_TOKEN_INVALID"
            ) from error
        if not secrets.compare_digest(str(token.claims.get("nonce", "")), nonce):
            raise refused(
                code_pb2.UNAUTHENTICATED, "the ID token's nonce does not match", "ID_TOKEN_INVALID"
            )
        return dict(token.claims)


def _unavailable(client: OidcClient, why: str) -> EdgeRefusal:
    return refused(
        code_pb2.UNAVAILABLE,
        f"identity provider {client.name} is unreachable: {why}",
        "OIDC_PROVIDER_UNAVAILABLE",
    )


def oidc_router(flows: OidcFlows) -> APIRouter:
    router = APIRouter(prefix="/auth/oidc", tags=[TAG])
    sign_in = flows.sign_in
    settings = sign_in.settings

    def redirect_uri(request: Request, provider: str) -> str:
        return f"{base_url(request, settings.public_url)}/auth/oidc/{provider}/callback"

    @router.get(
        "/{provider}/login",
        operation_id="Auth_OidcLogin",
        status_code=302,
        response_class=RedirectResponse,
        responses={302: {"description": "To the provider's authorization endpoint."}},
    )
    async def oidc_login(request: Request, provider: str) -> Response:
        """Start signing in with an OpenID Connect provider."""
        await sign_in.limit(request, sign_in.limits.login)
        client = flows.client(provider)
        location, binding = await flows.start(client, redirect_uri(request, provider))
        response = RedirectResponse(location, 302, {"cache-control": "no-store"})
        response.set_cookie(
            BINDING_COOKIE,
            binding,
            max_age=settings.oidc_flow_seconds,
            path=BINDING_PATH,
            secure=settings.cookie_secure,
            httponly=True,
            samesite="lax",
        )
        return response

    @router.get(
        "/{provider}/callback",
        operation_id="Auth_OidcCallback",
        status_code=303,
        response_class=RedirectResponse,
        responses={303: {"description": "Signed in: to `<ui_url>/auth/complete`."}},
    )
    async def oidc_callback(
        request: Request, provider: str, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        """The provider's redirect back: finish signing in and set the session cookies."""
        await sign_in.limit(request, sign_in.limits.auth)
        client = flows.client(provider)
        flow = await flows.finish(client, state, request.cookies.get(BINDING_COOKIE, ""))
        if error or not code:
            raise refused(
                code_pb2.UNAUTHENTICATED,
                f"the provider did not sign the user in: {error or 'no code'}",
                "OIDC_DENIED",
            )
        id_token = await flows.exchange(client, code, flow)
        await flows.verify(client, id_token, flow["nonce"])
        options = sign_in.options(request)
        reply: api.LoginExternalResponse = await sign_in.stub.LoginExternal(
            api.LoginExternalRequest(
                provider=provider,
                id_token=id_token,
                nonce=flow["nonce"],
                **sign_in.device(request, ""),
            ),
            metadata=options.metadata,
            timeout=options.timeout,
        )
        location = f"{settings.ui_url.rstrip('/')}/auth/complete"
        response = RedirectResponse(
            location, 303, {"cache-control": "no-store", "x-request-id": options.request_id}
        )
        sign_in.set_cookies(response, reply.result.refresh_token)
        response.delete_cookie(
            BINDING_COOKIE, path=BINDING_PATH, secure=settings.cookie_secure, httponly=True
        )
        return response

    return router
