"""The events the planning service publishes. It consumes none yet.

Every event is `planning.<entity>.<past-verb>`, its subject is the entity id, its actor the
caller, and its payload `ProjectChanged` or `TaskChanged`. The entity in a payload carries no
etag: the event is stored in the same batch as the change, before the store assigns the new one.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.field_mask_pb2 import FieldMask

from coder.events.v1 import event_pb2
from coder.planning.v1 import events_pb2, project_pb2, task_pb2
from services.kit import Clock, Principal
from services.kit.bus import EventFactory

PROJECT_CREATED = "planning.project.created"
PROJECT_UPDATED = "planning.project.updated"
PROJECT_DELETED = "planning.project.deleted"
TASK_CREATED = "planning.task.created"
TASK_UPDATED = "planning.task.updated"
TASK_STATUS_CHANGED = "planning.task.status_changed"
TASK_DELETED = "planning.task.deleted"


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
