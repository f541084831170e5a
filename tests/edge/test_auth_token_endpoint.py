"""`POST /auth/token`: the OAuth 2.0 client-credentials grant for service accounts, with
RFC 6749 error responses."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.edge.signin import PROJECTS, bearer, claims, register

GRANT = {"grant_type": "client_credentials"}


@dataclass
class Account:
    client_id: str
    client_secret: str
    organization_id: str


@pytest.fixture
async def account(auth_client: httpx.AsyncClient) -> Account:
    owner = (await register(auth_client)).json()
    organization = owner["organizationId"]
    created = await auth_client.post(
        f"/api/v1/identity/organizations/{organization}/serviceAccounts",
        json={"name": "ci", "permissions": ["planning.*.read"]},
        headers=bearer(owner["accessToken"]),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return Account(body["serviceAccount"]["clientId"], body["clientSecret"], organization)


def oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response.headers["cache-control"] == "no-store"


class TestClientCredentials:
    async def test_basic_credentials_get_a_service_token_that_reaches_the_api(
        self, auth_client: httpx.AsyncClient, account: Account
    ) -> None:
        response = await auth_client.post(
            "/auth/token", data=GRANT, auth=(account.client_id, account.client_secret)
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert 0 < body["expires_in"] <= 900
        assert body["scope"] == "planning.*.read"
        token = claims(body["access_token"])
        assert token["kind"] == "service" and token["org"] == account.organization_id
        listed = await auth_client.get(PROJECTS, headers=bearer(body["access_token"]))
        assert listed.status_code == 200, listed.text
        created = await auth_client.post(
            PROJECTS, json={"name": "no"}, headers=bearer(body["access_token"])
        )
        assert created.status_code == 403, "the token holds only the account's permissions"

    async def test_form_credentials_and_a_narrower_scope(
        self, auth_client: httpx.AsyncClient, account: Account
    ) -> None:
        response = await auth_client.post(
            "/auth/token",
            data={
                **GRANT,
                "client_id": account.client_id,
                "client_secret": account.client_secret,
                "scope": "planning.project.read",
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "planning.project.read"

    async def test_a_wrong_secret_is_invalid_client(
        self, auth_client: httpx.AsyncClient, account: Account
    ) -> None:
        response = await auth_client.post(
            "/auth/token", data=GRANT, auth=(account.client_id, "not the secret")
        )
        oauth_error(response, 401, "invalid_client")
        assert response.headers["www-authenticate"] == 'Basic realm="coder"'

    async def test_another_grant_type_is_refused(
        self, auth_client: httpx.AsyncClient, account: Account
    ) -> None:
        response = await auth_client.post(
            "/auth/token",
            data={"grant_type": "password"},
            auth=(account.client_id, account.client_secret),
        )
        oauth_error(response, 400, "unsupported_grant_type")

    async def test_a_scope_beyond_the_account_is_invalid_scope(
        self, auth_client: httpx.AsyncClient, account: Account
    ) -> None:
        response = await auth_client.post(
            "/auth/token",
            data={**GRANT, "scope": "planning.project.write"},
            auth=(account.client_id, account.client_secret),
        )
        oauth_error(response, 400, "invalid_scope")

    async def test_the_discovery_document_names_the_token_endpoint(
        self, auth_client: httpx.AsyncClient, auth_base_url: str
    ) -> None:
        discovery = (await auth_client.get("/.well-known/openid-configuration")).json()
        assert discovery["token_endpoint"] == f"{auth_base_url}/auth/token"
        assert discovery["grant_types_supported"] == ["client_credentials"]
