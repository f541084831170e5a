"""Typed peer stubs: the domain comes from the stub, calls on behalf of an event carry a
delegated token (cached per subject, organization and audience), the event's trace context and
a deadline; refusals are the kit's errors."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.planning.v1 import events_pb2, task_pb2
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.kit import (
    DelegatedToken,
    DelegationRequest,
    FailedPrecondition,
    ManualClock,
    Peers,
    PermissionDenied,
    Revocation,
    Revocations,
    ServiceChannels,
    SigningKey,
)
from services.kit._context import CallState, set_call
from services.kit.bus import make_event
from services.kit.cache import MemoryExpiringSet

EVENT_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class PlanningProbe:
    """Stands in for planning's GetTask and records what each call arrived with."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        self.time_remaining: float | None = None

    async def get_task(
        self, request: planning_api.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> planning_api.GetTaskResponse:
        self.metadata = dict(context.invocation_metadata() or ())
        self.time_remaining = context.time_remaining()
        return planning_api.GetTaskResponse(task=task_pb2.Task(id=request.task_id))


@pytest.fixture
async def probe() -> AsyncIterator[tuple[PlanningProbe, int]]:
    recorder = PlanningProbe()
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        recorder.get_task,
        request_deserializer=planning_api.GetTaskRequest.FromString,
        response_serializer=planning_api.GetTaskResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "coder.planning.v1.PlanningService", {"GetTask": handler}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield recorder, port
    await server.stop(0)


class Exchanger:
    """An in-process exchanger that counts the exchanges it is asked for."""

    def __init__(self, *, expires_in: int = 300, refuse: bool = False) -> None:
        self.requests: list[DelegationRequest] = []
        self.expires_in = expires_in
        self.refuse = refuse
        self.release = asyncio.Event()
        self.release.set()
        self.asked = asyncio.Event()

    async def __call__(self, request: DelegationRequest) -> DelegatedToken:
        self.requests.append(request)
        self.asked.set()
        await self.release.wait()
        if self.refuse:
            raise PermissionDenied("no", reason="SUBJECT_NOT_IN_ORGANIZATION")
        return DelegatedToken(f"token-{len(self.requests)}", self.expires_in, request.scope)


def task_created(organization_id: str = "org-a", user_id: str = "user-a") -> event_pb2.Event:
    event = make_event(
        "planning.task.created",
        organization_id,
        "task-1",
        events_pb2.TaskChanged(),
        actor=actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=user_id, session_id="s-1"),
    )
    event.traceparent = EVENT_TRACE
    return event


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def opened() -> AsyncIterator[list[ServiceChannels]]:
    """The channels the test opened, closed after it."""
    channels: list[ServiceChannels] = []
    yield channels
    for each in channels:
        await each.close()


@pytest.fixture
def peers_to(opened: list[ServiceChannels], clock: ManualClock) -> Callable[..., Peers]:
    """`peers_to(port, exchanger)`: peers whose planning is the probe on `port`."""

    def build(port: int, exchanger: Exchanger | None = None) -> Peers:
        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        opened.append(channels)
        peers = Peers(channels, clock=clock, deadline_seconds=5.0)
        if exchanger is not None:
            peers.attach_exchanger(exchanger)
        return peers

    return build


async def get_task(stub: Any) -> str:
    reply: planning_api.GetTaskResponse = await stub.GetTask(
        planning_api.GetTaskRequest(project_id="p-1", task_id="t-1")
    )
    return reply.task.id


