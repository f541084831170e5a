"""Calls on behalf of an event: a small consumer service of the test (acting as notification)
reads back each created planning task through `resources.peers` with a delegated token.

The callee's handlers are observed: planning sees the user whose action made the event as the
subject and the consumer service as `act`. Exchanges are audited; a removed member, a disabled
service account and another organization's event get no token; a forged, replayed or expired
assertion and an expired delegated token are refused. Both ways identity issues tokens are run:
embedded (one process, in-process exchange) and distributed (two hosts on RabbitMQ, the
consumer's process authenticating to identity over gRPC with its own key).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import grpc
import jwt
import pytest

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1 import events_pb2, task_pb2
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services import planning
from services.identity import IdentitySettings, definition
from services.kit import (
    DomainError,
    FailedPrecondition,
    Host,
    KeySource,
    ManualClock,
    Peers,
    PermissionDenied,
    Principal,
    Resources,
    ServiceChannels,
    ServiceDefinition,
    Settings,
    SigningKey,
    TokenVerifier,
    Unauthenticated,
    client_assertion,
    current_principal,
    open_resources,
)
from services.kit.bus import (
    Subscription,
    dead_letter_exchange_name,
    dead_letter_queue_name,
    make_event,
    retry_queue_name,
)
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import AUDIENCE, ISSUER, auth
from tests.identity.conftest import identity_settings
from tests.identity.factories import add_member, register, unique_email
from tests.kit.bus.conftest import amqp_url
from tests.kit.cache.conftest import redis_url
from tests.planning.factories import create_project, create_task

__all__ = ["amqp_url", "redis_url"]  # fixtures used by this module

NOTIFICATION = "service:notification"


async def eventually(condition: Callable[[], bool], *, within: float = 15.0) -> None:
    """Wait until `condition()` holds; fail the test when it does not within `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.02)


# --- what the callee sees ------------------------------------------------------------------


class Observer:
    """Records the principal each handler of the observed services runs as (after the kit's
    access interceptor, exactly as the handler sees it)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Principal]] = []

    def around(self, observed: ServiceDefinition) -> ServiceDefinition:
        def register(server: grpc.aio.Server, resources: Resources) -> None:
            observed.register(_ObservingRegistrar(server, self), resources)

        return dataclasses.replace(observed, register=register)

    def record(self, method: str) -> None:
        with contextlib.suppress(Unauthenticated):  # a public call without a token
            self.seen.append((method, current_principal()))

    def acted_by(self, actor: str, method: str) -> list[Principal]:
        return [p for m, p in self.seen if m.endswith(f"/{method}") and p.actor == actor]

    def observe(self, method: str, handler: Any) -> Any:
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            self.record(method)
            return await inner(request, context)

        return handler._replace(unary_unary=observed)


class _ObservingGeneric(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, inner: Any, observer: Observer) -> None:
        self._inner = inner
        self._observer = observer

    def service(self, details: grpc.HandlerCallDetails) -> Any:
        return self._observer.observe(details.method, self._inner.service(details))


class _ObservingRegistrar:
    def __init__(self, server: Any, observer: Observer) -> None:
        self._server = server
        self._observer = observer

    def add_generic_rpc_handlers(self, handlers: Sequence[Any]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_ObservingGeneric(h, self._observer) for h in handlers)
        )

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        observe = self._observer.observe
        self._server.add_registered_method_handlers(
            service, {n: observe(f"/{service}/{n}", h) for n, h in handlers.items()}
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


# --- the consumer ----------------------------------------------------------------------------


class TaskReader:
    """A small service of the test, acting as notification: on `planning.task.created` it reads
    the task back from planning on behalf of the event's actor."""

    def __init__(self) -> None:
        self.consumer = f"delegation-test-{uuid.uuid4().hex[:10]}"
        self.read: dict[str, tuple[event_pb2.Event, task_pb2.Task]] = {}
        self.refused: dict[str, BaseException] = {}

    def definition(self) -> ServiceDefinition:
        return ServiceDefinition(
            domain="notification",
            service_names=(),
            containers=(),
            register=lambda _server, _resources: None,
            subscriptions=self._subscriptions,
        )

    def _subscriptions(self, resources: Resources) -> list[Subscription]:
        async def handle(event: event_pb2.Event) -> None:
            payload = events_pb2.TaskChanged()
            event.data.Unpack(payload)
            request = planning_api.GetTaskRequest(
                project_id=payload.task.project_id, task_id=payload.task.id
            )
            try:
                stub = await resources.peers.stub(PlanningServiceStub, on_behalf_of=event)
                reply: planning_api.GetTaskResponse = await stub.GetTask(request)
            except (DomainError, grpc.aio.AioRpcError) as error:
                # A refusal will not change on redelivery: record it rather than retry.
                self.refused[payload.task.id] = error
                return
            self.read[payload.task.id] = (event, reply.task)

        return [Subscription(self.consumer, "planning", ("planning.task.created",), handle)]

    async def wait(self, task_id: str) -> tuple[event_pb2.Event, task_pb2.Task]:
        await eventually(lambda: task_id in self.read or task_id in self.refused)
        assert task_id not in self.refused, self.refused[task_id]
        return self.read[task_id]


# --- hosts -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Process:
    """One running host: its resources, a channel to it, and the stubs of what it serves."""

    host: Host
    resources: Resources
    identity: IdentityServiceStub
    planning: PlanningServiceStub

    def peers_of(self, domain: str) -> Peers:
        """The peers a service of this process gets."""
        return self.resources.for_service(domain).peers


def kit_settings(directory: Path, name: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": directory,
        "store_url": f"sqlite:///{directory / f'{name}.db'}",
        "bus_url": "memory://",
        "cache_url": "memory://",
        "outbox_poll_seconds": 0.1,
    }
    values.update(overrides)
    return Settings(**values)


def service_verifier() -> TokenVerifier:
    """A service process's verifier: identity's keys are attached when identity is hosted
    here; tokens bound to one domain's audience are accepted on that domain's RPCs."""
    return TokenVerifier(
        KeySource(jwks={"keys": []}, min_refresh_seconds=0),
        issuer=ISSUER,
        audience=AUDIENCE,
        domain_audiences=True,
    )


@asynccontextmanager
async def process(
    settings: Settings, definitions: Sequence[ServiceDefinition], *, clock: Any = None
) -> AsyncIterator[Process]:
    async with open_resources(
        settings, definitions, clock=clock, verifier=service_verifier()
    ) as resources:
        host = Host(definitions, resources, port=0, readiness_interval=0.2)
        await host.start()
        try:
            await host.wait_ready()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                yield Process(
                    host, resources, IdentityServiceStub(channel), PlanningServiceStub(channel)
                )
        finally:
            await host.stop(grace=0)


def identity_and_planning(
    observer: Observer, settings: IdentitySettings
) -> list[ServiceDefinition]:
    return [observer.around(definition(settings)), observer.around(planning.SERVICE)]


def event_of(
    organization_id: str,
    actor_id: str,
    kind: actor_pb2.ActorKind.ValueType = actor_pb2.ACTOR_KIND_USER,
) -> event_pb2.Event:
    """An event as a service would publish it after `actor_id` acted in the organization."""
    return make_event(
        "planning.task.created",
        organization_id,
        "task-x",
        events_pb2.TaskChanged(),
        actor=actor_pb2.Actor(kind=kind, id=actor_id),
    )


async def audit_of(
    stub: IdentityServiceStub, owner: api.AuthResult
) -> list[resources_pb2.AuditEvent]:
    reply: api.ListAuditEventsResponse = await stub.ListAuditEvents(
        api.ListAuditEventsRequest(organization_id=owner.organization_id, page_size=100),
        metadata=auth(owner.access_token),
    )
    return list(reply.events)


async def create_service_account(
    stub: IdentityServiceStub, owner: api.AuthResult, permissions: Sequence[str]
) -> api.CreateServiceAccountResponse:
    reply: api.CreateServiceAccountResponse = await stub.CreateServiceAccount(
        api.CreateServiceAccountRequest(
            organization_id=owner.organization_id,
            service_account=resources_pb2.ServiceAccount(name="bot", permissions=permissions),
        ),
        metadata=auth(owner.access_token),
    )
    return reply


# --- embedded --------------------------------------------------------------------------------


@dataclasses.dataclass
class Embedded:
    process: Process
    observer: Observer
    reader: TaskReader


@pytest.fixture(scope="module")
async def embedded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Embedded]:
    directory = tmp_path_factory.mktemp("delegation-embedded")
    observer, reader = Observer(), TaskReader()
    definitions = [*identity_and_planning(observer, identity_settings()), reader.definition()]
    async with process(kit_settings(directory, "embedded"), definitions) as started:
        yield Embedded(started, observer, reader)


async def a_task_by(owner: api.AuthResult, planning_stub: PlanningServiceStub) -> task_pb2.Task:
    project = await create_project(planning_stub, owner.access_token)
    return await create_task(planning_stub, owner.access_token, project.id, title="Ship it")


class TestEmbedded:
    async def test_the_callee_sees_the_events_actor_as_subject_and_the_service_as_act(
        self, embedded: Embedded
    ) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        task = await a_task_by(owner, suite.planning)

        event, read = await embedded.reader.wait(task.id)
        assert read.title == "Ship it"
        assert (event.actor.id, event.organization_id) == (owner.user.id, owner.organization_id)
        [seen] = [
            p
            for p in embedded.observer.acted_by(NOTIFICATION, "GetTask")
            if p.organization_id == owner.organization_id
        ]
        assert seen.subject == owner.user.id
        assert seen.kind == "user"
        assert seen.roles == {"owner"}  # the subject's current role, no more
        assert seen.bound_to == {"planning"}
        assert seen.session_id == ""
        assert seen.expires_at - seen.claims["iat"] == 300

        records = [
            r for r in await audit_of(suite.identity, owner) if r.action == "token.exchanged"
        ]
        [record] = [r for r in records if r.details["eventId"] == event.id]
        assert record.actor_user_id == owner.user.id
        assert record.subject_id == owner.user.id
        assert record.details["actor"] == NOTIFICATION
        assert record.details["audience"] == "planning"
        assert record.details["eventType"] == "planning.task.created"
        assert record.details["subjectKind"] == "user"

    async def test_a_token_for_identity_shows_the_subject_to_identity(
        self, embedded: Embedded
    ) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        event = event_of(owner.organization_id, owner.user.id)
        identity = await suite.peers_of("notification").stub(
            IdentityServiceStub, on_behalf_of=event
        )
        me: api.GetCurrentUserResponse = await identity.GetCurrentUser(api.GetCurrentUserRequest())
        assert me.user.id == owner.user.id
        [seen] = [
            p
            for p in embedded.observer.acted_by(NOTIFICATION, "GetCurrentUser")
            if p.subject == owner.user.id
        ]
        assert seen.bound_to == {"identity"}

    async def test_a_token_is_accepted_by_its_audience_only(self, embedded: Embedded) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        event = event_of(owner.organization_id, owner.user.id)
        token = await suite.peers_of("notification").delegated_token("planning", event)
        error = await rpc_error(
            suite.identity.GetCurrentUser(api.GetCurrentUserRequest(), metadata=auth(token)),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(error) == "TOKEN_AUDIENCE"

    async def test_a_removed_member_gets_no_token(self, embedded: Embedded) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        joined = await register(suite.identity, email=unique_email("gone"), organization_name="")
        await add_member(suite.resources, owner.organization_id, joined.user, "member")
        await suite.identity.RemoveMember(
            api.RemoveMemberRequest(organization_id=owner.organization_id, user_id=joined.user.id),
            metadata=auth(owner.access_token),
        )
        peers = suite.peers_of("notification")
        with pytest.raises(PermissionDenied) as refused:
            await peers.stub(
                PlanningServiceStub, on_behalf_of=event_of(owner.organization_id, joined.user.id)
            )
        assert refused.value.reason == "SUBJECT_NOT_IN_ORGANIZATION"
        [record] = [
            r
            for r in await audit_of(suite.identity, owner)
            if r.action == "token.exchange_refused" and r.subject_id == joined.user.id
        ]
        assert record.details["reason"] == "not_a_member"
        assert record.details["actor"] == NOTIFICATION

    async def test_a_member_is_given_their_current_role(self, embedded: Embedded) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        joined = await register(suite.identity, email=unique_email("viewer"), organization_name="")
        await add_member(suite.resources, owner.organization_id, joined.user, "viewer")
        project = await create_project(suite.planning, owner.access_token)
        event = event_of(owner.organization_id, joined.user.id)
        stub = await suite.peers_of("notification").stub(PlanningServiceStub, on_behalf_of=event)
        listed: planning_api.ListTasksResponse = await stub.ListTasks(
            planning_api.ListTasksRequest(project_id=project.id)
        )
        assert list(listed.tasks) == []
        error = await rpc_error(
            stub.CreateTask(
                planning_api.CreateTaskRequest(
                    project_id=project.id, task=task_pb2.Task(title="not allowed")
                )
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "PERMISSION_MISSING"

    async def test_another_organizations_event_cannot_reach_this_organizations_data(
        self, embedded: Embedded
    ) -> None:
        suite = embedded.process
        ours = await register(suite.identity)
        theirs = await register(suite.identity)
        their_task = await a_task_by(theirs, suite.planning)
        await embedded.reader.wait(their_task.id)
        peers = suite.peers_of("notification")
        # An event of their organization naming one of our users: we are no member there.
        with pytest.raises(PermissionDenied) as refused:
            await peers.stub(
                PlanningServiceStub, on_behalf_of=event_of(theirs.organization_id, ours.user.id)
            )
        assert refused.value.reason == "SUBJECT_NOT_IN_ORGANIZATION"
        with pytest.raises(PermissionDenied) as refused:
            await peers.stub(
                PlanningServiceStub, on_behalf_of=event_of("org-nowhere", ours.user.id)
            )
        assert refused.value.reason == "SUBJECT_NOT_IN_ORGANIZATION"
        # Our token is scoped to our organization: their task does not exist there.
        stub = await peers.stub(
            PlanningServiceStub, on_behalf_of=event_of(ours.organization_id, ours.user.id)
        )
        await rpc_error(
            stub.GetTask(
                planning_api.GetTaskRequest(project_id=their_task.project_id, task_id=their_task.id)
            ),
            grpc.StatusCode.NOT_FOUND,
        )

    async def test_service_accounts_act_with_their_permissions_until_disabled(
        self, embedded: Embedded
    ) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        await create_project(suite.planning, owner.access_token)
        created = await create_service_account(suite.identity, owner, ["planning.project.read"])
        account = created.service_account
        event = event_of(owner.organization_id, account.id, actor_pb2.ACTOR_KIND_SERVICE)
        peers = suite.peers_of("notification")
        stub = await peers.stub(PlanningServiceStub, on_behalf_of=event)
        listed: planning_api.ListProjectsResponse = await stub.ListProjects(
            planning_api.ListProjectsRequest()
        )
        assert len(listed.projects) == 1
        await rpc_error(
            stub.CreateProject(planning_api.CreateProjectRequest()),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        [seen] = [
            p
            for p in embedded.observer.acted_by(NOTIFICATION, "ListProjects")
            if p.subject == account.id
        ]
        assert seen.kind == "service" and seen.permissions == {"planning.project.read"}

        await suite.identity.DisableServiceAccount(
            api.DisableServiceAccountRequest(
                organization_id=owner.organization_id, service_account_id=account.id
            ),
            metadata=auth(owner.access_token),
        )
        with pytest.raises(PermissionDenied) as refused:
            await peers.delegated_token("identity", event)
        assert refused.value.reason == "SUBJECT_DISABLED"

    async def test_a_scope_narrows_the_token(self, embedded: Embedded) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        task = await a_task_by(owner, suite.planning)
        await embedded.reader.wait(task.id)
        event = event_of(owner.organization_id, owner.user.id)
        stub = await suite.peers_of("notification").stub(
            PlanningServiceStub, on_behalf_of=event, scope="planning.task.read"
        )
        await stub.GetTask(planning_api.GetTaskRequest(project_id=task.project_id, task_id=task.id))
        error = await rpc_error(
            stub.CreateProject(planning_api.CreateProjectRequest()),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "PERMISSION_MISSING"

    async def test_a_malformed_exchange_is_invalid(self, embedded: Embedded) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        peers = suite.peers_of("notification")
        system = event_of(owner.organization_id, "", actor_pb2.ACTOR_KIND_SYSTEM)
        with pytest.raises(DomainError) as refused:
            await peers.delegated_token("planning", system)
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert {v.field for v in refused.value.violations} == {"subject.kind", "subject.id"}
        with pytest.raises(DomainError) as refused:
            await peers.delegated_token(
                "planning", event_of(owner.organization_id, owner.user.id), scope="not a scope"
            )
        assert refused.value.reason == "INVALID_EXCHANGE"


class TestWhoMayExchange:
    """ExchangeToken is for platform services only: no user, service account or delegated
    token reaches it, whatever its role or permissions."""

    async def exchange(self, stub: IdentityServiceStub, token: str, owner: api.AuthResult) -> Any:
        return await stub.ExchangeToken(
            api.ExchangeTokenRequest(
                subject=actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=owner.user.id),
                organization_id=owner.organization_id,
                audience="planning",
            ),
            metadata=auth(token),
        )

    async def test_an_owners_access_token_is_refused(self, embedded: Embedded) -> None:
        stub = embedded.process.identity
        owner = await register(stub)
        error = await rpc_error(
            self.exchange(stub, owner.access_token, owner), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(error) == "PERMISSION_MISSING"

    async def test_a_service_account_granted_the_permission_is_refused(
        self, embedded: Embedded
    ) -> None:
        stub = embedded.process.identity
        owner = await register(stub)
        created = await create_service_account(stub, owner, ["identity.token.exchange"])
        issued: api.IssueServiceTokenResponse = await stub.IssueServiceToken(
            api.IssueServiceTokenRequest(
                client_id=created.service_account.client_id, client_secret=created.client_secret
            )
        )
        await rpc_error(
            self.exchange(stub, issued.access_token, owner), grpc.StatusCode.PERMISSION_DENIED
        )

    async def test_a_delegated_token_cannot_exchange_again(self, embedded: Embedded) -> None:
        suite = embedded.process
        owner = await register(suite.identity)
        token = await suite.peers_of("notification").delegated_token(
            "identity", event_of(owner.organization_id, owner.user.id)
        )
        await rpc_error(
            self.exchange(suite.identity, token, owner), grpc.StatusCode.PERMISSION_DENIED
        )

    async def test_the_rpc_has_no_rest_route(self, embedded: Embedded) -> None:
        from google.api import annotations_pb2

        method = api.DESCRIPTOR.services_by_name["IdentityService"].methods_by_name["ExchangeToken"]
        assert not method.GetOptions().HasExtension(annotations_pb2.http)


class TestExpiry:
    async def test_an_expired_delegated_token_is_refused(self, tmp_path: Path) -> None:
        # Identity's clock runs ten minutes behind: the token it mints expired five minutes ago.
        clock = ManualClock(datetime.now(UTC) - timedelta(minutes=10))
        definitions = [definition(identity_settings()), planning.SERVICE]
        async with process(kit_settings(tmp_path, "expiry"), definitions, clock=clock) as suite:
            owner = await register(suite.identity)
            event = event_of(owner.organization_id, owner.user.id)
            token = await suite.peers_of("notification").delegated_token("planning", event)
            error = await rpc_error(
                suite.planning.ListProjects(
                    planning_api.ListProjectsRequest(), metadata=auth(token)
                ),
                grpc.StatusCode.UNAUTHENTICATED,
            )
            assert error_reason(error) == "TOKEN_EXPIRED"


# --- distributed -----------------------------------------------------------------------------


@dataclasses.dataclass
class Distributed:
    identity_process: Process
    consumer_process: Process
    observer: Observer
    reader: TaskReader
    key: SigningKey
    directory: Path


async def delete_queues(url: str, consumer: str) -> None:
    """Remove the consumer's queues (planning's exchange is shared and stays)."""
    connection = await aio_pika.connect(url, timeout=5)
    try:
        channel = await connection.channel()
        for queue in (consumer, retry_queue_name(consumer), dead_letter_queue_name(consumer)):
            await channel.queue_delete(queue)
        await channel.exchange_delete(dead_letter_exchange_name(consumer))
    finally:
        await connection.close()


@pytest.fixture(scope="module")
async def distributed(
    tmp_path_factory: pytest.TempPathFactory, amqp_url: str, redis_url: str
) -> AsyncIterator[Distributed]:
    directory = tmp_path_factory.mktemp("delegation-distributed")
    key = SigningKey.generate("notification-test")
    service_keys = json.dumps({"notification": [key.public_jwk()]})
    observer, reader = Observer(), TaskReader()
    shared = {"bus_url": amqp_url, "bus_retry_delay_ms": 100}
    identity_host = kit_settings(directory, "identity", cache_url=redis_url, **shared)
    definitions = identity_and_planning(observer, identity_settings(service_keys=service_keys))
    try:
        async with process(identity_host, definitions) as first:
            target = f"127.0.0.1:{first.host.port}"
            consumer_host = kit_settings(
                directory,
                "notification",
                peers=json.dumps({"identity": target, "planning": target}),
                service_key=json.dumps(key.private_jwk()),
                **shared,
            )
            async with process(consumer_host, [reader.definition()]) as second:
                yield Distributed(first, second, observer, reader, key, directory)
    finally:
        await delete_queues(amqp_url, reader.consumer)


def peers_with(target: Process, key: SigningKey | None, opened: list[ServiceChannels]) -> Peers:
    """Peers of a process with `key` as its credentials, reaching identity on `target`."""
    address = f"127.0.0.1:{target.host.port}"
    channels = ServiceChannels(targets={"identity": address, "planning": address})
    opened.append(channels)
    return Peers(channels, key=key).acting_as("notification")


@pytest.fixture
async def opened() -> AsyncIterator[list[ServiceChannels]]:
    channels: list[ServiceChannels] = []
    yield channels
    for each in channels:
        await each.close()


def assertion_request(owner: api.AuthResult) -> api.ExchangeTokenRequest:
    return api.ExchangeTokenRequest(
        subject=actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=owner.user.id),
        organization_id=owner.organization_id,
        audience="planning",
        event_id="evt-1",
        event_type="planning.task.created",
    )


@pytest.mark.amqp
@pytest.mark.redis
class TestDistributed:
    async def test_the_consumer_asks_identity_over_grpc_and_the_callee_sees_the_actor(
        self, distributed: Distributed
    ) -> None:
        identity_process = distributed.identity_process
        assert distributed.consumer_process.host.definitions[0].domain == "notification"
        owner = await register(identity_process.identity)
        task = await a_task_by(owner, identity_process.planning)

        event, read = await distributed.reader.wait(task.id)
        assert read.id == task.id
        [seen] = [
            p
            for p in distributed.observer.acted_by(NOTIFICATION, "GetTask")
            if p.organization_id == owner.organization_id
        ]
        assert seen.subject == owner.user.id
        assert seen.bound_to == {"planning"}
        # The exchange itself was an RPC to identity, made as the notification service.
        exchanges = [p for m, p in distributed.observer.seen if m.endswith("/ExchangeToken")]
        assert exchanges and {(p.subject, p.kind) for p in exchanges} == {
            (NOTIFICATION, "platform")
        }
        records = await audit_of(identity_process.identity, owner)
        [record] = [r for r in records if r.action == "token.exchanged"]
        assert record.details["eventId"] == event.id
        assert record.details["actor"] == NOTIFICATION

    async def test_another_organizations_event_is_refused_over_grpc(
        self, distributed: Distributed, opened: list[ServiceChannels]
    ) -> None:
        identity_process = distributed.identity_process
        ours, theirs = (
            await register(identity_process.identity),
            await register(identity_process.identity),
        )
        peers = peers_with(identity_process, distributed.key, opened)
        with pytest.raises(PermissionDenied) as refused:
            await peers.stub(
                PlanningServiceStub, on_behalf_of=event_of(theirs.organization_id, ours.user.id)
            )
        assert refused.value.reason == "SUBJECT_NOT_IN_ORGANIZATION"

    async def test_wrong_credentials_are_refused(
        self, distributed: Distributed, opened: list[ServiceChannels]
    ) -> None:
        identity_process = distributed.identity_process
        owner = await register(identity_process.identity)
        event = event_of(owner.organization_id, owner.user.id)
        for key, reason in [
            (SigningKey.generate("notification-test"), "TOKEN_INVALID"),  # same kid, other key
            (SigningKey.generate("someone-else"), "TOKEN_UNKNOWN_KEY"),
        ]:
            with pytest.raises(Unauthenticated) as refused:
                await peers_with(identity_process, key, opened).delegated_token("planning", event)
            assert refused.value.reason == reason
        with pytest.raises(FailedPrecondition) as missing:
            await peers_with(identity_process, None, opened).delegated_token("planning", event)
        assert missing.value.reason == "NO_SERVICE_CREDENTIALS"

    async def test_forged_replayed_and_expired_assertions_are_refused(
        self, distributed: Distributed
    ) -> None:
        stub = distributed.identity_process.identity
        owner = await register(stub)
        key = distributed.key

        async def exchange(assertion: str) -> api.ExchangeTokenResponse:
            reply: api.ExchangeTokenResponse = await stub.ExchangeToken(
                assertion_request(owner), metadata=auth(assertion)
            )
            return reply

        assertion = client_assertion(key, "notification")
        issued = await exchange(assertion)
        assert issued.issued_token_type == "urn:ietf:params:oauth:token-type:jwt"
        assert issued.expires_in == 300
        claims = jwt.decode(issued.access_token, options={"verify_signature": False})
        assert claims["act"] == {"sub": NOTIFICATION}
        assert (claims["sub"], claims["org"], claims["aud"]) == (
            owner.user.id,
            owner.organization_id,
            "coder.planning",
        )

        replayed = await rpc_error(exchange(assertion), grpc.StatusCode.UNAUTHENTICATED)
        assert error_reason(replayed) == "ASSERTION_REPLAYED"

        other_domain = await rpc_error(
            exchange(client_assertion(key, "knowledge")), grpc.StatusCode.UNAUTHENTICATED
        )
        assert error_reason(other_domain) == "ASSERTION_SUBJECT_MISMATCH"

        old = client_assertion(key, "notification", now=time.time() - 600)
        expired = await rpc_error(exchange(old), grpc.StatusCode.UNAUTHENTICATED)
        assert error_reason(expired) == "TOKEN_EXPIRED"

        header, payload, signature = client_assertion(key, "notification").split(".")
        forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        forged_claims["sub"] = forged_claims["iss"] = "service:knowledge"
        forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
        tampered = await rpc_error(
            exchange(f"{header}.{forged}.{signature}"), grpc.StatusCode.UNAUTHENTICATED
        )
        assert error_reason(tampered) == "TOKEN_INVALID"

    async def test_a_delegated_token_with_its_act_removed_is_refused(
        self, distributed: Distributed, opened: list[ServiceChannels]
    ) -> None:
        identity_process = distributed.identity_process
        owner = await register(identity_process.identity)
        peers = peers_with(identity_process, distributed.key, opened)
        token = await peers.delegated_token(
            "planning", event_of(owner.organization_id, owner.user.id)
        )
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        del claims["act"]
        stripped = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        error = await rpc_error(
            identity_process.planning.ListProjects(
                planning_api.ListProjectsRequest(),
                metadata=auth(f"{header}.{stripped}.{signature}"),
            ),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(error) == "TOKEN_INVALID"
