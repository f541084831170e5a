"""Helpers of the sign-in tests: accounts through `/auth`, and the auth cookies read from
`Set-Cookie` and sent back by hand (they are `Secure`, which an http test client's cookie jar
would rightly never send)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from http.cookies import Morsel, SimpleCookie
from typing import Any

import httpx

from services.kit import new_id

PASSWORD = "correct horse battery staple"
PROJECTS = "/api/v1/planning/projects"


def unique_email(label: str = "user") -> str:
    return f"{label}-{new_id().lower()}@example.com"


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies a response sets, by name, with their attributes."""
    found: dict[str, Morsel[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        found.update(jar)
    return found


def bearer(access_token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {access_token}"}


def claims(access_token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (to look at, not to trust)."""
    payload = access_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


@dataclass
class Browser:
    """The auth cookies a browser holds."""

    refresh: str
    csrf: str

    @classmethod
    def of(cls, response: httpx.Response) -> Browser:
        cookies = set_cookies(response)
        return cls(cookies["coder_refresh"].value, cookies["coder_csrf"].value)

    def headers(self, *, csrf: str | None = None) -> dict[str, str]:
        """Cookie header, and `X-CSRF-Token` (the cookie's value unless given; "" leaves it out)."""
        sent = {"cookie": f"coder_refresh={self.refresh}; coder_csrf={self.csrf}"}
        token = self.csrf if csrf is None else csrf
        if token:
            sent["x-csrf-token"] = token
        return sent

    def update(self, response: httpx.Response) -> None:
        rotated = Browser.of(response)
        self.refresh, self.csrf = rotated.refresh, rotated.csrf


async def register(
    client: httpx.AsyncClient, email: str | None = None, *, organization: str = "Acme"
) -> httpx.Response:
    response = await client.post(
        "/auth/register",
        json={
            "email": email or unique_email(),
            "password": PASSWORD,
            "displayName": "Ada",
            "organizationName": organization,
        },
    )
    assert response.status_code == 201, response.text
    return response


async def login(client: httpx.AsyncClient, email: str, **extra: Any) -> httpx.Response:
    response = await client.post(
        "/auth/login", json={"email": email, "password": PASSWORD, **extra}
    )
    assert response.status_code == 200, response.text
    return response