class TestStubs:
    async def test_without_an_event_the_callers_token_is_passed_on(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        recorder, port = probe
        peers = peers_to(port)
        state = CallState("/x/y", "req-1", metadata={"authorization": "Bearer caller"})

        async def call() -> str:
            set_call(state)
            return await get_task(await peers.stub(PlanningServiceStub))

        assert await asyncio.create_task(call(), context=contextvars.copy_context()) == "t-1"
        assert recorder.metadata["authorization"] == "Bearer caller"

    async def test_only_generated_stubs_name_a_domain(self, clock: ManualClock) -> None:
        peers = Peers(ServiceChannels(), clock=clock)
        with pytest.raises(ValueError, match="not a generated stub"):
            await peers.stub(dict)


class TestOnBehalfOfAnEvent:
    async def test_the_call_carries_a_delegated_token_the_trace_and_a_deadline(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        recorder, port = probe
        exchanger = Exchanger()
        peers = peers_to(port, exchanger).acting_as("notification")
        event = task_created()
        assert await get_task(await peers.stub(PlanningServiceStub, on_behalf_of=event)) == "t-1"
        assert recorder.metadata["authorization"] == "Bearer token-1"
        assert recorder.metadata["traceparent"] == EVENT_TRACE
        # The 5 s budget, as the callee sees it: gRPC's wire timeout (grpc-timeout) is
        # rounded up to its unit, so the callee may see a few milliseconds more.
        assert recorder.time_remaining is not None and 0 < recorder.time_remaining <= 5.1
        [asked] = exchanger.requests
        assert asked.actor_domain == "notification"
        assert (asked.subject.kind, asked.subject.id) == (actor_pb2.ACTOR_KIND_USER, "user-a")
        assert asked.subject.session_id == ""  # the token is not tied to the actor's session
        assert (asked.organization_id, asked.audience) == ("org-a", "planning")
        assert (asked.event_id, asked.event_type) == (event.id, "planning.task.created")

    async def test_a_current_span_is_continued_instead_of_the_events(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        recorder, port = probe
        peers = peers_to(port, Exchanger()).acting_as("notification")
        stub = await peers.stub(PlanningServiceStub, on_behalf_of=task_created())
        token = otel_context.attach(propagate.extract({"traceparent": OTHER_TRACE}))
        try:
            await get_task(stub)
        finally:
            otel_context.detach(token)
        assert recorder.metadata["traceparent"].split("-")[1] == OTHER_TRACE.split("-")[1]

    async def test_tokens_are_cached_per_subject_organization_and_audience(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        _, port = probe
        exchanger = Exchanger()
        peers = peers_to(port, exchanger)
        notification = peers.acting_as("notification")
        await notification.stub(PlanningServiceStub, on_behalf_of=task_created())
        await notification.stub(PlanningServiceStub, on_behalf_of=task_created())
        assert len(exchanger.requests) == 1
        await notification.stub(PlanningServiceStub, on_behalf_of=task_created("org-b"))
        await notification.stub(PlanningServiceStub, on_behalf_of=task_created(user_id="user-b"))
        await notification.stub(
            PlanningServiceStub, on_behalf_of=task_created(), scope="planning.task.read"
        )
        await peers.acting_as("knowledge").stub(PlanningServiceStub, on_behalf_of=task_created())
        assert len(exchanger.requests) == 5

    async def test_a_token_is_renewed_a_minute_before_it_expires(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        recorder, port = probe
        exchanger = Exchanger()
        peers = peers_to(port, exchanger).acting_as("notification")
        clock.advance(239)
        await get_task(await peers.stub(PlanningServiceStub, on_behalf_of=task_created()))
        assert recorder.metadata["authorization"] == "Bearer token-1"
        clock.advance(239)
        await get_task(await peers.stub(PlanningServiceStub, on_behalf_of=task_created()))
        assert recorder.metadata["authorization"] == "Bearer token-1"
        clock.advance(1)
        await get_task(await peers.stub(PlanningServiceStub, on_behalf_of=task_created()))
        assert recorder.metadata["authorization"] == "Bearer token-2"

    async def test_concurrent_work_shares_one_exchange(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        _, port = probe
        exchanger = Exchanger()
        exchanger.release.clear()
        peers = peers_to(port, exchanger).acting_as("notification")
        waiting = [
            asyncio.create_task(peers.stub(PlanningServiceStub, on_behalf_of=task_created()))
            for _ in range(10)
        ]
        async with asyncio.timeout(10):
            await exchanger.asked.wait()
        exchanger.release.set()
        await asyncio.gather(*waiting)
        assert len(exchanger.requests) == 1


class TestRefusals:
    async def test_a_refused_exchange_raises_and_is_not_cached(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        recorder, port = probe
        exchanger = Exchanger(refuse=True)
        peers = peers_to(port, exchanger).acting_as("notification")
        for _ in range(2):
            with pytest.raises(PermissionDenied) as refused:
                await peers.stub(PlanningServiceStub, on_behalf_of=task_created())
            assert refused.value.reason == "SUBJECT_NOT_IN_ORGANIZATION"
        assert len(exchanger.requests) == 2
        assert recorder.metadata == {}

    async def test_the_process_wide_view_acts_as_no_service(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        _, port = probe
        with pytest.raises(FailedPrecondition) as refused:
            await peers_to(port, Exchanger()).stub(PlanningServiceStub, on_behalf_of=task_created())
        assert refused.value.reason == "NO_ACTING_SERVICE"

    async def test_without_identity_here_or_a_service_key_nothing_is_asked(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, peers_to: Callable[..., Peers]
    ) -> None:
        _, port = probe
        peers = peers_to(port).acting_as("notification")
        with pytest.raises(FailedPrecondition) as refused:
            await peers.stub(PlanningServiceStub, on_behalf_of=task_created())
        assert refused.value.reason == "NO_SERVICE_CREDENTIALS"


class TestRevokedSubjects:
    async def test_a_cached_token_issued_before_a_revocation_is_exchanged_again(
        self, probe: tuple[PlanningProbe, int], clock: ManualClock, opened: list[ServiceChannels]
    ) -> None:
        _, port = probe
        key = SigningKey.generate()
        minted: list[DelegationRequest] = []

        async def exchanger(request: DelegationRequest) -> DelegatedToken:
            minted.append(request)
            token = key.mint(
                subject=request.subject.id,
                organization_id=request.organization_id,
                issuer="coder",
                audience=f"coder.{request.audience}",
                now=clock.now().timestamp(),
            )
            return DelegatedToken(token, 300)

        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        opened.append(channels)
        revocations = Revocations(
            MemoryExpiringSet(clock=clock), clock=clock, retention_seconds=930
        )
        peers = Peers(channels, clock=clock, revocations=revocations).acting_as("notification")
        peers.attach_exchanger(exchanger)
        mine, theirs = task_created(user_id="user-a"), task_created(user_id="user-b")
        first = await peers.delegated_token("planning", mine)
        other = await peers.delegated_token("planning", theirs)

        clock.advance(1)
        revocations.learn(Revocation.of_subject("org-a", "user-a", clock.now().timestamp()))

        renewed = await peers.delegated_token("planning", mine)
        assert renewed != first
        assert await peers.delegated_token("planning", mine) == renewed
        assert await peers.delegated_token("planning", theirs) == other
        assert [r.subject.id for r in minted] == ["user-a", "user-b", "user-a"]
