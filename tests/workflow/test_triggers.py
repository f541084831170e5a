"""Triggers: an event of another domain starts a run (which waits at a human gate and goes on
when signalled), a redelivery starts nothing new and a filter keeps other events out; a
schedule fires on its interval, pauses and backfills; a signed webhook starts a run and a
tampered one is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import grpc
from standardwebhooks import Webhook

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.planning.v1 import events_pb2 as planning_events
from coder.planning.v1 import task_pb2
from coder.workflow.v1 import run_pb2
from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from services.kit import Resources
from services.kit.bus import make_event
from tests.fixtures.grpc_errors import rpc_error
from tests.fixtures.tokens import Metadata
from tests.fixtures.waiting import eventually
from tests.workflow.factories import definition, gate, timer
from tests.workflow.runs import create, reached

Member = Callable[..., Metadata]


async def _runs(
    stub: WorkflowServiceStub, metadata: Metadata, definition_id: str
) -> list[run_pb2.Run]:
    answer = await stub.ListRuns(
        api.ListRunsRequest(definition_id=definition_id), metadata=metadata
    )
    return list(answer.runs)


def _task_completed(org: str, title: str) -> event_pb2.Event:
    task = task_pb2.Task(id="task-1", title=title, status=task_pb2.TASK_STATUS_DONE)
    return make_event(
        "planning.task.completed",
        org,
        task.id,
        planning_events.TaskChanged(task=task),
        actor=actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id="user-1"),
    )


class TestEventTrigger:
    async def test_a_task_completed_event_starts_a_run_that_waits_at_a_gate_and_resumes(
        self, stub: WorkflowServiceStub, as_member: Member, resources: Resources, org: str
    ) -> None:
        triggers = [
            {
                "name": "on_done",
                "event": {"type": "planning.task.completed", "filter": {"task.title": "ship"}},
            }
        ]
        definition_id = await create(stub, as_member(), [gate("review")], triggers=triggers)
        event = _task_completed(org, "ship")
        await resources.bus.publish([_task_completed(org, "other"), event])
        await resources.bus.publish([event])  # a redelivery

        async def started() -> bool:
            return len(await _runs(stub, as_member(), definition_id)) > 0

        await eventually(started, within=30, interval=0.2)
        (run,) = await _runs(stub, as_member(), definition_id)
        assert (run.trigger, run.trigger_name) == (run_pb2.TRIGGER_KIND_EVENT, "on_done")
        waiting = await reached(stub, as_member(), run.id, run_pb2.RUN_STATUS_WAITING)
        assert list(waiting.waiting_on) == ["review"]
        assert waiting.started_by == "user-1"
        decision = api.GateDecision(step="review", approve=True)
        await stub.SignalRun(
            api.SignalRunRequest(run_id=run.id, gate=decision), metadata=as_member()
        )
        await reached(stub, as_member(), run.id, run_pb2.RUN_STATUS_COMPLETED)
        assert len(await _runs(stub, as_member(), definition_id)) == 1


class TestScheduleTrigger:
    async def test_a_schedule_fires_on_its_interval_and_records_a_pause(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        triggers = [{"name": "often", "schedule": {"interval": "1s"}}]
        definition_id = await create(stub, as_member(), [timer("nap", 0.1)], triggers=triggers)

        async def fired() -> bool:
            runs = await _runs(stub, as_member(), definition_id)
            return any(
                r.trigger == run_pb2.TRIGGER_KIND_SCHEDULE
                and r.status == run_pb2.RUN_STATUS_COMPLETED
                for r in runs
            )

        await eventually(fired, within=30, interval=0.2)
        paused = await stub.PauseSchedule(
            api.PauseScheduleRequest(definition_id=definition_id, trigger="often", paused=True),
            metadata=as_member(),
        )
        assert paused.definition.triggers[0].schedule.paused
        assert paused.definition.revision == 2

    async def test_a_backfill_starts_the_runs_of_a_past_window(
        self, stub: WorkflowServiceStub, as_member: Member
    ) -> None:
        triggers = [{"name": "hourly", "schedule": {"cron": ["0 * * * *"], "paused": True}}]
        definition_id = await create(stub, as_member(), [timer("nap", 0.1)], triggers=triggers)
        request = api.BackfillScheduleRequest(definition_id=definition_id, trigger="hourly")
        end = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
        request.start_time.FromDatetime(end - timedelta(hours=3))
        request.end_time.FromDatetime(end)
        await stub.BackfillSchedule(request, metadata=as_member())

        async def backfilled() -> bool:
            return len(await _runs(stub, as_member(), definition_id)) == 3

        await eventually(backfilled, within=30, interval=0.2)


class TestWebhookTrigger:
    async def _hooked(self, stub: WorkflowServiceStub, metadata: Metadata) -> tuple[str, str]:
        request = api.CreateDefinitionRequest(
            definition=definition([gate("check")], triggers=[{"name": "incoming", "webhook": {}}])
        )
        created = (await stub.CreateDefinition(request, metadata=metadata)).definition
        secret = created.triggers[0].webhook.secret
        assert secret.startswith("whsec_")
        return str(created.id), str(secret)

    def _delivery(self, org: str, definition_id: str, body: bytes) -> api.DeliverWebhookRequest:
        return api.DeliverWebhookRequest(
            organization_id=org, definition_id=definition_id, trigger="incoming", body=body
        )

    def _signed(self, secret: str, message_id: str, body: str) -> tuple[tuple[str, str], ...]:
        now = datetime.now(UTC)
        return (
            ("webhook-id", message_id),
            ("webhook-timestamp", str(int(now.timestamp()))),
            ("webhook-signature", Webhook(secret).sign(message_id, now, body)),
        )

    async def test_a_signed_delivery_starts_one_run_with_its_body(
        self, stub: WorkflowServiceStub, as_member: Member, org: str
    ) -> None:
        definition_id, secret = await self._hooked(stub, as_member())
        body = json.dumps({"ticket": 42})
        headers = self._signed(secret, "msg_1", body)
        request = self._delivery(org, definition_id, body.encode())
        answer = await stub.DeliverWebhook(request, metadata=headers)
        again = await stub.DeliverWebhook(request, metadata=headers)
        assert again.run_id == answer.run_id
        run = await reached(stub, as_member(), answer.run_id, run_pb2.RUN_STATUS_WAITING)
        assert run.trigger == run_pb2.TRIGGER_KIND_WEBHOOK

    async def test_a_tampered_or_unsigned_delivery_is_refused(
        self, stub: WorkflowServiceStub, as_member: Member, org: str
    ) -> None:
        definition_id, secret = await self._hooked(stub, as_member())
        headers = self._signed(secret, "msg_2", '{"amount": 1}')
        for request, metadata in (
            (self._delivery(org, definition_id, b'{"amount": 1000}'), headers),
            (self._delivery(org, definition_id, b'{"amount": 1}'), ()),
            (self._delivery("org-other", definition_id, b'{"amount": 1}'), headers),
        ):
            await rpc_error(
                stub.DeliverWebhook(request, metadata=metadata), grpc.StatusCode.NOT_FOUND
            )
        assert await _runs(stub, as_member(), definition_id) == []
