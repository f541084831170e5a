"""Factories of the planning tests: projects, tasks, relations, worklogs, milestones, cycles
and event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask

from coder.events.v1 import event_pb2
from coder.planning.v1 import (
    events_pb2,
    planning_service_pb2,
    project_pb2,
    relation_pb2,
    schedule_pb2,
    task_pb2,
    worklog_pb2,
)
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.tokens import auth

# --- factories -----------------------------------------------------------------------------------


async def create_project(
    stub: PlanningServiceStub, token: str, *, name: str = "Launch", description: str = ""
) -> project_pb2.Project:
    request = planning_service_pb2.CreateProjectRequest(
        project=project_pb2.Project(name=name, description=description)
    )
    response: planning_service_pb2.CreateProjectResponse = await stub.CreateProject(
        request, metadata=auth(token)
    )
    return response.project


async def create_task(
    stub: PlanningServiceStub, token: str, project_id: str, /, **fields: Any
) -> task_pb2.Task:
    fields.setdefault("title", "Write the plan")
    request = planning_service_pb2.CreateTaskRequest(
        project_id=project_id, task=task_pb2.Task(**fields)
    )
    response: planning_service_pb2.CreateTaskResponse = await stub.CreateTask(
        request, metadata=auth(token)
    )
    return response.task


async def get_task(
    stub: PlanningServiceStub, token: str, project_id: str, task_id: str
) -> task_pb2.Task:
    request = planning_service_pb2.GetTaskRequest(project_id=project_id, task_id=task_id)
    response: planning_service_pb2.GetTaskResponse = await stub.GetTask(
        request, metadata=auth(token)
    )
    return response.task


async def update_task(
    stub: PlanningServiceStub, token: str, task: task_pb2.Task, *paths: str
) -> task_pb2.Task:
    request = planning_service_pb2.UpdateTaskRequest(task=task, update_mask=FieldMask(paths=paths))
    response: planning_service_pb2.UpdateTaskResponse = await stub.UpdateTask(
        request, metadata=auth(token)
    )
    return response.task


def changed(task: task_pb2.Task, **fields: Any) -> task_pb2.Task:
    """A copy of a task with some fields replaced, as a client edits what it read."""
    copy = task_pb2.Task()
    copy.CopyFrom(task)
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(copy, name)[:]
            getattr(copy, name).extend(value)
        elif hasattr(value, "DESCRIPTOR"):
            getattr(copy, name).CopyFrom(value)
        else:
            setattr(copy, name, value)
    return copy


# --- payloads -----------------------------------------------------------------------------------


def task_payload(event: event_pb2.Event) -> events_pb2.TaskChanged:
    payload = events_pb2.TaskChanged()
    assert event.data.Unpack(payload)
    return payload


def project_payload(event: event_pb2.Event) -> events_pb2.ProjectChanged:
    payload = events_pb2.ProjectChanged()
    assert event.data.Unpack(payload)
    return payload


async def relate(
    stub: PlanningServiceStub,
    token: str,
    task: task_pb2.Task,
    related: task_pb2.Task,
    kind: relation_pb2.RelationKind.ValueType,
) -> relation_pb2.TaskRelation:
    request = planning_service_pb2.CreateTaskRelationRequest(
        project_id=task.project_id,
        task_id=task.id,
        relation=relation_pb2.TaskRelation(related_task_id=related.id, kind=kind),
    )
    response: planning_service_pb2.CreateTaskRelationResponse = await stub.CreateTaskRelation(
        request, metadata=auth(token)
    )
    return response.relation


async def relations_of(
    stub: PlanningServiceStub, token: str, task: task_pb2.Task
) -> list[relation_pb2.TaskRelation]:
    request = planning_service_pb2.ListTaskRelationsRequest(
        project_id=task.project_id, task_id=task.id
    )
    response: planning_service_pb2.ListTaskRelationsResponse = await stub.ListTaskRelations(
        request, metadata=auth(token)
    )
    return list(response.relations)


async def log_time(
    stub: PlanningServiceStub, token: str, task: task_pb2.Task, minutes: int, **fields: Any
) -> worklog_pb2.Worklog:
    request = planning_service_pb2.CreateWorklogRequest(
        project_id=task.project_id,
        task_id=task.id,
        worklog=worklog_pb2.Worklog(duration=Duration(seconds=minutes * 60), **fields),
    )
    response: planning_service_pb2.CreateWorklogResponse = await stub.CreateWorklog(
        request, metadata=auth(token)
    )
    return response.worklog


async def create_milestone(
    stub: PlanningServiceStub, token: str, project_id: str, /, **fields: Any
) -> schedule_pb2.Milestone:
    fields.setdefault("name", "Beta")
    request = planning_service_pb2.CreateMilestoneRequest(
        project_id=project_id, milestone=schedule_pb2.Milestone(**fields)
    )
    response: planning_service_pb2.CreateMilestoneResponse = await stub.CreateMilestone(
        request, metadata=auth(token)
    )
    return response.milestone


async def create_cycle(
    stub: PlanningServiceStub,
    token: str,
    project_id: str,
    start: datetime,
    end: datetime,
    /,
    name: str = "Sprint 1",
) -> schedule_pb2.Cycle:
    cycle = schedule_pb2.Cycle(name=name)
    cycle.start_time.FromDatetime(start)
    cycle.end_time.FromDatetime(end)
    request = planning_service_pb2.CreateCycleRequest(project_id=project_id, cycle=cycle)
    response: planning_service_pb2.CreateCycleResponse = await stub.CreateCycle(
        request, metadata=auth(token)
    )
    return response.cycle


def hours(count: float) -> Duration:
    duration = Duration()
    duration.FromSeconds(int(count * 3600))
    return duration
