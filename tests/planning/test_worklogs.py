"""Worklogs: time logged by the caller on a task, listed, changed and deleted, and set
against the estimates per task, per cycle and per project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import worklog_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import (
    create_cycle,
    create_project,
    create_task,
    hours,
    log_time,
)


class TestWorklogs:
    async def test_time_is_logged_by_the_caller(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        worklog = await log_time(stub, token(org, sub="ada"), task, 90, description="pairing")
        assert (worklog.user_id, worklog.task_id, worklog.project_id) == (
            "ada",
            task.id,
            project.id,
        )
        assert worklog.duration == hours(1.5)
        assert worklog.start_time == worklog.create_time
        assert worklog.etag

    async def test_listing_filters_by_task_and_user_latest_first(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        first = await create_task(stub, token(org), project.id)
        second = await create_task(stub, token(org), project.id)
        early = await log_time(stub, token(org, sub="ada"), first, 30)
        late = await log_time(stub, token(org, sub="bob"), first, 30)
        other = await log_time(stub, token(org, sub="ada"), second, 30)

        async def listed(task_id: str = "", user_id: str = "") -> list[str]:
            response = await stub.ListWorklogs(
                api.ListWorklogsRequest(project_id=project.id, task_id=task_id, user_id=user_id),
                metadata=auth(token(org)),
            )
            return [w.id for w in response.worklogs]

        assert await listed() == [other.id, late.id, early.id]
        assert await listed(task_id=first.id) == [late.id, early.id]
        assert await listed(user_id="ada") == [other.id, early.id]

    async def test_a_worklog_is_changed_and_deleted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        worklog = await log_time(stub, token(org), task, 30)
        changes = worklog_pb2.Worklog(id=worklog.id, project_id=project.id, duration=hours(2))
        updated = (
            await stub.UpdateWorklog(
                api.UpdateWorklogRequest(
                    worklog=changes, update_mask=FieldMask(paths=["duration"])
                ),
                metadata=auth(token(org)),
            )
        ).worklog
        assert updated.duration == hours(2)
        read = await stub.GetWorklog(
            api.GetWorklogRequest(project_id=project.id, worklog_id=worklog.id),
            metadata=auth(token(org)),
        )
        assert read.worklog == updated
        stale = api.DeleteWorklogRequest(
            project_id=project.id, worklog_id=worklog.id, etag=worklog.etag
        )
        await rpc_error(
            stub.DeleteWorklog(stale, metadata=auth(token(org))), grpc.StatusCode.ABORTED
        )
        await stub.DeleteWorklog(
            api.DeleteWorklogRequest(project_id=project.id, worklog_id=worklog.id),
            metadata=auth(token(org)),
        )
        received = await events.settle(org, 5)
        assert [e.type for e in received if e.type.startswith("planning.worklog.")] == [
            "planning.worklog.created",
            "planning.worklog.updated",
            "planning.worklog.deleted",
        ]

    async def test_a_duration_out_of_bounds_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        for minutes in (0, 25 * 60):
            error = await rpc_error(
                log_time(stub, token(org), task, minutes), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert violated_fields(error) == {"worklog.duration"}

    async def test_time_on_a_missing_task_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        task.id = "ghost"
        await rpc_error(log_time(stub, token(org), task, 30), grpc.StatusCode.NOT_FOUND)


class TestTimeSummary:
    async def test_estimates_against_logged_time_per_project_and_cycle(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        now = datetime.now(UTC)
        cycle = await create_cycle(
            stub, token(org), project.id, now - timedelta(days=1), now + timedelta(days=6)
        )
        planned = await create_task(
            stub, token(org), project.id, estimate=hours(4), cycle_id=cycle.id
        )
        loose = await create_task(stub, token(org), project.id, estimate=hours(2))
        await create_task(stub, token(org), project.id, title="neither estimated nor logged")
        await log_time(stub, token(org), planned, 180)
        await log_time(stub, token(org, sub="bob"), planned, 120)
        await log_time(stub, token(org), loose, 60)

        whole = await stub.GetTimeSummary(
            api.GetTimeSummaryRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert [(t.task_id, t.estimate, t.logged) for t in whole.tasks] == [
            (planned.id, hours(4), hours(5)),
            (loose.id, hours(2), hours(1)),
        ]
        assert (whole.total_estimate, whole.total_logged) == (hours(6), hours(6))

        sprint = await stub.GetTimeSummary(
            api.GetTimeSummaryRequest(project_id=project.id, cycle_id=cycle.id),
            metadata=auth(token(org)),
        )
        assert [t.task_id for t in sprint.tasks] == [planned.id]
        assert (sprint.total_estimate, sprint.total_logged) == (hours(4), hours(5))

    async def test_deleting_a_task_deletes_its_worklogs(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        await log_time(stub, token(org), task, 30)
        await stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=task.id), metadata=auth(token(org))
        )
        listed = await stub.ListWorklogs(
            api.ListWorklogsRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert list(listed.worklogs) == []
