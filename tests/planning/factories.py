"""Factories of the planning tests: projects, tasks and event payloads."""

from __future__ import annotations

from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask

from coder.events.v1 import event_pb2
from coder.planning.v1 import events_pb2, planning_service_pb2, project_pb2, task_pb2
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
