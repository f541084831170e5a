"""Events: each change is published once, through the outbox, with the right payload."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.common.v1 import actor_pb2
from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import project_pb2, task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import (
    changed,
    create_project,
    create_task,
    project_payload,
    task_payload,
    update_task,
)


class TestProjectEvents:
    async def test_create_update_delete_are_published_once_each(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        caller = token(org, sub="erin")
        project = await create_project(stub, caller, name="Before")
        await stub.UpdateProject(
            api.UpdateProjectRequest(
                project=project_pb2.Project(id=project.id, name="After", description="d"),
                update_mask=FieldMask(paths=["name"]),
            ),
            metadata=auth(caller),
        )
        await stub.DeleteProject(
            api.DeleteProjectRequest(project_id=project.id), metadata=auth(caller)
        )

        received = await events.settle(org, 3)
        assert [e.type for e in received] == [
            "planning.project.created",
            "planning.project.updated",
            "planning.project.deleted",
        ]
        assert len({e.id for e in received}) == 3
        for event in received:
            assert event.source == "coder.planning"
            assert event.subject == project.id
            assert event.actor == actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id="erin")
            assert event.HasField("time")
        created, updated, deleted = (project_payload(e) for e in received)
        assert created.project.name == "Before"
        assert created.project.id == project.id
        assert not created.HasField("changed_fields")
        assert updated.project.name == "After"
        assert list(updated.changed_fields.paths) == ["name"]
        assert deleted.project.name == "After"


class TestTaskEvents:
    async def test_each_change_publishes_its_types(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, title="Plan")
        task = await update_task(stub, token(org), changed(task, title="Plan v2"), "title")
        task = await update_task(
            stub, token(org), changed(task, status=task_pb2.TASK_STATUS_IN_PROGRESS), "status"
        )
        task = await update_task(
            stub,
            token(org),
            changed(task, status=task_pb2.TASK_STATUS_REVIEW, assignee_id="fay"),
            "status",
            "assignee_id",
        )
        refused = changed(task, status=task_pb2.TASK_STATUS_TO_DO)
        await rpc_error(
            update_task(stub, token(org), refused, "status"), grpc.StatusCode.FAILED_PRECONDITION
        )
        await stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=task.id), metadata=auth(token(org))
        )

        received = [e for e in await events.settle(org, 7) if e.type.startswith("planning.task.")]
        assert [e.type for e in received] == [
            "planning.task.created",
            "planning.task.updated",
            "planning.task.status_changed",
            "planning.task.status_changed",
            "planning.task.updated",
            "planning.task.deleted",
        ]
        assert {e.subject for e in received} == {task.id}
        payloads = [task_payload(e) for e in received]
        assert payloads[0].task.title == "Plan"
        assert payloads[0].task.status == task_pb2.TASK_STATUS_TO_DO
        assert list(payloads[1].changed_fields.paths) == ["title"]
        assert payloads[1].task.title == "Plan v2"
        assert payloads[2].previous_status == task_pb2.TASK_STATUS_TO_DO
        assert payloads[2].task.status == task_pb2.TASK_STATUS_IN_PROGRESS
        assert list(payloads[2].changed_fields.paths) == ["status"]
        assert payloads[3].previous_status == task_pb2.TASK_STATUS_IN_PROGRESS
        assert payloads[3].task.status == task_pb2.TASK_STATUS_REVIEW
        assert list(payloads[4].changed_fields.paths) == ["status", "assignee_id"]
        assert payloads[4].task.assignee_id == "fay"
        assert payloads[5].task.id == task.id
        assert all(not payload.task.etag for payload in payloads)

    async def test_a_forced_project_delete_announces_every_task(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        project = await create_project(stub, token(org))
        tasks = {(await create_task(stub, token(org), project.id)).id for _ in range(60)}
        await stub.DeleteProject(
            api.DeleteProjectRequest(project_id=project.id, force=True), metadata=auth(token(org))
        )
        received = await events.settle(org, 1 + 60 + 60 + 1)
        deleted = [e.subject for e in received if e.type == "planning.task.deleted"]
        assert sorted(deleted) == sorted(tasks)
        assert [e.type for e in received].count("planning.project.deleted") == 1
        assert len({e.id for e in received}) == len(received) == 122
