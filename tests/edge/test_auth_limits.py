"""Rate limits: per IP on /auth, per user and per organization on /api (per IP without a valid
token); 429 with Retry-After and the RateLimit / RateLimit-Policy headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx

from services.kit import Host
from tests.edge.conftest import auth_edge_settings, serving
from tests.edge.helpers import error_body, reason
from tests.edge.signin import PROJECTS, bearer, login, register, unique_email

Edge = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def assert_refused(response: httpx.Response, policy: str, quota: int, window: int) -> None:
    body = error_body(response, 429)
    assert reason(body) == "RATE_LIMITED"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={quota};w={window}'
    match = re.fullmatch(rf'"{policy}";r=0;t=(\d+)', response.headers["ratelimit"])
    assert match is not None, response.headers["ratelimit"]
    assert 1 <= int(match.group(1)) <= window


class TestAuthLimits:
    async def test_the_eleventh_login_from_one_ip_within_a_minute_is_429(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        email = unique_email()
        await register(auth_client, email)  # the first of this IP's 10 sign-in attempts
        for _ in range(9):
            await login(auth_client, email)
        refused = await auth_client.post("/auth/login", json={"email": email, "password": "x"})
        assert_refused(refused, "login", 10, 60)
        assert "set-cookie" not in refused.headers

        elsewhere = await auth_client.post(
            "/auth/login",
            json={"email": email, "password": "x"},
            headers={"x-forwarded-for": "192.0.2.77"},
        )
        assert elsewhere.status_code == 401, "another IP has its own quota"


@asynccontextmanager
async def edge_client(
    identity_host: Host, oidc_issuer: str, client_ip: str, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = auth_edge_settings(identity_host, oidc_issuer, api_window_seconds=60, **overrides)
    async with (
        serving(settings, None) as url,
        httpx.AsyncClient(base_url=url, headers={"x-forwarded-for": client_ip}) as client,
    ):
        yield client


class TestAccountLimit:
    async def test_an_account_over_its_limit_is_429_while_others_sign_in(
        self, identity_host: Host, oidc_issuer: str, client_ip: str
    ) -> None:
        async with edge_client(
            identity_host, oidc_issuer, client_ip, auth_account_limit=3
        ) as client:
            target, other = unique_email(), unique_email()
            await register(client, target)
            await register(client, other)
            # Every spelling of the address counts against the one account.
            for spelling in (target, target.upper(), f"  {target} "):
                wrong = await client.post(
                    "/auth/login", json={"email": spelling, "password": "a wrong password"}
                )
                assert wrong.status_code == 401, wrong.text
            refused = await client.post("/auth/login", json={"email": target, "password": "x"})
            assert_refused(refused, "account", 3, 60)
            assert (await login(client, other)).status_code == 200


class TestApiLimits:
    async def test_a_user_over_the_limit_is_429_and_others_are_not(
        self, identity_host: Host, oidc_issuer: str, client_ip: str
    ) -> None:
        async with edge_client(identity_host, oidc_issuer, client_ip, api_user_limit=3) as client:
            busy = bearer((await register(client)).json()["accessToken"])
            calm = bearer((await register(client)).json()["accessToken"])
            for remaining in (2, 1, 0):
                allowed = await client.get(PROJECTS, headers=busy)
                assert allowed.status_code == 200, allowed.text
                assert allowed.headers["ratelimit-policy"] == '"user";q=3;w=60'
                assert allowed.headers["ratelimit"].startswith(f'"user";r={remaining};')
            assert_refused(await client.get(PROJECTS, headers=busy), "user", 3, 60)
            assert (await client.get(PROJECTS, headers=calm)).status_code == 200

    async def test_an_organization_over_its_limit_is_429(
        self, identity_host: Host, oidc_issuer: str, client_ip: str
    ) -> None:
        async with edge_client(
            identity_host, oidc_issuer, client_ip, api_organization_limit=2
        ) as client:
            signed_in = (await register(client)).json()
            token = bearer(signed_in["accessToken"])
            for _ in range(2):
                assert (await client.get(PROJECTS, headers=token)).status_code == 200
            assert_refused(await client.get(PROJECTS, headers=token), "organization", 2, 60)

    async def test_calls_without_a_valid_token_are_limited_per_ip(
        self, identity_host: Host, oidc_issuer: str, client_ip: str
    ) -> None:
        async with edge_client(identity_host, oidc_issuer, client_ip, api_ip_limit=2) as client:
            for _ in range(2):
                refused = await client.get(PROJECTS, headers=bearer("not-a-jwt"))
                assert refused.status_code == 401, "the service refuses the token itself"
                assert refused.headers["ratelimit-policy"] == '"ip";q=2;w=60'
            assert_refused(await client.get(PROJECTS, headers=bearer("x")), "ip", 2, 60)


class TestSharedAcrossReplicas:
    """Distributed mode: two edge replicas on one real Redis count one quota."""

    async def test_two_replicas_share_the_login_quota(
        self, identity_host: Host, oidc_issuer: str, client_ip: str, redis_url: str
    ) -> None:
        settings = auth_edge_settings(
            identity_host, oidc_issuer, cache_url=redis_url, auth_login_limit=3
        )
        headers = {"x-forwarded-for": client_ip}
        async with (
            serving(settings, None) as first,
            serving(settings, None) as second,
            httpx.AsyncClient(base_url=first, headers=headers) as one,
            httpx.AsyncClient(base_url=second, headers=headers) as other,
        ):
            email = unique_email()
            await register(one, email)
            await login(other, email)
            await login(one, email)
            refused = await other.post("/auth/login", json={"email": email, "password": "x"})
            assert_refused(refused, "login", 3, 60)
