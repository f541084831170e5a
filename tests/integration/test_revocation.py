"""Revocation takes effect now: after a logout, a member's removal, a role change or a service
account's disable, the token is refused by another service within a second — across two
processes over RabbitMQ and Redis, and in one embedded process at once — and delegated tokens
acting for a removed member stop too."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from yarl import URL

from coder.common.v1 import actor_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services import planning
from services.identity import IdentitySettings, definition
from services.kit import (
    Host,
    KeySource,
    PermissionDenied,
    Resources,
    ServiceDefinition,
    Settings,
    TokenVerifier,
    open_resources,
)
from services.kit.bus import make_event
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tcp_proxy import TcpProxy
from tests.fixtures.tokens import AUDIENCE, ISSUER, auth
from tests.identity.factories import add_member, login, refresh, register, unique_email
from tests.kit.bus.conftest import amqp_url
from tests.kit.cache.conftest import redis_url
from tests.planning.factories import create_project

__all__ = ["amqp_url", "redis_url"]  # fixtures used by this module

WITHIN = 1.0
"""How soon every service must refuse a revoked token (issue 7)."""


def identity_settings() -> IdentitySettings:
    return IdentitySettings(
        master_key=base64.b64encode(os.urandom(32)).decode(),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )


def kit_settings(directory: Path, name: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": directory,
        "store_url": f"sqlite:///{directory / f'{name}.db'}",
        "bus_url": "memory://",
        "cache_url": "memory://",
        "outbox_poll_seconds": 0.1,
        # Longer than any test: a refusal within the second must come from the bus.
        "revocation_sync_seconds": 3600,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Node:
    """One running process: its resources and stubs of what it serves."""

    host: Host
    resources: Resources
    identity: IdentityServiceStub
    planning: PlanningServiceStub


@asynccontextmanager
async def node(
    settings: Settings, definitions: Sequence[ServiceDefinition], verifier: TokenVerifier
) -> AsyncIterator[Node]:
    async with open_resources(settings, definitions, verifier=verifier) as resources:
        host = Host(definitions, resources, port=0, readiness_interval=0.2)
        await host.start()
        try:
            await host.wait_ready()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                yield Node(
                    host, resources, IdentityServiceStub(channel), PlanningServiceStub(channel)
                )
        finally:
            await host.stop(grace=0)


def verifier(jwks_file: Path | None = None) -> TokenVerifier:
    """A service process's verifier: identity's key ring attaches itself where identity runs;
    elsewhere the keys come from the JWKS file (as from the edge's URL)."""
    keys = (
        KeySource(path=jwks_file, min_refresh_seconds=0)
        if jwks_file is not None
        else KeySource(jwks={"keys": []}, min_refresh_seconds=0)
    )
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, domain_audiences=True)


async def list_projects(stub: PlanningServiceStub, token: str) -> None:
    await stub.ListProjects(planning_api.ListProjectsRequest(), metadata=auth(token))


async def refused_within(call: Callable[[], Awaitable[Any]], seconds: float) -> str:
    """Call until the call is refused as unauthenticated; its reason. Fails when it is still
    accepted `seconds` after the start."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            await call()
        except grpc.aio.AioRpcError as error:
            refused = error
            break
        if loop.time() > deadline:
            pytest.fail(f"the token was still accepted {seconds} s after its revocation")
        await asyncio.sleep(0.01)
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED, refused.details()
    return error_reason(refused)


async def member_of(identity: Node, owner: api.AuthResult, role: str) -> api.AuthResult:
    """A new user holding `role` in the owner's organization, signed in there."""
    email = unique_email(role)
    joined = await register(identity.identity, email=email, organization_name="")
    await add_member(identity.resources, owner.organization_id, joined.user, role)
    return await login(identity.identity, email, organization_id=owner.organization_id)


async def service_account_token(
    stub: IdentityServiceStub, owner: api.AuthResult
) -> tuple[str, str]:
    """A new service account of the owner's organization and a token of it: (id, token)."""
    created: api.CreateServiceAccountResponse = await stub.CreateServiceAccount(
        api.CreateServiceAccountRequest(
            organization_id=owner.organization_id,
            service_account=resources_pb2.ServiceAccount(
                name="reader", permissions=["planning.*.read"]
            ),
        ),
        metadata=auth(owner.access_token),
    )
    issued: api.IssueServiceTokenResponse = await stub.IssueServiceToken(
        api.IssueServiceTokenRequest(
            client_id=created.service_account.client_id, client_secret=created.client_secret
        )
    )
    return created.service_account.id, issued.access_token


