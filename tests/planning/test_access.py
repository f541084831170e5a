"""Access: a token is required, roles limit writes, organizations never see each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import project_pb2, relation_pb2, schedule_pb2, task_pb2, worklog_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import changed, create_project, create_task, get_task, update_task

TASK = task_pb2.Task(id="t", project_id="p", title="x")
CYCLE = schedule_pb2.Cycle(
    name="x", start_time=Timestamp(seconds=1_800_000_000), end_time=Timestamp(seconds=1_801_000_000)
)
VALID_REQUESTS: dict[str, Any] = {
    "CreateProject": api.CreateProjectRequest(project=project_pb2.Project(name="x")),
    "GetProject": api.GetProjectRequest(project_id="p"),
    "ListProjects": api.ListProjectsRequest(),
    "UpdateProject": api.UpdateProjectRequest(project=project_pb2.Project(id="p", name="x")),
    "DeleteProject": api.DeleteProjectRequest(project_id="p"),
    "CreateTask": api.CreateTaskRequest(project_id="p", task=task_pb2.Task(title="x")),
    "GetTask": api.GetTaskRequest(project_id="p", task_id="t"),
    "ListTasks": api.ListTasksRequest(project_id="p"),
    "UpdateTask": api.UpdateTaskRequest(task=TASK),
    "DeleteTask": api.DeleteTaskRequest(project_id="p", task_id="t"),
    "WatchProject": api.WatchProjectRequest(project_id="p"),
    "CreateMilestone": api.CreateMilestoneRequest(
        project_id="p", milestone=schedule_pb2.Milestone(name="x")
    ),
    "GetMilestone": api.GetMilestoneRequest(project_id="p", milestone_id="m"),
    "ListMilestones": api.ListMilestonesRequest(project_id="p"),
    "UpdateMilestone": api.UpdateMilestoneRequest(
        milestone=schedule_pb2.Milestone(id="m", project_id="p", name="x")
    ),
    "DeleteMilestone": api.DeleteMilestoneRequest(project_id="p", milestone_id="m"),
    "CreateCycle": api.CreateCycleRequest(project_id="p", cycle=CYCLE),
    "GetCycle": api.GetCycleRequest(project_id="p", cycle_id="c"),
    "ListCycles": api.ListCyclesRequest(project_id="p"),
    "UpdateCycle": api.UpdateCycleRequest(
        cycle=schedule_pb2.Cycle(id="c", project_id="p", name="x")
    ),
    "DeleteCycle": api.DeleteCycleRequest(project_id="p", cycle_id="c"),
    "GetCycleBurndown": api.GetCycleBurndownRequest(project_id="p", cycle_id="c"),
    "CreateTaskRelation": api.CreateTaskRelationRequest(
        project_id="p",
        task_id="t",
        relation=relation_pb2.TaskRelation(
            related_task_id="u", kind=relation_pb2.RELATION_KIND_BLOCKS
        ),
    ),
    "ListTaskRelations": api.ListTaskRelationsRequest(project_id="p", task_id="t"),
    "DeleteTaskRelation": api.DeleteTaskRelationRequest(
        project_id="p", task_id="t", relation_id="r"
    ),
    "GetProjectGraph": api.GetProjectGraphRequest(project_id="p"),
    "CreateWorklog": api.CreateWorklogRequest(
        project_id="p", task_id="t", worklog=worklog_pb2.Worklog(duration=Duration(seconds=600))
    ),
    "ListWorklogs": api.ListWorklogsRequest(project_id="p"),
    "GetWorklog": api.GetWorklogRequest(project_id="p", worklog_id="w"),
    "UpdateWorklog": api.UpdateWorklogRequest(
        worklog=worklog_pb2.Worklog(id="w", project_id="p", description="x")
    ),
    "DeleteWorklog": api.DeleteWorklogRequest(project_id="p", worklog_id="w"),
    "GetTimeSummary": api.GetTimeSummaryRequest(project_id="p"),
    "GeneratePlan": api.GeneratePlanRequest(project_id="p", intent="x"),
    "GetPlan": api.GetPlanRequest(project_id="p", plan_id="q"),
    "RefinePlan": api.RefinePlanRequest(project_id="p", plan_id="q", instruction="x"),
    "ValidatePlan": api.ValidatePlanRequest(project_id="p", plan_id="q"),
    "ApprovePlan": api.ApprovePlanRequest(project_id="p", plan_id="q"),
    "CreateView": api.CreateViewRequest(project_id="p", view=api.View(name="x")),
    "GetView": api.GetViewRequest(project_id="p", view_id="v"),
    "ListViews": api.ListViewsRequest(project_id="p"),
    "UpdateView": api.UpdateViewRequest(view=api.View(id="v", project_id="p", name="x")),
    "DeleteView": api.DeleteViewRequest(project_id="p", view_id="v"),
    "ListViewTasks": api.ListViewTasksRequest(project_id="p", view_id="v"),
}
"""One well-formed request per RPC of the service."""

STREAMS = frozenset({"WatchProject"})


def first_reply(stub: PlanningServiceStub, method: str, **options: Any) -> Awaitable[Any]:
    """The call of `method`'s valid request: the call itself for a unary RPC, its first
    message for a server-streaming one."""
    rpc: Callable[..., Any] = getattr(stub, method)
    call = rpc(VALID_REQUESTS[method], **options)
    return anext(call.__aiter__()) if method in STREAMS else call


WRITES = (
    "CreateProject",
    "UpdateProject",
    "DeleteProject",
    "CreateTask",
    "UpdateTask",
    "DeleteTask",
    "CreateMilestone",
    "UpdateMilestone",
    "DeleteMilestone",
    "CreateCycle",
    "UpdateCycle",
    "DeleteCycle",
    "CreateTaskRelation",
    "DeleteTaskRelation",
    "CreateWorklog",
    "UpdateWorklog",
    "DeleteWorklog",
    "GeneratePlan",
    "RefinePlan",
    "ApprovePlan",
    "CreateView",
    "UpdateView",
    "DeleteView",
)


def test_every_rpc_is_covered() -> None:
    methods = api.DESCRIPTOR.services_by_name["PlanningService"].methods_by_name
    assert set(VALID_REQUESTS) == set(methods)


class TestAuthentication:
    @pytest.mark.parametrize("method", sorted(VALID_REQUESTS))
    async def test_a_call_without_a_token_is_unauthenticated(
        self, stub: PlanningServiceStub, method: str
    ) -> None:
        await rpc_error(first_reply(stub, method), grpc.StatusCode.UNAUTHENTICATED)

    async def test_a_token_from_an_unknown_key_is_unauthenticated(
        self, stub: PlanningServiceStub
    ) -> None:
        from services.kit import SigningKey

        forged = TokenFactory(SigningKey.generate(), "coder", "coder-api")()
        call = stub.GetProject(VALID_REQUESTS["GetProject"], metadata=auth(forged))
        await rpc_error(call, grpc.StatusCode.UNAUTHENTICATED)


class TestRoles:
    @pytest.mark.parametrize("method", WRITES)
    async def test_a_viewer_cannot_write(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, method: str
    ) -> None:
        rpc: Callable[..., Any] = getattr(stub, method)
        call = rpc(VALID_REQUESTS[method], metadata=auth(token(org, roles=("viewer",))))
        await rpc_error(call, grpc.StatusCode.PERMISSION_DENIED)

    async def test_a_viewer_can_read(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        viewer = token(org, roles=("viewer",))
        assert (await get_task(stub, viewer, project.id, task.id)) == task
        listed = await stub.ListTasks(
            api.ListTasksRequest(project_id=project.id), metadata=auth(viewer)
        )
        assert [t.id for t in listed.tasks] == [task.id]


class TestTenancy:
    """Organization B's ids are not found by organization A, whatever A asks."""

    @pytest.fixture
    async def theirs(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> tuple[project_pb2.Project, task_pb2.Task]:
        project = await create_project(stub, token(org + "-b"), name="B's")
        return project, await create_task(stub, token(org + "-b"), project.id, title="B's task")

    async def test_their_project_is_not_found(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        theirs: tuple[project_pb2.Project, task_pb2.Task],
    ) -> None:
        project, _ = theirs
        mine = auth(token(org))
        calls = [
            stub.GetProject(api.GetProjectRequest(project_id=project.id), metadata=mine),
            stub.UpdateProject(
                api.UpdateProjectRequest(
                    project=project_pb2.Project(id=project.id, name="hijacked"),
                    update_mask=FieldMask(paths=["name"]),
                ),
                metadata=mine,
            ),
            stub.DeleteProject(
                api.DeleteProjectRequest(project_id=project.id, force=True), metadata=mine
            ),
            stub.ListTasks(api.ListTasksRequest(project_id=project.id), metadata=mine),
            create_task(stub, token(org), project.id),
        ]
        for call in calls:
            await rpc_error(call, grpc.StatusCode.NOT_FOUND)

    async def test_their_task_is_not_found(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        theirs: tuple[project_pb2.Project, task_pb2.Task],
    ) -> None:
        project, task = theirs
        calls = [
            get_task(stub, token(org), project.id, task.id),
            update_task(stub, token(org), changed(task, title="hijacked"), "title"),
            stub.DeleteTask(
                api.DeleteTaskRequest(project_id=project.id, task_id=task.id),
                metadata=auth(token(org)),
            ),
        ]
        for call in calls:
            await rpc_error(call, grpc.StatusCode.NOT_FOUND)

    async def test_their_data_is_untouched(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        theirs: tuple[project_pb2.Project, task_pb2.Task],
    ) -> None:
        project, task = theirs
        await rpc_error(
            update_task(stub, token(org), changed(task, title="hijacked"), "title"),
            grpc.StatusCode.NOT_FOUND,
        )
        assert (await get_task(stub, token(org + "-b"), project.id, task.id)) == task

    async def test_their_projects_are_not_listed(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        theirs: tuple[project_pb2.Project, task_pb2.Task],
    ) -> None:
        response = await stub.ListProjects(api.ListProjectsRequest(), metadata=auth(token(org)))
        assert list(response.projects) == []
