"""Runs of definitions on the real Temporal dev server: the interpreter runs calls,
conditions, loops, parallel branches and sub-workflows; waits for signals and human gates;
cancellation (recorded by the run) differs from termination (immediate); the concurrency limit
of a definition; the run's events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import json_format

from coder.workflow.v1 import run_pb2
from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import rpc_error
from tests.fixtures.tokens import Metadata
from tests.fixtures.waiting import eventually
from tests.workflow.factories import call_http, gate, wait
from tests.workflow.runs import create, reached, start

Member = Callable[..., Metadata]


def _output(run: run_pb2.Run) -> object:
    return json_format.MessageToDict(run.output)


class TestInterpreter:
    async def test_calls_conditions_loops_and_branches_run_to_completion(
        self, stub: WorkflowServiceStub, as_member: Member, echo_server: str
    ) -> None:
        echo = f"http://{echo_server}/echo"
        steps = [
            {
                "name": "each",
                "loop": {
                    "items": "input.items",
                    "steps": [call_http("shout", echo, {"item": "${item}"})],
                },
            },
            {
                **call_http("never", echo, {"x": 1}),
                "when": {"variable": "input.missing", "operator": "OPERATOR_EXISTS"},
            },
            {
                "name": "both",
                "parallel": {
                    "branches": [
                        {"name": "left", "steps": [call_http("l", echo, {"side": "left"})]},
                        {
                            "name": "right",
                            "steps": [call_http("r", echo, {"n": "${steps.each.1.got.item}"})],
                        },
                    ]
                },
            },
        ]
        definition_id = await create(stub, as_member(), steps)
        run_id = await start(stub, as_member(), definition_id, {"items": ["a", "b"]})
        run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED)
        assert _output(run) == {"left": {"got": {"side": "left"}}, "right": {"got": {"n": "b"}}}
        statuses = {s.name: s.status for s in run.steps}
        assert statuses["never"] == run_pb2.STEP_STATUS_SKIPPED
        assert statuses["shout[1]"] == run_pb2.STEP_STATUS_COMPLETED
        assert (run.definition_id, run.trigger) == (definition_id, run_pb2.TRIGGER_KIND_MANUAL)

    async def test_a_host_off_the_allow_list_fails_the_run(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(
            stub, as_member(), [call_http("out", "http://example.com/x", {})]
        )
        run_id = await start(stub, as_member(), definition_id)
        run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_FAILED)
        assert "allow-list" in run.error

    async def test_a_sub_workflow_runs_as_a_child_and_gives_its_output(
        self, stub: WorkflowServiceStub, as_member: Member, echo_server: str
    ) -> None:
        child = await create(
            stub, as_member(), [call_http("c", f"http://{echo_server}/echo", {"v": "${input.v}"})]
        )
        parent = await create(
            stub,
            as_member(),
            [{"name": "sub", "subWorkflow": {"definitionId": child, "input": {"v": "${input.v}"}}}],
        )
        run_id = await start(stub, as_member(), parent, {"v": "deep"})
        run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED)
        assert _output(run) == {"got": {"v": "deep"}}


class TestWaits:
    async def test_a_gate_waits_for_approval_then_goes_on(
        self, stub: WorkflowServiceStub, as_member: Member, events: EventRecorder, org: str
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        run_id = await start(stub, as_member(), definition_id)
        waiting = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        assert list(waiting.waiting_on) == ["approve"]
        decision = api.GateDecision(step="approve", approve=True, comment="fine")
        await stub.SignalRun(
            api.SignalRunRequest(run_id=run_id, gate=decision), metadata=as_member(sub="boss")
        )
        done = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED)
        assert _output(done) == {"approved": True, "comment": "fine", "by": "boss"}
        published = await events.settle(org, 3)
        assert [e.type for e in published] == [
            "workflow.definition.created",
            "workflow.run.started",
            "workflow.run.completed",
        ]

    async def test_a_rejection_fails_the_run(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        run_id = await start(stub, as_member(), definition_id)
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        decision = api.GateDecision(step="approve", approve=False)
        await stub.SignalRun(
            api.SignalRunRequest(run_id=run_id, gate=decision), metadata=as_member()
        )
        run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_FAILED)
        assert "rejected" in run.error

    async def test_a_decision_for_a_gate_not_waiting_is_refused(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [wait("hold", "go"), gate("approve")])
        run_id = await start(stub, as_member(), definition_id)
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        decision = api.GateDecision(step="approve", approve=True)
        await rpc_error(
            stub.SignalRun(
                api.SignalRunRequest(run_id=run_id, gate=decision), metadata=as_member()
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )

    async def test_a_named_signal_s_payload_is_the_wait_s_output(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [wait("hold", "go")])
        run_id = await start(stub, as_member(), definition_id)
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        named = api.NamedSignal(name="go")
        named.payload.update({"why": "now"})
        await stub.SignalRun(api.SignalRunRequest(run_id=run_id, named=named), metadata=as_member())
        run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED)
        assert _output(run) == {"why": "now"}

    async def test_a_timed_out_wait_may_go_on(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        step = wait("hold", "go", timeout="0.5s", onTimeout="TIMEOUT_ACTION_CONTINUE")
        definition_id = await create(stub, as_member(), [step])
        run_id = await start(stub, as_member(), definition_id)
        run = await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED)
        assert run.output.WhichOneof("kind") in (None, "null_value")


class TestStopping:
    async def test_a_cancelled_run_records_its_cancellation(
        self, stub: WorkflowServiceStub, as_member: Member, events: EventRecorder, org: str
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        run_id = await start(stub, as_member(), definition_id)
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        await stub.CancelRun(api.CancelRunRequest(run_id=run_id), metadata=as_member())
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_CANCELLED)
        published = await events.settle(org, 3)
        assert published[-1].type == "workflow.run.cancelled"

    async def test_a_terminated_run_stops_at_once(
        self, stub: WorkflowServiceStub, as_member: Member, events: EventRecorder, org: str
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        run_id = await start(stub, as_member(), definition_id)
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        await stub.TerminateRun(
            api.TerminateRunRequest(run_id=run_id, reason="wrong input"), metadata=as_member()
        )
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_TERMINATED)
        published = await events.settle(org, 3)
        assert published[-1].type == "workflow.run.terminated"
        await rpc_error(
            stub.CancelRun(api.CancelRunRequest(run_id=run_id), metadata=as_member()),
            grpc.StatusCode.FAILED_PRECONDITION,
        )

    async def test_the_concurrency_limit_refuses_a_start_past_it(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")], concurrencyLimit=1)
        first = await start(stub, as_member(), definition_id)
        await rpc_error(start(stub, as_member(), definition_id), grpc.StatusCode.RESOURCE_EXHAUSTED)
        await stub.TerminateRun(api.TerminateRunRequest(run_id=first), metadata=as_member())
        await start(stub, as_member(), definition_id)


class TestHistory:
    async def test_runs_are_listed_by_definition_and_status(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        other = await create(stub, as_member(), [gate("approve")])
        waiting = await start(stub, as_member(), definition_id)
        ended = await start(stub, as_member(), definition_id)
        await start(stub, as_member(), other)
        await reached(stub, as_member(), waiting, run_pb2.RUN_STATUS_WAITING)
        await stub.TerminateRun(api.TerminateRunRequest(run_id=ended), metadata=as_member())

        async def listed(status: run_pb2.RunStatus.ValueType) -> list[str]:
            request = api.ListRunsRequest(definition_id=definition_id, status=status)
            answer = await stub.ListRuns(request, metadata=as_member())
            return [run.id for run in answer.runs]

        async def caught_up() -> bool:
            return (
                await listed(run_pb2.RUN_STATUS_WAITING),
                await listed(run_pb2.RUN_STATUS_TERMINATED),
            ) == ([waiting], [ended])

        await eventually(caught_up, within=30, interval=0.2)
        everything = await stub.ListRuns(
            api.ListRunsRequest(definition_id=definition_id), metadata=as_member()
        )
        assert {run.id for run in everything.runs} == {waiting, ended}

    async def test_runs_are_listed_by_start_time(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        run_id = await start(stub, as_member(), definition_id)

        async def listed(**window: datetime) -> list[str]:
            request = api.ListRunsRequest(definition_id=definition_id)
            for name, moment in window.items():
                getattr(request, name).FromDatetime(moment)
            answer = await stub.ListRuns(request, metadata=as_member())
            return [run.id for run in answer.runs]

        hour_ago, later = datetime.now(UTC) - timedelta(hours=1), datetime(6045, 11, 9, tzinfo=UTC)

        async def caught_up() -> bool:
            return await listed(start_after=hour_ago, start_before=later) == [run_id]

        await eventually(caught_up, within=30, interval=0.2)
        assert await listed(start_after=later) == []
        assert await listed(start_before=hour_ago) == []
        assert await listed(start_before=datetime(307, 12, 22, tzinfo=UTC)) == []

    async def test_a_signal_must_name_what_it_delivers(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        definition_id = await create(stub, as_member(), [gate("approve")])
        run_id = await start(stub, as_member(), definition_id)
        await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_WAITING)
        await rpc_error(
            stub.SignalRun(api.SignalRunRequest(run_id=run_id), metadata=as_member()),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
