"""The client address: forwarding headers count only from trusted proxies
(`CODER_EDGE_TRUSTED_PROXIES`), for the per-IP limits, the IP recorded on a session and the
access log alike; uvicorn's own proxy-header handling cannot undo it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from edge.proxies import TrustedProxies, parse_networks
from services.kit import Host
from tests.edge.conftest import auth_edge_settings, serving
from tests.edge.signin import PASSWORD, register, unique_email

PROXY = "127.0.0.1"
"""The trusted proxy's address in these tests."""
STRANGER = "127.0.0.2"
"""Another loopback address: a peer that is not a trusted proxy."""


def resolve(proxies: TrustedProxies, peer: str, *headers: tuple[str, str]) -> tuple[str, str]:
    encoded = [(name.encode(), value.encode()) for name, value in headers]
    caller = proxies.resolve(peer, "http", encoded)
    return caller.address, caller.scheme


class TestResolution:
    def test_without_trusted_proxies_the_peer_is_the_client(self) -> None:
        proxies = TrustedProxies(())
        spoofed = ("x-forwarded-for", "198.51.100.7")
        assert resolve(proxies, "10.0.0.5", spoofed, ("x-forwarded-proto", "https")) == (
            "10.0.0.5",
            "http",
        )

    def test_a_trusted_peer_names_the_client_and_the_scheme(self) -> None:
        proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
        headers = (("x-forwarded-for", "6.6.6.6, 198.51.100.7"), ("x-forwarded-proto", "https"))
        assert resolve(proxies, "10.1.2.3", *headers) == ("198.51.100.7", "https")

    def test_an_untrusted_peer_cannot_name_a_client_or_a_scheme(self) -> None:
        proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
        headers = (("x-forwarded-for", "198.51.100.7"), ("x-forwarded-proto", "https"))
        assert resolve(proxies, "192.0.2.1", *headers) == ("192.0.2.1", "http")

    def test_the_walk_stops_at_the_hop_count_and_at_the_first_untrusted_address(self) -> None:
        two = TrustedProxies(parse_networks("10.0.0.0/8"), hops=2)
        chain = ("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.9.9.9")
        assert resolve(two, "10.0.0.1", chain)[0] == "198.51.100.7"
        one = TrustedProxies(parse_networks("10.0.0.0/8"), hops=1)
        assert resolve(one, "10.0.0.1", chain)[0] == "10.9.9.9"
        # 198.51.100.7 is no proxy of ours: what it claims (6.6.6.6) does not count.
        three = TrustedProxies(parse_networks("10.0.0.0/8"), hops=3)
        assert resolve(three, "10.0.0.1", chain)[0] == "198.51.100.7"

    def test_several_header_lines_are_one_list(self) -> None:
        proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
        headers = (("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.7"))
        assert resolve(proxies, "10.0.0.1", *headers)[0] == "198.51.100.7"

    def test_a_forwarded_entry_that_is_no_address_leaves_the_proxy_as_the_client(self) -> None:
        proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
        assert resolve(proxies, "10.0.0.1", ("x-forwarded-for", "unknown"))[0] == "10.0.0.1"

    def test_rfc_7239_forwarded(self) -> None:
        proxies = TrustedProxies(parse_networks("10.0.0.0/8"), header="forwarded")
        header = ("forwarded", 'for=6.6.6.6, for="[2001:db8::1]:4711";proto=https;by=10.0.0.1')
        assert resolve(proxies, "10.0.0.1", header) == ("2001:db8::1", "https")
        # Configured for Forwarded, a proxy's X-Forwarded-For is just another header.
        assert resolve(proxies, "10.0.0.1", ("x-forwarded-for", "6.6.6.6"))[0] == "10.0.0.1"

    def test_a_malformed_list_is_refused_at_start_up(self) -> None:
        with pytest.raises(ValueError, match="not-an-address"):
            parse_networks("10.0.0.0/8, not-an-address")


@asynccontextmanager
async def edge(identity_host: Host, oidc_issuer: str, **overrides: Any) -> AsyncIterator[str]:
    settings = auth_edge_settings(identity_host, oidc_issuer, auth_login_limit=2, **overrides)
    # FORWARDED_ALLOW_IPS and proxy_headers are uvicorn's way to trust XFF: asking for it
    # must change nothing, the edge alone decides.
    async with serving(settings, None, proxy_headers=True, forwarded_allow_ips="*") as url:
        yield url


def client_from(address: str, base_url: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)


async def sign_in(client: httpx.AsyncClient, email: str, forwarded_for: str) -> httpx.Response:
    return await client.post(
        "/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"x-forwarded-for": forwarded_for},
    )


class TestAtTheEdge:
    async def test_a_spoofed_header_from_an_untrusted_peer_changes_nothing(
        self, identity_host: Host, oidc_issuer: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
        async with (
            edge(identity_host, oidc_issuer, trusted_proxies=f"{PROXY}/32") as url,
            client_from(STRANGER, url) as stranger,
        ):
            email = unique_email()
            await register(stranger, email)  # the first of the stranger's two attempts
            signed_in = await sign_in(stranger, email, "198.51.100.1")
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["session"]["ipAddress"] == STRANGER
            # A new "client" per request would have a quota of its own; the socket has one.
            refused = await sign_in(stranger, email, "198.51.100.2")
            assert refused.status_code == 429, refused.text

    async def test_through_a_trusted_proxy_the_forwarded_client_counts(
        self, identity_host: Host, oidc_issuer: str
    ) -> None:
        async with (
            edge(identity_host, oidc_issuer, trusted_proxies=f"{PROXY}/32") as url,
            client_from(PROXY, url) as proxy,
        ):
            email = unique_email()
            registered = await proxy.post(
                "/auth/register",
                json={"email": email, "password": PASSWORD, "displayName": "Ada"},
                headers={"x-forwarded-for": "198.51.100.10"},
            )
            assert registered.status_code == 201, registered.text
            assert registered.json()["session"]["ipAddress"] == "198.51.100.10"
            assert (await sign_in(proxy, email, "198.51.100.10")).status_code == 200
            assert (await sign_in(proxy, email, "198.51.100.10")).status_code == 429
            other = await sign_in(proxy, email, "198.51.100.11")
            assert other.status_code == 200, "another client behind the proxy has its own quota"
            assert other.json()["session"]["ipAddress"] == "198.51.100.11"

    async def test_the_api_limit_bucket_is_the_peer_of_an_untrusted_request(
        self, identity_host: Host, oidc_issuer: str
    ) -> None:
        async with (
            edge(identity_host, oidc_issuer, api_ip_limit=2, api_window_seconds=60) as url,
            client_from(STRANGER, url) as stranger,
        ):
            for number in range(2):
                answer = await stranger.get(
                    "/api/v1/planning/projects", headers={"x-forwarded-for": f"192.0.2.{number}"}
                )
                assert answer.status_code == 401
            refused = await stranger.get(
                "/api/v1/planning/projects", headers={"x-forwarded-for": "192.0.2.99"}
            )
            assert refused.status_code == 429
