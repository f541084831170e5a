"""The events the planning service publishes, and the live feed that WatchProject reads from
its own task events.

Every event is `planning.<entity>.<past-verb>`, its subject is the entity id, its actor the
caller, and its payload the entity's `<Entity>Changed` message (events.proto). The entity in
a payload carries no etag: the event is stored in the same batch as the change, before the
store assigns the new one.

`TaskFeed` is the only consumer: each watch subscribes a transient queue to `planning.task.*`
(its own queue in every process, so every replica's watchers see every change, whichever
replica made it) and keeps the events of the watched organization and project.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Literal

from google.protobuf.field_mask_pb2 import FieldMask

from coder.events.v1 import event_pb2
from coder.planning.v1 import (
    events_pb2,
    plan_pb2,
    planning_service_pb2,
    project_pb2,
    relation_pb2,
    schedule_pb2,
    task_pb2,
    worklog_pb2,
)
from services.kit import Aborted, Clock, Principal, new_id
from services.kit.bus import EventBus, EventFactory, Subscription

PROJECT_CREATED = "planning.project.created"
PROJECT_UPDATED = "planning.project.updated"
PROJECT_DELETED = "planning.project.deleted"
TASK_CREATED = "planning.task.created"
TASK_UPDATED = "planning.task.updated"
TASK_STATUS_CHANGED = "planning.task.status_changed"
TASK_DELETED = "planning.task.deleted"
Verb = Literal["created", "updated", "deleted"]
PlanVerb = Literal["generated", "refined", "approved", "deleted"]


class PlanningEvents:
    """Builds the service's events for one caller at one clock."""

    def __init__(self, principal: Principal, clock: Clock) -> None:
        self._event = EventFactory.acting(principal, clock)

    def project_created(self, project: project_pb2.Project) -> event_pb2.Event:
        return self._event(PROJECT_CREATED, project.id, _project_changed(project))

    def project_updated(
        self, project: project_pb2.Project, changed: Iterable[str]
    ) -> event_pb2.Event:
        return self._event(PROJECT_UPDATED, project.id, _project_changed(project, changed))

    def project_deleted(self, project: project_pb2.Project) -> event_pb2.Event:
        return self._event(PROJECT_DELETED, project.id, _project_changed(project))

    def task_created(self, task: task_pb2.Task) -> event_pb2.Event:
        return self._event(TASK_CREATED, task.id, _task_changed(task))

    def task_changed(
        self,
        task: task_pb2.Task,
        changed: Iterable[str],
        previous_status: task_pb2.TaskStatus.ValueType,
    ) -> list[event_pb2.Event]:
        """`status_changed` when the status moved, and `updated` when anything else changed
        (both when both did); each lists every changed field."""
        changed = list(changed)
        events: list[event_pb2.Event] = []
        if "status" in changed:
            payload = _task_changed(task, changed, previous_status)
            events.append(self._event(TASK_STATUS_CHANGED, task.id, payload))
        if any(path != "status" for path in changed):
            events.append(self._event(TASK_UPDATED, task.id, _task_changed(task, changed)))
        return events

    def task_deleted(self, task: task_pb2.Task) -> event_pb2.Event:
        return self._event(TASK_DELETED, task.id, _task_changed(task))

    def milestone(
        self, verb: Verb, milestone: schedule_pb2.Milestone, changed: Iterable[str] = ()
    ) -> event_pb2.Event:
        """`planning.milestone.<verb>` (created, updated, deleted)."""
        payload = events_pb2.MilestoneChanged(milestone=milestone)
        payload.milestone.ClearField("etag")
        _set_changed(payload.changed_fields, changed)
        return self._event(f"planning.milestone.{verb}", milestone.id, payload)

    def cycle(
        self, verb: Verb, cycle: schedule_pb2.Cycle, changed: Iterable[str] = ()
    ) -> event_pb2.Event:
        """`planning.cycle.<verb>` (created, updated, deleted)."""
        payload = events_pb2.CycleChanged(cycle=cycle)
        payload.cycle.ClearField("etag")
        _set_changed(payload.changed_fields, changed)
        return self._event(f"planning.cycle.{verb}", cycle.id, payload)

    def relation(self, verb: Verb, relation: relation_pb2.TaskRelation) -> event_pb2.Event:
        """`planning.relation.<verb>` (created, deleted)."""
        payload = events_pb2.RelationChanged(relation=relation)
        return self._event(f"planning.relation.{verb}", relation.id, payload)

    def plan(self, verb: PlanVerb, plan: plan_pb2.Plan) -> event_pb2.Event:
        """`planning.plan.<verb>` (generated, refined, approved, deleted with its project)."""
        payload = events_pb2.PlanChanged(plan=plan)
        payload.plan.ClearField("etag")
        return self._event(f"planning.plan.{verb}", plan.id, payload)

    def view(
        self, verb: Verb, view: planning_service_pb2.View, changed: Iterable[str] = ()
    ) -> event_pb2.Event:
        """`planning.view.<verb>` (created, updated, deleted)."""
        payload = events_pb2.ViewChanged(view=view)
        payload.view.ClearField("etag")
        _set_changed(payload.changed_fields, changed)
        return self._event(f"planning.view.{verb}", view.id, payload)

    def worklog(
        self, verb: Verb, worklog: worklog_pb2.Worklog, changed: Iterable[str] = ()
    ) -> event_pb2.Event:
        """`planning.worklog.<verb>` (created, updated, deleted)."""
        payload = events_pb2.WorklogChanged(worklog=worklog)
        payload.worklog.ClearField("etag")
        _set_changed(payload.changed_fields, changed)
        return self._event(f"planning.worklog.{verb}", worklog.id, payload)


