"""Milestones and cycles: their life, the tasks that name them, and a cycle's burndown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import schedule_pb2, task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.planning._schedules import burndown
from services.planning.repository import GraphTask
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import (
    changed,
    create_cycle,
    create_milestone,
    create_project,
    create_task,
    hours,
    update_task,
)

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
HOUR = 3_600_000_000_000


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


class TestMilestones:
    async def test_a_milestone_is_created_listed_updated_and_deleted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        project = await create_project(stub, token(org))
        undated = await create_milestone(stub, token(org), project.id, name="Someday")
        later = await create_milestone(stub, token(org), project.id, name="GA")
        sooner = await create_milestone(stub, token(org), project.id, name="Beta")
        for milestone, days in ((later, 30), (sooner, 10)):
            edit = schedule_pb2.Milestone(id=milestone.id, project_id=project.id)
            edit.target_time.FromDatetime(NOW + timedelta(days=days))
            await stub.UpdateMilestone(
                api.UpdateMilestoneRequest(milestone=edit), metadata=auth(token(org))
            )
        listed = await stub.ListMilestones(
            api.ListMilestonesRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert [m.name for m in listed.milestones] == ["Beta", "GA", "Someday"]
        await stub.DeleteMilestone(
            api.DeleteMilestoneRequest(project_id=project.id, milestone_id=undated.id),
            metadata=auth(token(org)),
        )
        await rpc_error(
            stub.GetMilestone(
                api.GetMilestoneRequest(project_id=project.id, milestone_id=undated.id),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        received = await events.settle(org, 7)
        assert [e.type for e in received if e.type.startswith("planning.milestone.")] == [
            "planning.milestone.created",
            "planning.milestone.created",
            "planning.milestone.created",
            "planning.milestone.updated",
            "planning.milestone.updated",
            "planning.milestone.deleted",
        ]

    async def test_a_task_counts_towards_a_milestone_of_its_project(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        milestone = await create_milestone(stub, token(org), project.id)
        elsewhere = await create_milestone(
            stub, token(org), (await create_project(stub, token(org))).id
        )
        task = await create_task(stub, token(org), project.id, milestone_id=milestone.id)
        assert task.milestone_id == milestone.id
        error = await rpc_error(
            update_task(stub, token(org), changed(task, milestone_id=elsewhere.id), "milestone_id"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"task.milestone_id"}

        delete = api.DeleteMilestoneRequest(project_id=project.id, milestone_id=milestone.id)
        error = await rpc_error(
            stub.DeleteMilestone(delete, metadata=auth(token(org))),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "MILESTONE_HAS_TASKS"
        await update_task(stub, token(org), changed(task, milestone_id=""), "milestone_id")
        await stub.DeleteMilestone(delete, metadata=auth(token(org)))


class TestCycles:
    async def test_a_cycle_is_created_listed_and_updated(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        first = await create_cycle(
            stub, token(org), project.id, NOW, NOW + timedelta(days=14), name="Sprint 1"
        )
        second = await create_cycle(
            stub,
            token(org),
            project.id,
            NOW + timedelta(days=14),
            NOW + timedelta(days=28),
            name="Sprint 2",
        )
        listed = await stub.ListCycles(
            api.ListCyclesRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert [c.id for c in listed.cycles] == [second.id, first.id]
        edit = schedule_pb2.Cycle(id=first.id, project_id=project.id, goal="ship the beta")
        updated = await stub.UpdateCycle(
            api.UpdateCycleRequest(cycle=edit, update_mask=FieldMask(paths=["goal"])),
            metadata=auth(token(org)),
        )
        assert (updated.cycle.goal, updated.cycle.name) == ("ship the beta", "Sprint 1")

    async def test_a_cycle_must_end_after_it_starts_and_within_a_year(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        for length in (timedelta(0), timedelta(days=400)):
            error = await rpc_error(
                create_cycle(stub, token(org), project.id, NOW, NOW + length),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert violated_fields(error) == {"cycle.end_time"}
        cycle = await create_cycle(stub, token(org), project.id, NOW, NOW + timedelta(days=7))
        edit = schedule_pb2.Cycle(id=cycle.id, project_id=project.id)
        edit.end_time.FromDatetime(NOW - timedelta(days=1))
        await rpc_error(
            stub.UpdateCycle(api.UpdateCycleRequest(cycle=edit), metadata=auth(token(org))),
            grpc.StatusCode.INVALID_ARGUMENT,
        )

    async def test_a_cycle_with_tasks_is_not_deleted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        cycle = await create_cycle(stub, token(org), project.id, NOW, NOW + timedelta(days=7))
        await create_task(stub, token(org), project.id, cycle_id=cycle.id)
        error = await rpc_error(
            stub.DeleteCycle(
                api.DeleteCycleRequest(project_id=project.id, cycle_id=cycle.id),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "CYCLE_HAS_TASKS"

    async def test_deleting_a_project_deletes_its_milestones_and_cycles(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        milestone = await create_milestone(stub, token(org), project.id)
        cycle = await create_cycle(stub, token(org), project.id, NOW, NOW + timedelta(days=7))
        await create_task(stub, token(org), project.id, cycle_id=cycle.id)
        await stub.DeleteProject(
            api.DeleteProjectRequest(project_id=project.id, force=True), metadata=auth(token(org))
        )
        recreated = await create_project(stub, token(org))
        assert recreated.id != project.id
        for call in (
            stub.GetMilestone(
                api.GetMilestoneRequest(project_id=project.id, milestone_id=milestone.id),
                metadata=auth(token(org)),
            ),
            stub.GetCycle(
                api.GetCycleRequest(project_id=project.id, cycle_id=cycle.id),
                metadata=auth(token(org)),
            ),
        ):
            await rpc_error(call, grpc.StatusCode.NOT_FOUND)


class TestBurndown:
    def test_work_left_at_the_end_of_each_day(self) -> None:
        start = datetime(2026, 12, 1, tzinfo=UTC)
        cycle = schedule_pb2.Cycle()
        cycle.start_time.FromDatetime(start)
        cycle.end_time.FromDatetime(start + timedelta(days=4))
        tasks = [
            GraphTask(
                "a",
                "a",
                task_pb2.TASK_STATUS_DONE,
                8 * HOUR,
                (),
                at(start + timedelta(hours=30)),
                "",
            ),
            GraphTask(
                "b",
                "b",
                task_pb2.TASK_STATUS_DONE,
                4 * HOUR,
                (),
                at(start + timedelta(hours=50)),
                "",
            ),
            GraphTask("c", "c", task_pb2.TASK_STATUS_TO_DO, 4 * HOUR, (), None, ""),
            GraphTask("d", "d", task_pb2.TASK_STATUS_TO_DO, None, (), None, ""),
        ]
        # Now is in the middle of the third day: points at the start and two day ends.
        response = burndown(cycle, tasks, start + timedelta(days=2, hours=12))
        assert response.total_estimate == hours(16)
        assert response.total_tasks == 4
        assert [(p.remaining_estimate, p.remaining_tasks) for p in response.points] == [
            (hours(16), 4),
            (hours(16), 4),
            (hours(8), 3),
        ]
        assert [p.ideal_estimate for p in response.points] == [hours(16), hours(12), hours(8)]

    def test_a_finished_cycle_ends_at_its_end(self) -> None:
        start = datetime(2026, 12, 1, tzinfo=UTC)
        cycle = schedule_pb2.Cycle()
        cycle.start_time.FromDatetime(start)
        cycle.end_time.FromDatetime(start + timedelta(days=1, hours=12))
        response = burndown(cycle, [], start + timedelta(days=30))
        times = [p.time.ToDatetime(UTC) for p in response.points]
        assert times == [start, start + timedelta(days=1), start + timedelta(days=1, hours=12)]
        assert response.points[-1].ideal_estimate == hours(0)

    async def test_burndown_of_a_running_cycle(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        now = datetime.now(UTC)
        cycle = await create_cycle(
            stub, token(org), project.id, now - timedelta(days=2, hours=12), now + timedelta(days=4)
        )
        await create_task(stub, token(org), project.id, cycle_id=cycle.id, estimate=hours(3))
        await create_task(stub, token(org), project.id, cycle_id=cycle.id, estimate=hours(5))
        await create_task(stub, token(org), project.id, estimate=hours(40))
        response = await stub.GetCycleBurndown(
            api.GetCycleBurndownRequest(project_id=project.id, cycle_id=cycle.id),
            metadata=auth(token(org)),
        )
        assert (response.total_estimate, response.total_tasks) == (hours(8), 2)
        assert len(response.points) == 3
        assert all(p.remaining_estimate == hours(8) for p in response.points)
