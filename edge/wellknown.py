"""`/.well-known/jwks.json` (identity's GetJwks, cached briefly) and
`/.well-known/openid-configuration` (where Envoy's jwt_authn, services and partners find it)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from coder.identity.v1 import identity_service_pb2 as api
from edge.auth import SignIn

TAG = "well-known"
SIGNING_ALGORITHM = "ES256"
"""What identity signs access tokens with (Envoy's jwt_authn supports it)."""


class Jwks:
    """identity's public keys, fetched at most once per `max_age` seconds."""

    def __init__(self, sign_in: SignIn) -> None:
        self._sign_in = sign_in
        self._max_age = sign_in.settings.jwks_max_age_seconds
        self._document: bytes = b""
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def encoded(self) -> bytes:
        if time.monotonic() - self._fetched_at < self._max_age:
            return self._document
        async with self._lock:
            if time.monotonic() - self._fetched_at >= self._max_age:
                reply: api.GetJwksResponse = await self._sign_in.stub.GetJwks(
                    api.GetJwksRequest(), timeout=self._sign_in.settings.deadline_seconds
                )
                self._document = reply.jwks_json.encode()
                self._fetched_at = time.monotonic()
        return self._document

    async def document(self) -> Mapping[str, Any]:
        """The JWKS as a mapping: the in-process fetcher of the edge's token verifier."""
        loaded: dict[str, Any] = json.loads(await self.encoded())
        return loaded


def base_url(request: Request, public_url: str) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


def wellknown_router(jwks: Jwks, sign_in: SignIn, *, token_endpoint: bool) -> APIRouter:
    router = APIRouter(prefix="/.well-known", tags=[TAG])
    settings = sign_in.settings

    @router.get("/jwks.json", operation_id="WellKnown_Jwks")
    async def jwks_json() -> Response:
        """The public keys that verify access tokens (old keys stay until their tokens
        expired)."""
        return Response(
            await jwks.encoded(),
            headers={"cache-control": f"public, max-age={settings.jwks_max_age_seconds}"},
            media_type="application/json",
        )

    @router.get("/openid-configuration", operation_id="WellKnown_OpenidConfiguration")
    async def openid_configuration(request: Request) -> JSONResponse:
        """Issuer metadata: the `iss` of access tokens and where their keys are."""
        base = base_url(request, settings.public_url)
        document: dict[str, Any] = {
            "issuer": settings.jwt_issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": [SIGNING_ALGORITHM],
            "subject_types_supported": ["public"],
        }
        if token_endpoint:
            document["token_endpoint"] = f"{base}/auth/token"
            document["grant_types_supported"] = ["client_credentials"]
            document["token_endpoint_auth_methods_supported"] = [
                "client_secret_basic",
                "client_secret_post",
            ]
        return JSONResponse(document, headers={"cache-control": "public, max-age=300"})

    return router
