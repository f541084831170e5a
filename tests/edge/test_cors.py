"""The edge's CORS policy: listed origins may call the API from a browser (credentials only on
the refresh-cookie routes, preflights cached), any other origin gets no CORS grant."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from edge import EdgeSettings
from edge.cors import ALLOWED_HEADERS, parse_origins
from services.kit import TokenVerifier
from tests.edge.conftest import serving

UI = "http://127.0.0.1:3000"
OTHER_UI = "https://app.example.com"
STRANGER = "http://evil.example"


@pytest.fixture(scope="module")
async def cors_client(
    edge_settings: EdgeSettings, verifier: TokenVerifier
) -> AsyncIterator[httpx.AsyncClient]:
    settings = edge_settings.model_copy(
        update={"cors_origins": f"{UI}, {OTHER_UI}/", "cors_max_age_seconds": 900}
    )
    async with serving(settings, verifier) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


def preflight(origin: str, method: str = "GET", headers: str = "authorization") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": headers,
    }


class TestAllowedOrigin:
    async def test_a_preflight_is_granted_without_credentials_and_cached(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        answer = await cors_client.options(
            "/api/v1/planning/projects", headers=preflight(UI, "POST", "authorization,content-type")
        )
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-origin"] == UI
        assert "access-control-allow-credentials" not in answer.headers
        assert "POST" in answer.headers["access-control-allow-methods"]
        allowed = answer.headers["access-control-allow-headers"].split(", ")
        assert {"authorization", "content-type"} <= set(allowed) == set(ALLOWED_HEADERS)
        assert answer.headers["access-control-max-age"] == "900"
        assert "origin" in answer.headers["vary"].lower()

    async def test_an_api_answer_names_the_origin_and_exposes_the_request_id(
        self, cors_client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        answer = await cors_client.get(
            "/api/v1/planning/projects", headers={**bearer, "origin": OTHER_UI}
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == OTHER_UI
        assert "access-control-allow-credentials" not in answer.headers
        assert "x-request-id" in answer.headers["access-control-expose-headers"]

    async def test_an_error_answer_is_readable_by_the_page_too(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        answer = await cors_client.get("/api/v1/planning/projects", headers={"origin": UI})
        assert answer.status_code == 401
        assert answer.headers["access-control-allow-origin"] == UI
        assert answer.json()["requestId"]

    @pytest.mark.parametrize("path", ["/auth/refresh", "/auth/login", "/auth/logout"])
    async def test_the_refresh_cookie_routes_allow_credentials(
        self, cors_client: httpx.AsyncClient, path: str
    ) -> None:
        answer = await cors_client.options(path, headers=preflight(UI, "POST", "x-csrf-token"))
        assert answer.status_code == 204
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert answer.headers["access-control-allow-origin"] == UI


class TestRefusedOrigin:
    async def test_a_preflight_is_refused_with_the_error_body(
        self, cors_client: httpx.AsyncClient
    ) -> None:
        answer = await cors_client.options("/api/v1/planning/projects", headers=preflight(STRANGER))
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers
        body = answer.json()
        assert body["details"][0]["reason"] == "CORS_ORIGIN_REFUSED"
        assert body["requestId"] == answer.headers["x-request-id"]

    async def test_an_answer_carries_no_grant(
        self, cors_client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        answer = await cors_client.get(
            "/api/v1/planning/projects", headers={**bearer, "origin": STRANGER}
        )
        assert answer.status_code == 200  # CORS is the browser's to enforce: it hides this
        assert "access-control-allow-origin" not in answer.headers
        assert "access-control-allow-credentials" not in answer.headers

    async def test_without_a_list_no_origin_is_granted(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        answer = await client.options("/api/v1/planning/projects", headers=preflight(UI))
        assert answer.status_code == 403
        assert "access-control-allow-origin" not in answer.headers


class TestOriginList:
    def test_origins_are_normalized(self) -> None:
        assert parse_origins(" http://127.0.0.1:3000/, HTTPS://App.Example.com ,") == {
            "http://127.0.0.1:3000",
            "https://app.example.com",
        }

    @pytest.mark.parametrize(
        "bad", ["127.0.0.1:3000", "ftp://host", "http://host/path", "http://host?x=1"]
    )
    def test_a_bad_origin_is_named(self, bad: str) -> None:
        with pytest.raises(ValueError, match="CORS origin"):
            parse_origins(bad)
