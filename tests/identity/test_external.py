"""LoginExternal against a real OpenID Connect provider process (oidc-provider-mock): the
token is verified by identity itself, and issuer + subject are linked to an account."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.kit import ManualClock
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.oidc_provider import oidc_provider_process
from tests.identity.conftest import TimedServer, manual_clock
from tests.identity.factories import login, register, unique_email

CLIENT_ID = "coder-tests"
REDIRECT = "http://localhost/callback"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with oidc_provider_process() as url:
        yield url


async def id_token(
    issuer: str,
    subject: str,
    claims: dict[str, object],
    *,
    client_id: str = CLIENT_ID,
    nonce: str = "n-0",
) -> str:
    """Run the authorization-code flow against the provider, as the edge would."""
    async with httpx.AsyncClient(base_url=issuer) as client:
        (await client.put(f"/users/{subject}", json=claims)).raise_for_status()
        authorized = await client.post(
            "/oauth2/authorize",
            params={
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "response_type": "code",
                "scope": "openid email profile",
                "nonce": nonce,
                "state": secrets.token_urlsafe(8),
            },
            data={"sub": subject},
        )
        code = parse_qs(urlsplit(authorized.headers["location"]).query)["code"][0]
        tokens = await client.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": client_id,
                "client_secret": "secret",
            },
        )
        tokens.raise_for_status()
        return str(tokens.json()["id_token"])


def providers(issuer: str) -> str:
    return json.dumps({"mock": {"issuer": issuer, "client_id": CLIENT_ID}})


async def login_external(
    stub: IdentityServiceStub, token: str, *, nonce: str = "n-0", provider: str = "mock"
) -> api.AuthResult:
    reply: api.LoginExternalResponse = await stub.LoginExternal(
        api.LoginExternalRequest(
            provider=provider, id_token=token, nonce=nonce, device_label="browser"
        )
    )
    return reply.result


class TestLinking:
    async def test_a_new_verified_identity_gets_an_account_and_keeps_it(
        self, timed_server: TimedServer, issuer: str
    ) -> None:
        async with timed_server(manual_clock(), oidc_providers=providers(issuer)) as server:
            email = unique_email("oidc")
            claims = {"email": email, "email_verified": True, "name": "Olive"}
            first = await login_external(server.identity, await id_token(issuer, "s-1", claims))
            assert first.user.email == email
            assert first.user.display_name == "Olive"
            assert first.refresh_token

            again = await login_external(server.identity, await id_token(issuer, "s-1", claims))
            assert again.user.id == first.user.id
            # No password was set, so the password door stays shut.
            await rpc_error(
                login(server.identity, email, "any password at all"),
                grpc.StatusCode.UNAUTHENTICATED,
            )

    async def test_a_verified_email_links_to_the_existing_account(
        self, timed_server: TimedServer, issuer: str
    ) -> None:
        async with timed_server(manual_clock(), oidc_providers=providers(issuer)) as server:
            email = unique_email("existing")
            registered = await register(server.identity, email=email)
            token = await id_token(issuer, "s-2", {"email": email, "email_verified": True})
            result = await login_external(server.identity, token)
            assert result.user.id == registered.user.id
            assert result.organization_id == registered.organization_id
            assert result.access_token

    async def test_an_unverified_email_is_refused(
        self, timed_server: TimedServer, issuer: str
    ) -> None:
        async with timed_server(manual_clock(), oidc_providers=providers(issuer)) as server:
            token = await id_token(issuer, "s-3", {"email": unique_email("unverified")})
            error = await rpc_error(
                login_external(server.identity, token), grpc.StatusCode.UNAUTHENTICATED
            )
            assert error_reason(error) == "EMAIL_NOT_VERIFIED"


class TestVerification:
    async def test_attacks_on_the_token_are_refused(
        self, timed_server: TimedServer, issuer: str
    ) -> None:
        clock: ManualClock = manual_clock()
        async with timed_server(clock, oidc_providers=providers(issuer)) as server:
            claims = {"email": unique_email("victim"), "email_verified": True}
            good = await id_token(issuer, "s-4", claims)
            other_audience = await id_token(issuer, "s-4", claims, client_id="someone-else")
            head, body, signature = good.split(".")
            flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
            unsigned = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=")
            refused = [
                other_audience,
                f"{head}.{body}.{flipped}",
                f"{unsigned}.{body}.",
            ]
            for token in refused:
                error = await rpc_error(
                    login_external(server.identity, token), grpc.StatusCode.UNAUTHENTICATED
                )
                assert error_reason(error) == "ID_TOKEN_INVALID"
            error = await rpc_error(
                login_external(server.identity, good, nonce="another nonce"),
                grpc.StatusCode.UNAUTHENTICATED,
            )
            assert error_reason(error) == "ID_TOKEN_INVALID"

            await login_external(server.identity, good)
            clock.advance(2 * 3600)  # the provider's tokens live an hour
            error = await rpc_error(
                login_external(server.identity, good), grpc.StatusCode.UNAUTHENTICATED
            )
            assert error_reason(error) == "ID_TOKEN_INVALID"

    async def test_an_unknown_provider_is_an_invalid_argument(
        self, timed_server: TimedServer, issuer: str
    ) -> None:
        async with timed_server(manual_clock(), oidc_providers=providers(issuer)) as server:
            error = await rpc_error(
                login_external(server.identity, "a.b.c", provider="nobody"),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert violated_fields(error) == {"provider"}
