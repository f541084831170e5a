"""Tokens at the edge: `/.well-known/jwks.json` and `openid-configuration` are usable by the
kit's TokenVerifier, and forged or damaged access tokens are refused on an /api route."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from services.kit import KeySource, SigningKey, TokenVerifier
from tests.edge.helpers import error_body, reason
from tests.edge.signin import PROJECTS, bearer, claims, register
from tests.fixtures.tokens import AUDIENCE, ISSUER


def _segment(document: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


class TestWellKnown:
    async def test_the_jwks_is_served_cacheable(self, auth_client: httpx.AsyncClient) -> None:
        access_token = (await register(auth_client)).json()["accessToken"]
        response = await auth_client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=5"
        keys = response.json()["keys"]
        header = json.loads(base64.urlsafe_b64decode(access_token.split(".")[0] + "=="))
        assert header["alg"] == "ES256"
        assert header["kid"] in {key["kid"] for key in keys}
        assert all("d" not in key for key in keys), "a private key part was published"

    async def test_a_verifier_built_from_the_discovery_document_accepts_our_tokens(
        self, auth_client: httpx.AsyncClient, auth_base_url: str
    ) -> None:
        signed_in = (await register(auth_client)).json()
        discovery = (await auth_client.get("/.well-known/openid-configuration")).json()
        assert discovery["issuer"] == ISSUER
        assert discovery["jwks_uri"] == f"{auth_base_url}/.well-known/jwks.json"
        assert discovery["id_token_signing_alg_values_supported"] == ["ES256"]
        verifier = TokenVerifier(
            KeySource(url=discovery["jwks_uri"]), issuer=discovery["issuer"], audience=AUDIENCE
        )
        principal = await verifier.verify(signed_in["accessToken"])
        assert principal.subject == signed_in["user"]["id"]
        assert principal.organization_id == signed_in["organizationId"]

    async def test_the_auth_routes_are_in_the_openapi_document(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        document = (await auth_client.get("/openapi.json")).json()
        for path in (
            "/auth/register",
            "/auth/login",
            "/auth/refresh",
            "/auth/logout",
            "/auth/switch-organization",
            "/auth/oidc/{provider}/login",
            "/auth/oidc/{provider}/callback",
            "/.well-known/jwks.json",
            "/.well-known/openid-configuration",
        ):
            assert path in document["paths"], path
        login = document["paths"]["/auth/login"]["post"]
        assert login["tags"] == ["auth"]
        assert login["responses"]["401"] == {"$ref": "#/components/responses/Unauthenticated"}
        assert login["responses"]["5XX"] == {"$ref": "#/components/responses/Error"}
        assert "422" not in login["responses"]


class TestTokenAttacks:
    """Each damaged token is refused with 401 by the service behind the edge. The forging
    key is trusted by the host, so a refusal is due to the one thing wrong with the claims."""

    @pytest.fixture
    async def genuine(self, auth_client: httpx.AsyncClient) -> dict[str, str]:
        body: dict[str, str] = (await register(auth_client)).json()
        return body

    def forged(self, key: SigningKey, genuine: dict[str, str], **overrides: object) -> str:
        values: dict[str, object] = {
            "subject": claims(genuine["accessToken"])["sub"],
            "organization_id": genuine["organizationId"],
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "roles": ["owner"],
        }
        values.update(overrides)
        return key.mint(**values)  # type: ignore[arg-type]

    async def status_with(self, client: httpx.AsyncClient, token: str) -> httpx.Response:
        return await client.get(PROJECTS, headers=bearer(token))

    async def test_the_forging_key_is_trusted_when_the_claims_are_right(
        self, auth_client: httpx.AsyncClient, forging_key: SigningKey, genuine: dict[str, str]
    ) -> None:
        response = await self.status_with(auth_client, self.forged(forging_key, genuine))
        assert response.status_code == 200, response.text

    async def test_expired(
        self, auth_client: httpx.AsyncClient, forging_key: SigningKey, genuine: dict[str, str]
    ) -> None:
        token = self.forged(forging_key, genuine, now=time.time() - 3600)
        response = await self.status_with(auth_client, token)
        assert reason(error_body(response, 401)) == "TOKEN_EXPIRED"

    @pytest.mark.parametrize("claim", ["audience", "issuer"])
    async def test_wrong_audience_or_issuer(
        self,
        auth_client: httpx.AsyncClient,
        forging_key: SigningKey,
        genuine: dict[str, str],
        claim: str,
    ) -> None:
        token = self.forged(forging_key, genuine, **{claim: "someone-else"})
        response = await self.status_with(auth_client, token)
        assert reason(error_body(response, 401)) == "TOKEN_INVALID"

    async def test_bad_signature(
        self, auth_client: httpx.AsyncClient, genuine: dict[str, str]
    ) -> None:
        head, body, signature = genuine["accessToken"].split(".")
        flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
        response = await self.status_with(auth_client, f"{head}.{body}.{flipped}")
        assert reason(error_body(response, 401)) == "TOKEN_INVALID"

    async def test_alg_none(self, auth_client: httpx.AsyncClient, genuine: dict[str, str]) -> None:
        head, body, _ = genuine["accessToken"].split(".")
        kid = json.loads(base64.urlsafe_b64decode(head + "=="))["kid"]
        unsigned = _segment({"alg": "none", "typ": "JWT", "kid": kid})
        response = await self.status_with(auth_client, f"{unsigned}.{body}.")
        assert reason(error_body(response, 401)) == "TOKEN_INVALID"

    async def test_unknown_kid(
        self, auth_client: httpx.AsyncClient, genuine: dict[str, str]
    ) -> None:
        token = self.forged(SigningKey.generate(), genuine)
        response = await self.status_with(auth_client, token)
        assert reason(error_body(response, 401)) == "TOKEN_UNKNOWN_KEY"
