"""The front door: bounded heads and bodies on every route, strict JSON, values checked against
their fields, one error body for every refusal the edge makes (its own routes, FastAPI's,
uvicorn's), and the security headers on every response."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from edge import EdgeSettings, create_app
from edge.embedded import dev_cookies_insecure
from services.kit import Host
from tests.edge.conftest import auth_edge_settings, serving
from tests.edge.helpers import error_body, reason, violated_fields
from tests.edge.test_planning_routes import PROJECTS, create_project
from tests.fixtures.tokens import TokenFactory


async def exchange(base_url: str, raw: bytes, *, then: bytes = b"") -> bytes:
    """Send `raw` on a fresh connection (then `then` and the end of what is sent, unless the
    edge already closed it) and read what comes back until the edge closes the connection."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(raw)
        await writer.drain()
        if then:
            with contextlib.suppress(ConnectionError):
                writer.write(then)
                await writer.drain()
                writer.write_eof()  # all sent: the edge may stop lingering
        return await asyncio.wait_for(reader.read(-1), 15)
    finally:
        writer.close()


def parsed(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers (lower-case names) and JSON body of a raw HTTP/1.1 response."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, json.loads(body)


def assert_error_body(status: int, headers: dict[str, str], body: dict[str, Any], code: int) -> str:
    assert status == code, body
    assert headers["content-type"] == "application/json"
    assert set(body) == {"code", "message", "details", "requestId"}
    assert body["code"] == code
    assert body["requestId"] == headers["x-request-id"]
    assert headers["x-content-type-options"] == "nosniff"
    return str(next(d["reason"] for d in body["details"] if "reason" in d))


class TestBodies:
    @pytest.mark.parametrize("path", ["/auth/login", "/auth/token", PROJECTS, "/nowhere"])
    async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
        self, auth_base_url: str, path: str
    ) -> None:
        head = (
            f"POST {path} HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
            f"content-length: {150 * 1024 * 1024}\r\n\r\n"
        ).encode()
        status, headers, body = parsed(await exchange(auth_base_url, head))
        assert assert_error_body(status, headers, body, 413) == "BODY_TOO_LARGE"
        assert headers["connection"] == "close"

    async def test_a_chunked_body_is_cut_at_the_limit(self, auth_base_url: str) -> None:
        head = (
            b"POST /auth/login HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 65536
        chunks = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 40  # 2.5 MiB, over 1 MiB
        status, headers, body = parsed(await exchange(auth_base_url, head, then=chunks))
        assert assert_error_body(status, headers, body, 413) == "BODY_TOO_LARGE"

    async def test_a_promised_body_that_never_comes_is_408(
        self, identity_host: Host, oidc_issuer: str
    ) -> None:
        settings = auth_edge_settings(identity_host, oidc_issuer, body_timeout_seconds=0.3)
        async with serving(settings, None) as url:
            head = (
                b"POST /auth/login HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n"
                b"content-length: 100\r\n\r\n{"
            )
            status, headers, body = parsed(await exchange(url, head))
        assert assert_error_body(status, headers, body, 408) == "BODY_TIMEOUT"

    async def test_an_auth_body_over_the_limit_is_413_with_the_error_body(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        response = await auth_client.post(
            "/auth/login", json={"email": "a@example.com", "password": "p" * (2 * 1024 * 1024)}
        )
        assert reason(error_body(response, 413)) == "BODY_TOO_LARGE"


class TestStrictJson:
    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            (b'{"name": "\xff"}', "MALFORMED_JSON"),
            (b'\xef\xbb\xbf{"name": "x"}', "MALFORMED_JSON"),
            (b'{"name": "a", "name": "b"}', "MALFORMED_JSON"),
            (b'{"name": "\\ud800"}', "MALFORMED_JSON"),
            (b'{"name": NaN}', "INVALID_JSON_VALUE"),
            (b'{"name": "x", "description": Infinity}', "INVALID_JSON_VALUE"),
            (b'{"name": 1e400}', "INVALID_JSON_VALUE"),
            (b'{"name": ' + b"9" * 5000 + b"}", "INVALID_JSON_VALUE"),
            (b"[" * 30_000 + b"]" * 30_000, "JSON_TOO_DEEP"),
            (b'{"a":' * 40 + b"1" + b"}" * 40, "JSON_TOO_DEEP"),
        ],
    )
    async def test_what_json_cannot_carry_is_400_on_api_and_auth_routes(
        self,
        client: httpx.AsyncClient,
        auth_client: httpx.AsyncClient,
        bearer: dict[str, str],
        content: bytes,
        expected: str,
    ) -> None:
        headers = {**bearer, "content-type": "application/json"}
        api = await client.post(PROJECTS, content=content, headers=headers)
        assert reason(error_body(api, 400)) == expected
        auth = await auth_client.post(
            "/auth/login", content=content, headers={"content-type": "application/json"}
        )
        assert reason(error_body(auth, 400)) == expected


