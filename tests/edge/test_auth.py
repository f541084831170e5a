"""`/auth/*` in front of a real identity service: register, login, cookies and CSRF, refresh
rotation and reuse detection, logout, revoked sessions, switching organization."""

from __future__ import annotations

import httpx

from tests.edge.helpers import error_body, reason
from tests.edge.signin import (
    PROJECTS,
    Browser,
    bearer,
    claims,
    login,
    register,
    set_cookies,
    unique_email,
)


class TestRegisterAndLogin:
    async def test_register_signs_the_new_user_in(self, auth_client: httpx.AsyncClient) -> None:
        email = unique_email("new")
        response = await register(auth_client, email, organization="Fresh Co")
        body = response.json()
        assert set(body) == {
            "accessToken",
            "accessTokenExpireTime",
            "user",
            "organizationId",
            "session",
            "role",
        }
        assert body["user"]["email"] == email
        assert body["role"] == "owner"
        assert claims(body["accessToken"])["org"] == body["organizationId"]
        assert response.headers["cache-control"] == "no-store"

    async def test_login_sets_the_refresh_and_csrf_cookies(
        self, auth_client: httpx.AsyncClient, client_ip: str
    ) -> None:
        email = unique_email()
        await register(auth_client, email)
        response = await login(auth_client, email, deviceLabel="work laptop")
        cookies = set_cookies(response)
        refresh, csrf = cookies["coder_refresh"], cookies["coder_csrf"]
        assert refresh.value and refresh.value not in response.text
        assert refresh["httponly"] and refresh["secure"]
        assert refresh["samesite"].lower() == "strict" and refresh["path"] == "/auth"
        assert int(refresh["max-age"]) > 0
        assert csrf.value and not csrf["httponly"] and csrf["secure"]
        assert csrf["samesite"].lower() == "strict" and csrf["path"] == "/"
        session = response.json()["session"]
        assert session["deviceLabel"] == "work laptop"
        assert session["ipAddress"] == client_ip
        assert session["userAgent"] == "edge-tests/1.0"

    async def test_the_device_label_defaults_to_the_user_agent(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        email = unique_email()
        await register(auth_client, email)
        session = (await login(auth_client, email)).json()["session"]
        assert session["deviceLabel"] == "edge-tests/1.0"

    async def test_the_access_token_reaches_the_api(self, auth_client: httpx.AsyncClient) -> None:
        body = (await register(auth_client)).json()
        created = await auth_client.post(
            PROJECTS, json={"name": "Signed in"}, headers=bearer(body["accessToken"])
        )
        assert created.status_code == 201, created.text
        listed = await auth_client.get(PROJECTS, headers=bearer(body["accessToken"]))
        assert [p["name"] for p in listed.json()["projects"]] == ["Signed in"]

    async def test_a_wrong_password_is_401_with_the_error_body(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        email = unique_email()
        await register(auth_client, email)
        response = await auth_client.post(
            "/auth/login", json={"email": email, "password": "not the password at all"}
        )
        assert reason(error_body(response, 401)) == "INVALID_CREDENTIALS"
        assert "set-cookie" not in response.headers

    async def test_a_malformed_body_is_400_with_field_violations(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        response = await auth_client.post("/auth/register", json={"email": "a@example.com"})
        body = error_body(response, 400)
        fields = {v["field"] for v in body["details"][1]["fieldViolations"]}
        assert {"password", "displayName"} <= fields


class TestRefresh:
    async def test_refresh_with_cookie_and_csrf_rotates_the_token(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        browser = Browser.of(await register(auth_client))
        first = browser.refresh
        response = await auth_client.post("/auth/refresh", headers=browser.headers())
        assert response.status_code == 200, response.text
        browser.update(response)
        assert browser.refresh != first
        assert "refreshToken" not in response.json()
        listed = await auth_client.get(PROJECTS, headers=bearer(response.json()["accessToken"]))
        assert listed.status_code == 200

    async def test_a_missing_or_wrong_csrf_header_is_403(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        browser = Browser.of(await register(auth_client))
        for csrf in ("", "forged"):
            response = await auth_client.post("/auth/refresh", headers=browser.headers(csrf=csrf))
            assert reason(error_body(response, 403)) == "CSRF_MISMATCH"
        # The refused attempts spent nothing.
        response = await auth_client.post("/auth/refresh", headers=browser.headers())
        assert response.status_code == 200, response.text

    async def test_no_refresh_token_is_401(self, auth_client: httpx.AsyncClient) -> None:
        response = await auth_client.post("/auth/refresh")
        assert reason(error_body(response, 401)) == "REFRESH_TOKEN_MISSING"

    async def test_a_replayed_refresh_token_revokes_the_chain(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        browser = Browser.of(await register(auth_client))
        spent = Browser(browser.refresh, browser.csrf)
        rotated = await auth_client.post("/auth/refresh", headers=browser.headers())
        browser.update(rotated)

        replay = await auth_client.post("/auth/refresh", headers=spent.headers())
        assert reason(error_body(replay, 401)) == "REFRESH_TOKEN_REUSED"
        # The refused cookie is cleared.
        assert set_cookies(replay)["coder_refresh"]["max-age"] == "0"
        newer = await auth_client.post("/auth/refresh", headers=browser.headers())
        assert reason(error_body(newer, 401)) == "SESSION_REVOKED"

    async def test_partners_send_the_refresh_token_in_the_body_without_csrf(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        email = unique_email("partner")
        await register(auth_client, email)
        signed_in = await login(auth_client, email, returnRefreshToken=True)
        assert "set-cookie" not in signed_in.headers
        token = signed_in.json()["refreshToken"]
        refreshed = await auth_client.post("/auth/refresh", json={"refreshToken": token})
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["refreshToken"] not in ("", token)
        assert "set-cookie" not in refreshed.headers


class TestLogout:
    async def test_logout_clears_the_cookies_and_ends_the_session(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        browser = Browser.of(await register(auth_client))
        response = await auth_client.post("/auth/logout", headers=browser.headers())
        assert response.status_code == 204, response.text
        cleared = set_cookies(response)
        assert cleared["coder_refresh"]["max-age"] == "0"
        assert cleared["coder_csrf"]["max-age"] == "0"
        again = await auth_client.post("/auth/refresh", headers=browser.headers())
        assert error_body(again, 401)

    async def test_logout_needs_the_csrf_header(self, auth_client: httpx.AsyncClient) -> None:
        browser = Browser.of(await register(auth_client))
        response = await auth_client.post("/auth/logout", headers=browser.headers(csrf=""))
        assert reason(error_body(response, 403)) == "CSRF_MISMATCH"


class TestSessions:
    async def test_a_revoked_session_cannot_refresh(self, auth_client: httpx.AsyncClient) -> None:
        email = unique_email()
        await register(auth_client, email)
        phone = await login(auth_client, email, deviceLabel="phone")
        laptop = await login(auth_client, email, deviceLabel="laptop")
        revoked = await auth_client.delete(
            f"/api/v1/identity/sessions/{phone.json()['session']['id']}",
            headers=bearer(laptop.json()["accessToken"]),
        )
        assert revoked.status_code == 200, revoked.text
        response = await auth_client.post("/auth/refresh", headers=Browser.of(phone).headers())
        assert error_body(response, 401)
        kept = await auth_client.post("/auth/refresh", headers=Browser.of(laptop).headers())
        assert kept.status_code == 200, kept.text


class TestSwitchOrganization:
    async def test_the_session_moves_to_another_organization(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        signed_in = await register(auth_client)
        browser = Browser.of(signed_in)
        first = signed_in.json()["organizationId"]
        created = await auth_client.post(
            "/api/v1/identity/organizations",
            json={"name": "Second"},
            headers=bearer(signed_in.json()["accessToken"]),
        )
        assert created.status_code == 201, created.text
        second = created.json()["organization"]["id"]

        switched = await auth_client.post(
            "/auth/switch-organization",
            json={"organizationId": second},
            headers=browser.headers(),
        )
        assert switched.status_code == 200, switched.text
        assert switched.json()["organizationId"] == second
        assert claims(switched.json()["accessToken"])["org"] == second != first
        browser.update(switched)
        refused = await auth_client.post(
            "/auth/switch-organization",
            json={"organizationId": first},
            headers=browser.headers(csrf=""),
        )
        assert reason(error_body(refused, 403)) == "CSRF_MISMATCH"
