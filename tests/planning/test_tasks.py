"""Tasks: create with defaults, read, update with a field mask and an etag, delete."""

from __future__ import annotations

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import changed, create_project, create_task, get_task, update_task

DUE = Timestamp(seconds=1_900_000_000, nanos=123_456_789)


class TestCreateTask:
    async def test_applies_defaults_and_server_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(
            stub,
            token(org, sub="bob"),
            project.id,
            id="client-id",
            project_id="elsewhere",
            organization_id="other-org",
            created_by="mallory",
            title="Draft",
        )
        assert task.id
        assert task.id != "client-id"
        assert (task.project_id, task.organization_id, task.created_by) == (project.id, org, "bob")
        assert task.status == task_pb2.TASK_STATUS_TO_DO
        assert task.priority == task_pb2.TASK_PRIORITY_MEDIUM
        assert task.etag
        assert task.update_time == task.create_time
        assert not task.HasField("complete_time")

    async def test_keeps_every_writable_field(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(
            stub,
            token(org),
            project.id,
            title="Full",
            description="All fields",
            status=task_pb2.TASK_STATUS_IN_PROGRESS,
            priority=task_pb2.TASK_PRIORITY_URGENT,
            assignee_id="carol",
            labels=["api", "backend"],
            due_time=DUE,
            estimate=Duration(seconds=5400, nanos=500),
        )
        stored = await get_task(stub, token(org), project.id, task.id)
        assert stored == task
        assert stored.due_time == DUE
        assert stored.estimate == Duration(seconds=5400, nanos=500)
        assert list(stored.labels) == ["api", "backend"]

    async def test_in_a_missing_project_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        call = create_task(stub, token(org), "no-such-project")
        error = await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "PROJECT_NOT_FOUND"

    async def test_a_due_time_beyond_year_9999_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        call = create_task(stub, token(org), project.id, due_time=Timestamp(seconds=2**40))
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"task.due_time"}


class TestGetTask:
    async def test_a_task_asked_for_under_another_project_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        first = await create_project(stub, token(org))
        second = await create_project(stub, token(org))
        task = await create_task(stub, token(org), first.id)
        call = get_task(stub, token(org), second.id, task.id)
        error = await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "TASK_NOT_FOUND"


class TestUpdateTaskMask:
    async def test_changes_only_the_masked_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, description="keep", labels=["a"])
        edit = changed(task, title="Renamed", description="ignored", labels=["b", "c"])
        updated = await update_task(stub, token(org), edit, "title", "labels")
        assert (updated.title, updated.description) == ("Renamed", "keep")
        assert list(updated.labels) == ["b", "c"]
        assert updated.etag != task.etag
        assert updated.update_time.ToNanoseconds() >= task.update_time.ToNanoseconds()

    async def test_a_patch_carries_only_the_masked_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, title="Kept")
        edit = task_pb2.Task(
            id=task.id, project_id=project.id, status=task_pb2.TASK_STATUS_IN_PROGRESS
        )
        updated = await update_task(stub, token(org), edit, "status")
        assert updated.status == task_pb2.TASK_STATUS_IN_PROGRESS
        assert updated.title == "Kept"

    async def test_a_masked_field_left_empty_is_cleared(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(
            stub, token(org), project.id, due_time=DUE, labels=["x"], assignee_id="dan"
        )
        edit = task_pb2.Task(id=task.id, project_id=project.id, title=task.title)
        updated = await update_task(stub, token(org), edit, "due_time", "labels", "assignee_id")
        assert not updated.HasField("due_time")
        assert not updated.labels
        assert updated.assignee_id == ""

    async def test_an_empty_mask_changes_only_the_populated_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(
            stub,
            token(org),
            project.id,
            description="kept",
            labels=["kept"],
            priority=task_pb2.TASK_PRIORITY_HIGH,
            status=task_pb2.TASK_STATUS_IN_PROGRESS,
        )
        edit = task_pb2.Task(id=task.id, project_id=project.id, title="Only title")
        updated = await update_task(stub, token(org), edit)
        assert (updated.title, updated.description) == ("Only title", "kept")
        assert list(updated.labels) == ["kept"]
        assert updated.status == task_pb2.TASK_STATUS_IN_PROGRESS
        assert updated.priority == task_pb2.TASK_PRIORITY_HIGH

    async def test_unknown_and_output_only_paths_are_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        for path in ("complete_time", "project_id", "due_time.seconds", "colour"):
            call = update_task(stub, token(org), task, path)
            error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
            assert violated_fields(error) == {"update_mask"}, path

    async def test_naming_status_without_a_value_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        edit = changed(task, status=task_pb2.TASK_STATUS_UNSPECIFIED)
        error = await rpc_error(
            update_task(stub, token(org), edit, "status"), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"task.status"}

    async def test_an_update_that_changes_nothing_keeps_the_version(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        same = await update_task(stub, token(org), task, "title", "description")
        assert same == task


class TestUpdateTaskEtag:
    async def test_a_stale_etag_is_aborted_and_nothing_is_overwritten(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        await update_task(stub, token(org), changed(task, title="Theirs"), "title")
        call = update_task(stub, token(org), changed(task, title="Mine"), "title")
        error = await rpc_error(call, grpc.StatusCode.ABORTED)
        assert error_reason(error) == "ETAG_MISMATCH"
        assert (await get_task(stub, token(org), project.id, task.id)).title == "Theirs"

    async def test_the_current_etag_is_accepted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        first = await update_task(stub, token(org), changed(task, title="One"), "title")
        second = await update_task(stub, token(org), changed(first, title="Two"), "title")
        assert second.title == "Two"


class TestDeleteTask:
    async def test_deletes_a_free_task(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        await stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=task.id, etag=task.etag),
            metadata=auth(token(org)),
        )
        await rpc_error(get_task(stub, token(org), project.id, task.id), grpc.StatusCode.NOT_FOUND)

    async def test_a_task_with_subtasks_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        parent = await create_task(stub, token(org), project.id)
        await create_task(stub, token(org), project.id, parent_task_id=parent.id)
        call = stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=parent.id),
            metadata=auth(token(org)),
        )
        error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "TASK_HAS_SUBTASKS"

    async def test_a_task_others_depend_on_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        first = await create_task(stub, token(org), project.id)
        await create_task(stub, token(org), project.id, depends_on_task_ids=[first.id])
        call = stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=first.id),
            metadata=auth(token(org)),
        )
        error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "TASK_HAS_DEPENDENTS"

    async def test_a_stale_etag_is_aborted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        await update_task(stub, token(org), changed(task, title="Newer"), "title")
        call = stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=task.id, etag=task.etag),
            metadata=auth(token(org)),
        )
        await rpc_error(call, grpc.StatusCode.ABORTED)
        assert (await get_task(stub, token(org), project.id, task.id)).title == "Newer"

    async def test_a_missing_task_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        call = stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id="gone"),
            metadata=auth(token(org)),
        )
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)
