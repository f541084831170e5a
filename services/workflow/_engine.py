"""Every Temporal call of the service (as `repository.py` holds every storage query): runs
started, queried, signalled, cancelled, terminated and listed, and schedule triggers kept as
Temporal Schedules. Every id carries the organization (`workflow_id`) and every list is
filtered by it (`workflow_query`), so no call reaches another organization's runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecution,
    WorkflowExecutionStatus,
)
from temporalio.common import Priority, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from coder.workflow.v1 import definition_pb2
from services.kit import (
    Temporal,
    workflow_id,
    workflow_query,
    workflow_search_attributes,
)
from services.workflow._interpreter import RunDefinition, StartScheduled
from services.workflow._runs import (
    GATE,
    RUN_KIND,
    SCHEDULE_KIND,
    SIGNAL,
    STATE,
    STATUS,
    TASK_QUEUE,
    RunInput,
    RunState,
    ScheduledStart,
)

CLOSED = {
    WorkflowExecutionStatus.COMPLETED: "RUN_STATUS_COMPLETED",
    WorkflowExecutionStatus.FAILED: "RUN_STATUS_FAILED",
    WorkflowExecutionStatus.CANCELED: "RUN_STATUS_CANCELLED",
    WorkflowExecutionStatus.TERMINATED: "RUN_STATUS_TERMINATED",
    WorkflowExecutionStatus.TIMED_OUT: "RUN_STATUS_FAILED",
}
"""The run status of a closed workflow (what Temporal knows even when no query answers)."""


@dataclass(frozen=True, slots=True)
class RunView:
    """A run as Temporal holds it: its visibility record and, when asked, its state."""

    execution: WorkflowExecution
    memo: Mapping[str, Any]
    """What the start recorded: `revision`, `triggerName`, `startedBy`, `input`."""
    state: RunState | None = None

    @property
    def status(self) -> str:
        closed = CLOSED.get(self.execution.status) if self.execution.status else None
        if closed is not None:
            return closed
        if self.state is not None:
            return self.state.status
        return self.execution.typed_search_attributes.get(STATUS) or ("RUN_STATUS_RUNNING")


class RunEngine:
    """The service's runs on Temporal."""

    def __init__(self, temporal: Temporal) -> None:
        self._temporal = temporal

    async def _client(self) -> Client:
        # The workers register the search attributes too, but a start may come first: a
        # start naming an attribute the namespace lacks is refused.
        client = await self._temporal.client()
        await self._temporal.register_search_attributes()
        return client

    async def start(self, run: RunInput) -> bool:
        """Start the run; False when a run of that id was already started (a redelivery)."""
        client = await self._client()
        try:
            await client.start_workflow(
                RunDefinition.run,
                run,
                id=workflow_id(run.organization_id, RUN_KIND, run.run_id),
                task_queue=TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                priority=fairness(run.organization_id),
                memo={
                    "revision": run.revision,
                    "triggerName": run.trigger_name,
                    "startedBy": run.starter.actor_id,
                    "input": run.variables.get("input") or {},
                },
                search_attributes=workflow_search_attributes(
                    run.organization_id,
                    definition=run.definition_id,
                    status="RUN_STATUS_RUNNING",
                    trigger=run.trigger,
                ),
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def describe(self, organization_id: str, run_id: str, *, state: bool) -> RunView | None:
        """The run, with its current state from the `state` query when `state`; None when
        the organization has no such run."""
        handle = (await self._client()).get_workflow_handle(
            workflow_id(organization_id, RUN_KIND, run_id)
        )
        try:
            execution = await handle.describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        answer: RunState | None = None
        if state:
            try:
                answer = await handle.query(STATE, result_type=RunState)
            except RPCError:
                answer = None  # a terminated run answers no query; visibility still does
        return RunView(execution, await execution.memo(), answer)

    async def list(
        self,
        organization_id: str,
        page_size: int,
        token: bytes | None,
        *,
        definition_id: str,
        status: str,
        trigger: str,
        start_after: datetime | None,
        start_before: datetime | None,
    ) -> tuple[list[RunView], bytes | None]:
        """A page of the organization's runs, newest first (visibility's own order: the
        dev server's SQLite visibility refuses ORDER BY)."""
        equal: dict[str, str] = {"definition": definition_id, "trigger": trigger}
        equal["WorkflowType"] = "coder.workflow.Run"
        if status in ("RUN_STATUS_RUNNING", "RUN_STATUS_WAITING"):
            equal["status"] = status
            equal["ExecutionStatus"] = "Running"
        elif status:
            equal["ExecutionStatus"] = _EXECUTION_STATUS[status]
        query = workflow_query(organization_id, **equal)
        # Times the service formats itself (never a caller's text), RFC 3339 in UTC.
        if start_after is not None:
            query += f" AND StartTime >= '{_rfc3339(start_after)}'"
        if start_before is not None:
            query += f" AND StartTime < '{_rfc3339(start_before)}'"
        client = await self._client()
        runs = client.list_workflows(query, page_size=page_size, next_page_token=token)
        await runs.fetch_next_page()
        page = [RunView(e, await e.memo()) for e in runs.current_page or []]
        return page, runs.next_page_token or None

    async def signal(self, organization_id: str, run_id: str, name: str, payload: Any) -> None:
        handle = (await self._client()).get_workflow_handle(
            workflow_id(organization_id, RUN_KIND, run_id)
        )
        await handle.signal(SIGNAL if name == SIGNAL else GATE, payload)

    async def cancel(self, organization_id: str, run_id: str) -> None:
        handle = (await self._client()).get_workflow_handle(
            workflow_id(organization_id, RUN_KIND, run_id)
        )
        await handle.cancel()

    async def terminate(self, organization_id: str, run_id: str, reason: str) -> None:
        handle = (await self._client()).get_workflow_handle(
            workflow_id(organization_id, RUN_KIND, run_id)
        )
        await handle.terminate(reason=reason or "terminated")

    # --- schedules -------------------------------------------------------------------------

    async def sync_schedules(
        self,
        definition: definition_pb2.Definition,
        previous: Sequence[definition_pb2.Trigger],
        starter: Any,
    ) -> None:
        """Make the definition's Temporal Schedules match its schedule triggers: create the
        new ones, update the changed ones, delete the ones gone."""
        client = await self._client()
        wanted = {t.name: t for t in definition.triggers if t.WhichOneof("kind") == "schedule"}
        had = {t.name for t in previous if t.WhichOneof("kind") == "schedule"}
        for name in had - set(wanted):
            await self.delete_schedule(definition.organization_id, definition.id, name)
        for name, trigger in wanted.items():
            schedule = _schedule(definition, trigger, starter)
            handle = client.get_schedule_handle(
                _schedule_id(definition.organization_id, definition.id, name)
            )
            if name in had:

                def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                    return ScheduleUpdate(schedule=new)

                try:
                    await handle.update(replace)
                    continue
                except RPCError as error:
                    if error.status != RPCStatusCode.NOT_FOUND:
                        raise
            await client.create_schedule(handle.id, schedule)

    async def delete_schedule(self, organization_id: str, definition_id: str, name: str) -> None:
        handle = (await self._client()).get_schedule_handle(
            _schedule_id(organization_id, definition_id, name)
        )
        try:
            await handle.delete()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise

    async def pause_schedule(
        self, organization_id: str, definition_id: str, name: str, paused: bool, note: str
    ) -> None:
        handle = (await self._client()).get_schedule_handle(
            _schedule_id(organization_id, definition_id, name)
        )
        if paused:
            await handle.pause(note=note or None)
        else:
            await handle.unpause(note=note or None)

    async def backfill(
        self,
        organization_id: str,
        definition_id: str,
        name: str,
        start: datetime,
        end: datetime,
    ) -> None:
        handle = (await self._client()).get_schedule_handle(
            _schedule_id(organization_id, definition_id, name)
        )
        await handle.backfill(
            ScheduleBackfill(start_at=start, end_at=end, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        )


_EXECUTION_STATUS = {
    "RUN_STATUS_COMPLETED": "Completed",
    "RUN_STATUS_FAILED": "Failed",
    "RUN_STATUS_CANCELLED": "Canceled",
    "RUN_STATUS_TERMINATED": "Terminated",
}


def _rfc3339(moment: datetime) -> str:
    """A naive UTC datetime (a Timestamp's) as visibility's RFC 3339 text."""
    # isoformat pads the year to four digits (strftime's %Y does not, for years below 1000).
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def fairness(organization_id: str) -> Priority:
    """Tasks keyed by organization: a server with task-queue fairness on dispatches the
    organizations' runs in turn, so one organization's burst cannot starve the others (a
    server without it ignores the key)."""
    return Priority(fairness_key=organization_id)


def _schedule_id(organization_id: str, definition_id: str, name: str) -> str:
    return workflow_id(organization_id, SCHEDULE_KIND, f"{definition_id}-{name}")


def _schedule(
    definition: definition_pb2.Definition, trigger: definition_pb2.Trigger, starter: Any
) -> Schedule:
    spec = trigger.schedule
    intervals = []
    if spec.HasField("interval"):
        intervals.append(ScheduleIntervalSpec(every=spec.interval.ToTimedelta()))
    organization = definition.organization_id
    return Schedule(
        action=ScheduleActionStartWorkflow(
            StartScheduled.run,
            ScheduledStart(organization, definition.id, trigger.name, starter),
            id=workflow_id(organization, "scheduled", f"{definition.id}-{trigger.name}"),
            task_queue=TASK_QUEUE,
            execution_timeout=timedelta(minutes=10),
            priority=fairness(organization),
            typed_search_attributes=workflow_search_attributes(
                organization, definition=definition.id, trigger="TRIGGER_KIND_SCHEDULE"
            ),
        ),
        spec=ScheduleSpec(
            cron_expressions=list(spec.cron),
            intervals=intervals,
            time_zone_name=spec.time_zone or None,
        ),
        state=ScheduleState(paused=spec.paused),
    )
