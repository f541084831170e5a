"""Access policies declared in the proto tree hold on every implemented service: each RPC with
`admin_only`, `owner_only` or `self_service` is called with tokens of every system role, and
the kit's access interceptor — not the handler — decides who gets past it.

Requests are empty: access runs before validation, so a caller that is let through meets a
validation or domain error instead, never PERMISSION_MISSING.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor_pool

from services import catalog
from services.kit import Policy, rule_of
from tests.conftest import HostFactory
from tests.fixtures.grpc_errors import error_reason
from tests.fixtures.hosts import ServiceHost, host_settings
from tests.fixtures.temporal import TemporalDevServer
from tests.fixtures.tokens import TokenFactory, auth

DEFINITIONS = catalog.load_all()


def declared(policy: Policy) -> list[str]:
    pool = descriptor_pool.Default()
    found = []
    for definition in DEFINITIONS:
        for service_name in definition.service_names:
            for method in pool.FindServiceByName(service_name).methods:
                if rule_of(method).policy is policy:
                    found.append(f"/{service_name}/{method.name}")
    return sorted(found)


@pytest.fixture(scope="module")
async def suite(
    service_host: HostFactory,
    temporal_server: TemporalDevServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServiceHost]:
    # Workflow runs on Temporal: the suite serves once Temporal answers.
    settings = host_settings(tmp_path_factory.mktemp("suite"), temporal_url=temporal_server.url)
    async with service_host(DEFINITIONS, settings=settings) as started:
        yield started


async def outcome(host: ServiceHost, method: str, token: str) -> str:
    """`passed` when the call got past access, else the refusal's reason."""
    call = host.channel.unary_unary(
        method, request_serializer=lambda raw: raw, response_deserializer=lambda raw: raw
    )
    try:
        await call(b"", metadata=auth(token), timeout=10)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.PERMISSION_DENIED:
            reason = error_reason(error)
            if reason == "PERMISSION_MISSING":
                return reason
    return "passed"


def test_the_tree_declares_every_policy() -> None:
    for policy in (Policy.ADMIN_ONLY, Policy.OWNER_ONLY, Policy.SELF_SERVICE):
        assert declared(policy), f"no implemented RPC declares {policy.value}"


@pytest.mark.parametrize("method", declared(Policy.ADMIN_ONLY))
async def test_admin_only_rpcs_refuse_members_and_viewers(
    suite: ServiceHost, token: TokenFactory, org: str, method: str
) -> None:
    for role in ("member", "viewer"):
        assert await outcome(suite, method, token(org, (role,))) == "PERMISSION_MISSING", role
    for role in ("admin", "owner"):
        assert await outcome(suite, method, token(org, (role,))) == "passed", role


@pytest.mark.parametrize("method", declared(Policy.OWNER_ONLY))
async def test_owner_only_rpcs_refuse_everyone_but_the_owner(
    suite: ServiceHost, token: TokenFactory, org: str, method: str
) -> None:
    for role in ("admin", "member", "viewer"):
        assert await outcome(suite, method, token(org, (role,))) == "PERMISSION_MISSING", role
    # A custom role cannot be handed an owner-only permission either.
    custom = token(org, ("auditor",), permissions=("*",))
    assert await outcome(suite, method, custom) == "PERMISSION_MISSING"
    assert await outcome(suite, method, token(org, ("owner",))) == "passed"


@pytest.mark.parametrize("method", declared(Policy.SELF_SERVICE))
async def test_self_service_rpcs_admit_any_signed_in_user(
    suite: ServiceHost, token: TokenFactory, org: str, method: str
) -> None:
    assert await outcome(suite, method, token(org, ())) == "passed"
    assert await outcome(suite, method, token(org, ("viewer",))) == "passed"
    assert await outcome(suite, method, token(org, (), kind="service")) == "PERMISSION_MISSING"