class TestFieldValues:
    @pytest.mark.parametrize(
        "priority", [4294967299, 99, 1.5, "4294967299", "TASK_PRIORITY_NOPE", True]
    )
    async def test_an_enum_takes_only_its_own_values(
        self, client: httpx.AsyncClient, bearer: dict[str, str], priority: object
    ) -> None:
        project = await create_project(client, bearer)
        response = await client.post(
            f"{PROJECTS}/{project['id']}/tasks",
            json={"title": "t", "priority": priority},
            headers=bearer,
        )
        body = error_body(response, 400)
        assert reason(body) == "INVALID_JSON_VALUE"

    async def test_a_defined_enum_number_is_accepted(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        response = await client.post(
            f"{PROJECTS}/{project['id']}/tasks", json={"title": "t", "priority": 3}, headers=bearer
        )
        assert response.status_code == 201, response.text
        assert response.json()["task"]["priority"] == "TASK_PRIORITY_HIGH"

    @pytest.mark.parametrize("size", ["1.5", "1e400", "NaN", "-Infinity", "99999999999", "²"])
    async def test_an_integer_parameter_must_be_a_whole_number_in_range(
        self, client: httpx.AsyncClient, bearer: dict[str, str], size: str
    ) -> None:
        response = await client.get(PROJECTS, params={"pageSize": size}, headers=bearer)
        assert "pageSize" in violated_fields(error_body(response, 400))

    async def test_an_enum_query_parameter_outside_the_enum_is_400(
        self, client: httpx.AsyncClient, bearer: dict[str, str]
    ) -> None:
        project = await create_project(client, bearer)
        for value in ("4294967299", "7", "9" * 30):
            response = await client.get(
                f"{PROJECTS}/{project['id']}/tasks", params={"orderBy": value}, headers=bearer
            )
            assert reason(error_body(response, 400)) == "INVALID_JSON_VALUE", value


def head_with(*headers: str, path: str = "/.well-known/openid-configuration") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "host: edge", *headers, "", ""]
    return "\r\n".join(lines).encode()


class TestHeads:
    async def test_too_many_header_fields_are_431(self, base_url: str) -> None:
        many = [f"x-filler-{number}: {number}" for number in range(5000)]
        status, headers, body = parsed(await exchange(base_url, head_with(*many)))
        assert assert_error_body(status, headers, body, 431) == "HEADERS_TOO_LARGE"

    async def test_a_megabyte_header_is_431(self, base_url: str) -> None:
        status, headers, body = parsed(
            await exchange(base_url, head_with("x-big: " + "a" * (1024 * 1024)))
        )
        assert assert_error_body(status, headers, body, 431) == "HEADERS_TOO_LARGE"

    async def test_an_oversized_authorization_is_431_not_429(
        self, client: httpx.AsyncClient, token: TokenFactory, org: str
    ) -> None:
        padded = f"Bearer {token(org=org)}{'x' * 6000}"
        response = await client.get(PROJECTS, headers={"authorization": padded})
        assert reason(error_body(response, 431)) == "HEADERS_TOO_LARGE"
        login = await client.post(
            "/auth/login",
            json={"email": "a@b.c", "password": "x"},
            headers={"authorization": padded},
        )
        error_body(login, 431)

    async def test_a_long_request_target_is_414(self, base_url: str) -> None:
        raw = head_with(path="/api/v1/planning/projects/" + "a" * 20_000)
        status, headers, body = parsed(await exchange(base_url, raw))
        assert assert_error_body(status, headers, body, 414) == "URI_TOO_LONG"

    async def test_a_head_that_never_ends_is_408(self, host: Host) -> None:
        settings = EdgeSettings(grpc_target=f"127.0.0.1:{host.port}", header_timeout_seconds=0.3)
        async with serving(settings, None) as url:
            status, headers, body = parsed(await exchange(url, b"GET / HTTP/1.1\r\nhost: e"))
        assert assert_error_body(status, headers, body, 408) == "HEADER_TIMEOUT"

    async def test_a_request_that_is_not_http_gets_the_error_body(self, base_url: str) -> None:
        status, headers, body = parsed(
            await exchange(base_url, b"\x16\x03\x01\x02\x00\x01\r\n\r\n")
        )
        assert assert_error_body(status, headers, body, 400) == "INVALID_HTTP"