def _set_changed(mask: FieldMask, changed: Iterable[str]) -> None:
    # Only updates name their changed fields; other events leave the mask unset.
    paths = list(changed)
    if paths:
        mask.paths.extend(paths)


def _project_changed(
    project: project_pb2.Project, changed: Iterable[str] = ()
) -> events_pb2.ProjectChanged:
    payload = events_pb2.ProjectChanged(project=project)
    payload.project.ClearField("etag")
    _set_changed(payload.changed_fields, changed)
    return payload


def _task_changed(
    task: task_pb2.Task,
    changed: Iterable[str] = (),
    previous_status: task_pb2.TaskStatus.ValueType = task_pb2.TASK_STATUS_UNSPECIFIED,
) -> events_pb2.TaskChanged:
    payload = events_pb2.TaskChanged(task=task, previous_status=previous_status)
    payload.task.ClearField("etag")
    _set_changed(payload.changed_fields, changed)
    return payload


# --- the live feed of WatchProject ------------------------------------------------------------

WATCHED_PATTERNS = ("planning.task.*",)

_CHANGE_KINDS: Mapping[str, planning_service_pb2.TaskChangeKind.ValueType] = {
    TASK_CREATED: planning_service_pb2.TASK_CHANGE_KIND_CREATED,
    TASK_UPDATED: planning_service_pb2.TASK_CHANGE_KIND_UPDATED,
    TASK_STATUS_CHANGED: planning_service_pb2.TASK_CHANGE_KIND_STATUS_CHANGED,
    TASK_DELETED: planning_service_pb2.TASK_CHANGE_KIND_DELETED,
}

WATCH_BUFFER = 1000
"""Changes a watch holds for a slow reader before it gives up on it (it must fetch again)."""


def task_change(event: event_pb2.Event) -> planning_service_pb2.WatchProjectResponse | None:
    """The watch message of a `planning.task.*` event, or None for any other event."""
    kind = _CHANGE_KINDS.get(event.type)
    payload = events_pb2.TaskChanged()
    if kind is None or not event.data.Unpack(payload):
        return None
    change = planning_service_pb2.WatchProjectResponse(
        kind=kind,
        event_id=event.id,
        task=payload.task,
        previous_status=payload.previous_status,
        actor=event.actor,
        time=event.time,
    )
    change.changed_fields.CopyFrom(payload.changed_fields)
    return change


class TaskFeed:
    """Live task changes of one project, from planning's events on the bus."""

    def __init__(self, bus: EventBus, *, buffer: int = WATCH_BUFFER) -> None:
        self._bus = bus
        self._buffer = buffer

    @contextlib.asynccontextmanager
    async def watch(
        self, organization_id: str, project_id: str
    ) -> AsyncIterator[AsyncIterator[planning_service_pb2.WatchProjectResponse]]:
        """Subscribe, then yield the changes to the project's tasks in arrival order. The
        subscription is live when the block is entered and gone when it exits. A reader that
        falls `buffer` changes behind gets ABORTED (`WATCH_LAGGED`): it must fetch again."""
        queue: asyncio.Queue[planning_service_pb2.WatchProjectResponse] = asyncio.Queue()
        lagged = False

        async def deliver(event: event_pb2.Event) -> None:
            nonlocal lagged
            # The organization is the envelope's, set from the writer's token: another
            # organization's change never reaches this watch, whatever its project id says.
            if event.organization_id != organization_id:
                return
            change = task_change(event)
            if change is None or change.task.project_id != project_id:
                return
            if queue.qsize() >= self._buffer:
                lagged = True
                return
            queue.put_nowait(change)

        subscription = Subscription(
            f"planning.watch.{new_id()}", "planning", WATCHED_PATTERNS, deliver, transient=True
        )
        consumer = await self._bus.subscribe(subscription)

        async def changes() -> AsyncIterator[planning_service_pb2.WatchProjectResponse]:
            while True:
                change = await queue.get()
                if lagged:
                    raise Aborted(
                        "the watch fell behind; fetch the tasks and watch again",
                        reason="WATCH_LAGGED",
                    )
                yield change

        try:
            yield changes()
        finally:
            await consumer.stop()
