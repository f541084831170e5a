"""OIDC sign-in through the edge against a real provider process (oidc-provider-mock): the
browser is played by httpx, which follows the edge's redirect to the provider's authorization
page, submits its form to pick the user, and brings the code back to the callback."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.edge.conftest import OIDC_CLIENT_ID, UI_URL
from tests.edge.helpers import error_body, reason
from tests.edge.signin import PROJECTS, Browser, bearer, claims, set_cookies, unique_email


@dataclass
class Authorized:
    """Where the provider sent the browser back, and the binding cookie the edge set."""

    callback: str
    binding: str
    nonce: str


async def authorize(client: httpx.AsyncClient, oidc_issuer: str, subject: str) -> Authorized:
    """Start at the edge, sign in at the provider as `subject`; stop before the callback."""
    started = await client.get("/auth/oidc/mock/login")
    assert started.status_code == 302, started.text
    binding = set_cookies(started)["coder_oidc"]
    assert binding["httponly"] and binding["path"] == "/auth/oidc"
    assert binding["samesite"].lower() == "lax"
    location = started.headers["location"]
    assert location.startswith(f"{oidc_issuer}/oauth2/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["client_id"] == OIDC_CLIENT_ID
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["state"] and query["nonce"]
    assert query["redirect_uri"] == f"{client.base_url}".rstrip("/") + "/auth/oidc/mock/callback"

    async with httpx.AsyncClient() as browser:
        form = await browser.get(location)  # the provider's sign-in page
        assert form.status_code == 200 and "<form" in form.text
        submitted = await browser.post(location, data={"sub": subject})
    assert submitted.status_code == 302, submitted.text
    return Authorized(submitted.headers["location"], binding.value, query["nonce"])


async def provider_user(oidc_issuer: str, subject: str, email: str) -> None:
    async with httpx.AsyncClient(base_url=oidc_issuer) as provider:
        claims = {"email": email, "email_verified": True, "name": "Oidc User"}
        (await provider.put(f"/users/{subject}", json=claims)).raise_for_status()


def callback_path(authorized: Authorized, **replace: str) -> str:
    parts = urlsplit(authorized.callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(replace)
    return f"{parts.path}?{urlencode(query)}"


class TestOidcSignIn:
    async def test_the_full_flow_signs_the_user_in(
        self, auth_client: httpx.AsyncClient, oidc_issuer: str
    ) -> None:
        email = unique_email("oidc")
        await provider_user(oidc_issuer, "oidc-ada", email)
        authorized = await authorize(auth_client, oidc_issuer, "oidc-ada")
        finished = await auth_client.get(
            callback_path(authorized), headers={"cookie": f"coder_oidc={authorized.binding}"}
        )
        assert finished.status_code == 303, finished.text
        assert finished.headers["location"] == f"{UI_URL}/auth/complete"
        assert "access" not in finished.headers["location"].lower()
        cookies = set_cookies(finished)
        assert cookies["coder_oidc"]["max-age"] == "0"
        browser = Browser.of(finished)

        # The web app asks for its access token with the cookie and the CSRF header.
        refreshed = await auth_client.post("/auth/refresh", headers=browser.headers())
        assert refreshed.status_code == 200, refreshed.text
        body = refreshed.json()
        assert body["user"]["email"] == email
        # A new account belongs to no organization, so it has no access token yet.
        assert body["accessToken"] == "" and body["organizationId"] == ""
        browser.update(refreshed)

        created = await auth_client.post(
            "/auth/switch-organization",
            json={"createOrganizationName": "Oidc Org"},
            headers=browser.headers(),
        )
        assert created.status_code == 200, created.text
        token = created.json()["accessToken"]
        assert claims(token)["sub"] == body["user"]["id"]
        assert claims(token)["org"] == created.json()["organizationId"] != ""
        listed = await auth_client.get(PROJECTS, headers=bearer(token))
        assert listed.status_code == 200, listed.text

    async def test_an_existing_account_with_the_verified_email_gets_a_token(
        self, auth_client: httpx.AsyncClient, oidc_issuer: str
    ) -> None:
        email = unique_email("linked")
        registered = await auth_client.post(
            "/auth/register",
            json={
                "email": email,
                "password": "correct horse battery staple",
                "displayName": "Ada",
                "organizationName": "Linked",
            },
        )
        assert registered.status_code == 201, registered.text
        await provider_user(oidc_issuer, "oidc-linked", email)
        authorized = await authorize(auth_client, oidc_issuer, "oidc-linked")
        finished = await auth_client.get(
            callback_path(authorized), headers={"cookie": f"coder_oidc={authorized.binding}"}
        )
        assert finished.status_code == 303, finished.text
        refreshed = await auth_client.post("/auth/refresh", headers=Browser.of(finished).headers())
        body = refreshed.json()
        assert body["user"]["id"] == registered.json()["user"]["id"]
        listed = await auth_client.get(PROJECTS, headers=bearer(body["accessToken"]))
        assert listed.status_code == 200, listed.text


class TestOidcRefusals:
    @pytest.fixture
    async def authorized(self, auth_client: httpx.AsyncClient, oidc_issuer: str) -> Authorized:
        await provider_user(oidc_issuer, "oidc-target", unique_email("target"))
        return await authorize(auth_client, oidc_issuer, "oidc-target")

    async def test_a_tampered_state_is_refused(
        self, auth_client: httpx.AsyncClient, authorized: Authorized
    ) -> None:
        state = parse_qs(urlsplit(authorized.callback).query)["state"][0]
        tampered = callback_path(authorized, state=state[:-2] + "xy")
        response = await auth_client.get(
            tampered, headers={"cookie": f"coder_oidc={authorized.binding}"}
        )
        assert reason(error_body(response, 401)) == "OIDC_STATE_INVALID"
        assert "coder_refresh" not in set_cookies(response)

    async def test_a_missing_or_foreign_binding_cookie_is_refused(
        self, auth_client: httpx.AsyncClient, authorized: Authorized
    ) -> None:
        response = await auth_client.get(callback_path(authorized))
        assert reason(error_body(response, 401)) == "OIDC_BROWSER_MISMATCH"
        assert "coder_refresh" not in set_cookies(response)

    async def test_a_state_works_once(
        self, auth_client: httpx.AsyncClient, authorized: Authorized
    ) -> None:
        cookie = {"cookie": f"coder_oidc={authorized.binding}"}
        first = await auth_client.get(callback_path(authorized), headers=cookie)
        assert first.status_code == 303, first.text
        again = await auth_client.get(callback_path(authorized), headers=cookie)
        assert reason(error_body(again, 401)) == "OIDC_STATE_INVALID"

    async def test_an_unknown_provider_is_404(self, auth_client: httpx.AsyncClient) -> None:
        response = await auth_client.get("/auth/oidc/nobody/login")
        assert reason(error_body(response, 404)) == "OIDC_PROVIDER_UNKNOWN"