class TestOneErrorBody:
    async def test_a_wrong_method_on_an_edge_route_is_405_with_the_error_body(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        response = await auth_client.get("/auth/login")
        assert reason(error_body(response, 405)) == "METHOD_NOT_ALLOWED"
        assert response.headers["allow"] == "POST"

    async def test_a_body_of_the_wrong_shape_is_400_with_the_error_body(
        self, auth_client: httpx.AsyncClient
    ) -> None:
        response = await auth_client.post("/auth/login", json=["not", "an", "object"])
        assert reason(error_body(response, 400)) == "INVALID_REQUEST"

    async def test_an_unknown_docs_asset_is_404_with_the_error_body(
        self, client: httpx.AsyncClient
    ) -> None:
        assert reason(error_body(await client.get("/docs/assets/x.js"), 404)) == "ROUTE_NOT_FOUND"


@pytest.fixture
async def https_proxied(host: Host) -> AsyncIterator[httpx.AsyncClient]:
    settings = EdgeSettings(grpc_target=f"127.0.0.1:{host.port}", trusted_proxies="127.0.0.1")
    async with serving(settings, None) as url, httpx.AsyncClient(base_url=url) as opened:
        yield opened


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", ["/.well-known/openid-configuration", PROJECTS, "/nowhere"])
    async def test_every_response_carries_them(self, client: httpx.AsyncClient, path: str) -> None:
        headers = (await client.get(path)).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers, "plain http: no HSTS"

    async def test_hsts_when_a_trusted_proxy_says_https(
        self, https_proxied: httpx.AsyncClient
    ) -> None:
        over_https = await https_proxied.get("/", headers={"x-forwarded-proto": "https"})
        assert over_https.headers["strict-transport-security"].startswith("max-age=31536000")
        over_http = await https_proxied.get("/", headers={"x-forwarded-proto": "http"})
        assert "strict-transport-security" not in over_http.headers

    async def test_an_untrusted_peer_cannot_ask_for_hsts(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/", headers={"x-forwarded-proto": "https"})
        assert "strict-transport-security" not in response.headers

    async def test_the_docs_page_loads_only_from_the_edge(self, client: httpx.AsyncClient) -> None:
        page = await client.get("/docs")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "http" not in policy, "no other origin"
        sources = [
            part.split('"', 1)[0]
            for part in page.text.split('src="')[1:] + page.text.split('href="')[1:]
        ]
        assert sources, page.text
        for source in sources:
            assert source.startswith("/docs/"), source
            asset = await client.get(source)
            assert asset.status_code == 200, source
            assert asset.headers["content-security-policy"] == policy


class TestInternals:
    async def test_an_unhandled_error_is_a_500_with_the_error_body(
        self, edge_settings: EdgeSettings
    ) -> None:
        app = create_app(edge_settings)

        async def boom() -> None:
            raise RuntimeError("secret internals")

        app.add_api_route("/boom", boom)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            response = await client.get("/boom")
        body = error_body(response, 500)
        assert "secret" not in response.text
        assert reason(body) == "INTERNAL"

    async def test_a_service_that_cannot_be_reached_is_503_without_its_address(
        self, token: TokenFactory, org: str
    ) -> None:
        settings = EdgeSettings(grpc_target="127.0.0.1:1", deadline_seconds=5)
        async with serving(settings, None) as url, httpx.AsyncClient(base_url=url) as client:
            response = await client.get(
                PROJECTS, headers={"authorization": f"Bearer {token(org=org)}"}
            )
        body = error_body(response, 503)
        assert body["message"] == "the service is unavailable; retry later"
        assert "127.0.0.1" not in response.text


class TestDevCookieRule:
    @pytest.mark.parametrize(
        ("host", "insecure"),
        [
            ("127.0.0.1", True),
            ("127.0.0.2", True),
            ("::1", True),
            ("localhost", True),
            ("0.0.0.0", False),  # noqa: S104 - a bind address, not a bind
            ("10.1.2.3", False),
        ],
    )
    def test_coder_dev_drops_secure_only_on_a_loopback_address(
        self, host: str, insecure: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("CODER_EDGE_COOKIE_SECURE", raising=False)
        assert dev_cookies_insecure(EdgeSettings(host=host)) is insecure

    def test_a_configured_flag_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CODER_EDGE_COOKIE_SECURE", "true")
        assert dev_cookies_insecure(EdgeSettings(host="127.0.0.1")) is False
