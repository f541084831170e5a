"""Factories and helpers of the planning tests: tokens, projects, tasks, error details and an
event recorder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2, status_pb2

from coder.events.v1 import event_pb2
from coder.planning.v1 import events_pb2, planning_service_pb2, project_pb2, task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.kit import SigningKey

Metadata = tuple[tuple[str, str], ...]


class TokenFactory:
    """Mints access tokens: `token(org="org-a", roles=("member",), sub="user-1")`."""

    def __init__(self, key: SigningKey, issuer: str, audience: str) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._minted: dict[tuple[str, tuple[str, ...], str], str] = {}

    def __call__(
        self, org: str = "org-a", roles: Sequence[str] = ("member",), sub: str = "user-1"
    ) -> str:
        # One token per identity, so the server's verified-token cache is exercised as in use.
        key = (org, tuple(roles), sub)
        if key not in self._minted:
            self._minted[key] = self._key.mint(
                subject=sub,
                organization_id=org,
                issuer=self._issuer,
                audience=self._audience,
                roles=roles,
            )
        return self._minted[key]


def auth(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


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


# --- errors --------------------------------------------------------------------------------------


async def rpc_error(call: Awaitable[Any], code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    """Await a call that must fail with `code`; the error, for its details."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("the error carries no google.rpc.Status")


def _detail(error: grpc.aio.AioRpcError, kind: Any) -> Any:
    for detail in rich_status(error).details:
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            return message
    raise AssertionError(f"the error carries no {kind.DESCRIPTOR.name}")


def violated_fields(error: grpc.aio.AioRpcError) -> set[str]:
    """The fields named by the error's BadRequest field violations."""
    bad_request = _detail(error, error_details_pb2.BadRequest)
    return {violation.field for violation in bad_request.field_violations}


def error_reason(error: grpc.aio.AioRpcError) -> str:
    return str(_detail(error, error_details_pb2.ErrorInfo).reason)


# --- events --------------------------------------------------------------------------------------


class EventRecorder:
    """A bus consumer that keeps every event it is delivered."""

    def __init__(self) -> None:
        self.events: list[event_pb2.Event] = []
        self._arrived = asyncio.Condition()

    async def record(self, event: event_pb2.Event) -> None:
        async with self._arrived:
            self.events.append(event)
            self._arrived.notify_all()

    def of(self, organization_id: str) -> list[event_pb2.Event]:
        return [e for e in self.events if e.organization_id == organization_id]

    async def settle(
        self, organization_id: str, expected: int, *, quiet: float = 0.3, within: float = 10.0
    ) -> list[event_pb2.Event]:
        """The organization's events once `expected` have arrived and no more came for
        `quiet` seconds (so a duplicate delivery would be seen)."""

        async def arrived() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.of(organization_id)) >= expected)

        await asyncio.wait_for(arrived(), within)
        await asyncio.sleep(quiet)
        return self.of(organization_id)


def task_payload(event: event_pb2.Event) -> events_pb2.TaskChanged:
    payload = events_pb2.TaskChanged()
    assert event.data.Unpack(payload)
    return payload


def project_payload(event: event_pb2.Event) -> events_pb2.ProjectChanged:
    payload = events_pb2.ProjectChanged()
    assert event.data.Unpack(payload)
    return payload