# --- two processes over RabbitMQ and Redis ---------------------------------------------------


@dataclass
class Cluster:
    identity: Node
    planning: Node
    directory: Path
    amqp_url: str
    redis_url: str


@pytest.fixture(scope="module")
async def cluster(
    tmp_path_factory: pytest.TempPathFactory, amqp_url: str, redis_url: str
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("revocation")
    shared = {"bus_url": amqp_url, "cache_url": redis_url}
    identity_process = kit_settings(directory, "identity", **shared)
    async with node(identity_process, [definition(identity_settings())], verifier()) as first:
        reply: api.GetJwksResponse = await first.identity.GetJwks(api.GetJwksRequest())
        jwks_file = directory / "jwks.json"
        jwks_file.write_text(reply.jwks_json)
        planning_process = kit_settings(directory, "planning", **shared)
        async with node(planning_process, [planning.SERVICE], verifier(jwks_file)) as second:
            yield Cluster(first, second, directory, amqp_url, redis_url)


@pytest.mark.amqp
@pytest.mark.redis
class TestAcrossProcesses:
    async def test_a_logged_out_token_is_refused_by_another_service_within_a_second(
        self, cluster: Cluster
    ) -> None:
        signed_in = await register(cluster.identity.identity)
        await list_projects(cluster.planning.planning, signed_in.access_token)

        await cluster.identity.identity.Logout(
            api.LogoutRequest(refresh_token=signed_in.refresh_token)
        )

        reason = await refused_within(
            lambda: list_projects(cluster.planning.planning, signed_in.access_token), WITHIN
        )
        assert reason == "TOKEN_REVOKED"

    async def test_a_removed_members_token_is_refused_within_a_second(
        self, cluster: Cluster
    ) -> None:
        owner = await register(cluster.identity.identity)
        member = await member_of(cluster.identity, owner, "member")
        await list_projects(cluster.planning.planning, member.access_token)

        await cluster.identity.identity.RemoveMember(
            api.RemoveMemberRequest(organization_id=owner.organization_id, user_id=member.user.id),
            metadata=auth(owner.access_token),
        )

        reason = await refused_within(
            lambda: list_projects(cluster.planning.planning, member.access_token), WITHIN
        )
        assert reason == "TOKEN_REVOKED"
        await list_projects(cluster.planning.planning, owner.access_token)  # others keep theirs

    async def test_a_role_change_refuses_the_old_role_and_the_next_token_has_the_new_one(
        self, cluster: Cluster
    ) -> None:
        owner = await register(cluster.identity.identity)
        member = await member_of(cluster.identity, owner, "member")
        await create_project(cluster.planning.planning, member.access_token)

        await cluster.identity.identity.UpdateMemberRole(
            api.UpdateMemberRoleRequest(
                organization_id=owner.organization_id, user_id=member.user.id, role="viewer"
            ),
            metadata=auth(owner.access_token),
        )

        reason = await refused_within(
            lambda: create_project(cluster.planning.planning, member.access_token), WITHIN
        )
        assert reason == "TOKEN_REVOKED"
        viewer = await refresh(cluster.identity.identity, member.refresh_token)
        assert viewer.role == "viewer"
        await list_projects(cluster.planning.planning, viewer.access_token)
        denied = await rpc_error(
            create_project(cluster.planning.planning, viewer.access_token),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(denied) == "PERMISSION_MISSING"

    async def test_a_disabled_service_accounts_token_is_refused_within_a_second(
        self, cluster: Cluster
    ) -> None:
        owner = await register(cluster.identity.identity)
        account_id, token = await service_account_token(cluster.identity.identity, owner)
        await list_projects(cluster.planning.planning, token)

        await cluster.identity.identity.DisableServiceAccount(
            api.DisableServiceAccountRequest(
                organization_id=owner.organization_id, service_account_id=account_id
            ),
            metadata=auth(owner.access_token),
        )

        reason = await refused_within(
            lambda: list_projects(cluster.planning.planning, token), WITHIN
        )
        assert reason == "TOKEN_REVOKED"

    async def test_with_the_broker_cut_off_the_shared_set_still_carries_it(
        self, cluster: Cluster
    ) -> None:
        target = URL(cluster.amqp_url)
        async with TcpProxy(target.host or "127.0.0.1", target.port or 5672) as proxy:
            cut_off = kit_settings(
                cluster.directory,
                "planning-cut-off",
                bus_url=str(URL(cluster.amqp_url).with_port(proxy.port)),
                cache_url=cluster.redis_url,
                revocation_sync_seconds=0.2,
            )
            jwks = verifier(cluster.directory / "jwks.json")
            async with node(cut_off, [planning.SERVICE], jwks) as isolated:
                signed_in = await register(cluster.identity.identity)
                await list_projects(isolated.planning, signed_in.access_token)
                await proxy.cut()

                await cluster.identity.identity.Logout(
                    api.LogoutRequest(refresh_token=signed_in.refresh_token)
                )

                # The next reload of the shared set, well within the second.
                reason = await refused_within(
                    lambda: list_projects(isolated.planning, signed_in.access_token), WITHIN
                )
                assert reason == "TOKEN_REVOKED"
                await proxy.restore()

    async def test_with_redis_and_the_broker_cut_off_tokens_still_verify(
        self, cluster: Cluster
    ) -> None:
        amqp, cache = URL(cluster.amqp_url), URL(cluster.redis_url)
        async with (
            TcpProxy(amqp.host or "127.0.0.1", amqp.port or 5672) as broker,
            TcpProxy(cache.host or "127.0.0.1", cache.port or 6379) as redis_proxy,
        ):
            cut_off = kit_settings(
                cluster.directory,
                "planning-offline",
                bus_url=str(amqp.with_port(broker.port)),
                cache_url=str(cache.with_port(redis_proxy.port)) + "?socket_timeout=0.5",
            )
            jwks = verifier(cluster.directory / "jwks.json")
            async with node(cut_off, [planning.SERVICE], jwks) as offline:
                seen = await register(cluster.identity.identity)
                await list_projects(offline.planning, seen.access_token)
                await broker.cut()
                await redis_proxy.cut()

                # The hot path holds no network hop: a cached token and one never seen before
                # both verify, from the process's own keys and mirror.
                await list_projects(offline.planning, seen.access_token)
                fresh = await register(cluster.identity.identity)
                await list_projects(offline.planning, fresh.access_token)
                await broker.restore()
                await redis_proxy.restore()


# --- one embedded process --------------------------------------------------------------------


@pytest.fixture(scope="module")
async def embedded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    directory = tmp_path_factory.mktemp("revocation-embedded")
    definitions = [definition(identity_settings()), planning.SERVICE]
    async with node(kit_settings(directory, "suite"), definitions, verifier()) as started:
        yield started


class TestEmbedded:
    async def test_a_logged_out_token_is_refused_at_once(self, embedded: Node) -> None:
        signed_in = await register(embedded.identity)
        await list_projects(embedded.planning, signed_in.access_token)

        await embedded.identity.Logout(api.LogoutRequest(refresh_token=signed_in.refresh_token))

        refused = await rpc_error(
            list_projects(embedded.planning, signed_in.access_token),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(refused) == "TOKEN_REVOKED"

    async def test_a_revoked_session_ends_and_the_others_go_on(self, embedded: Node) -> None:
        email = unique_email()
        first = await register(embedded.identity, email=email)
        second = await login(embedded.identity, email)

        await embedded.identity.RevokeSession(
            api.RevokeSessionRequest(session_id=first.session.id),
            metadata=auth(second.access_token),
        )

        await rpc_error(
            list_projects(embedded.planning, first.access_token), grpc.StatusCode.UNAUTHENTICATED
        )
        await list_projects(embedded.planning, second.access_token)

    async def test_a_removed_members_delegated_token_stops_too(self, embedded: Node) -> None:
        owner = await register(embedded.identity)
        member = await member_of(embedded, owner, "member")
        event = make_event(
            "planning.task.created",
            owner.organization_id,
            "task-1",
            struct_pb2.Struct(),
            actor=actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=member.user.id),
        )
        peers = embedded.resources.for_service("notification").peers
        acting = await peers.stub(PlanningServiceStub, on_behalf_of=event)
        await acting.ListProjects(planning_api.ListProjectsRequest())

        await embedded.identity.RemoveMember(
            api.RemoveMemberRequest(organization_id=owner.organization_id, user_id=member.user.id),
            metadata=auth(owner.access_token),
        )

        # The token the stub holds is refused by planning; asking for a new one is refused
        # by identity (the kit does not serve the cached one again).
        stale = await rpc_error(
            acting.ListProjects(planning_api.ListProjectsRequest()),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(stale) == "TOKEN_REVOKED"
        with pytest.raises(PermissionDenied) as refused:
            await peers.stub(PlanningServiceStub, on_behalf_of=event)
        assert refused.value.reason == "SUBJECT_NOT_IN_ORGANIZATION"
