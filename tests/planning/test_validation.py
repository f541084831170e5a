"""Bad input is INVALID_ARGUMENT with a BadRequest field violation naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import project_pb2, relation_pb2, schedule_pb2, task_pb2, worklog_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth

TASK = task_pb2.Task(id="t", project_id="p", title="x")

CASES: list[tuple[str, Any, str]] = [
    ("CreateProject", api.CreateProjectRequest(), "project"),
    ("CreateProject", api.CreateProjectRequest(project=project_pb2.Project()), "project.name"),
    (
        "CreateProject",
        api.CreateProjectRequest(project=project_pb2.Project(name="n" * 201)),
        "project.name",
    ),
    ("GetProject", api.GetProjectRequest(), "project_id"),
    ("GetProject", api.GetProjectRequest(project_id="no spaces"), "project_id"),
    ("ListProjects", api.ListProjectsRequest(page_size=1001), "page_size"),
    ("ListProjects", api.ListProjectsRequest(page_size=-1), "page_size"),
    ("UpdateProject", api.UpdateProjectRequest(), "project"),
    (
        "UpdateProject",
        api.UpdateProjectRequest(project=project_pb2.Project(name="x")),
        "project.id",
    ),
    (
        "UpdateProject",
        api.UpdateProjectRequest(
            project=project_pb2.Project(id="p", name="x"), update_mask=FieldMask(paths=["id"])
        ),
        "update_mask",
    ),
    ("DeleteProject", api.DeleteProjectRequest(project_id="p/q"), "project_id"),
    ("DeleteProject", api.DeleteProjectRequest(project_id="p", etag="e" * 129), "etag"),
    ("CreateTask", api.CreateTaskRequest(project_id="p"), "task"),
    ("CreateTask", api.CreateTaskRequest(task=task_pb2.Task(title="x")), "project_id"),
    ("CreateTask", api.CreateTaskRequest(project_id="p", task=task_pb2.Task()), "task.title"),
    (
        "CreateTask",
        api.CreateTaskRequest(project_id="p", task=task_pb2.Task(title="x", labels=["a", "a"])),
        "task.labels",
    ),
    (
        "CreateTask",
        api.CreateTaskRequest(
            project_id="p", task=task_pb2.Task(title="x", estimate=Duration(seconds=-1))
        ),
        "task.estimate",
    ),
    (
        "CreateTask",
        api.CreateTaskRequest(project_id="p", task=task_pb2.Task(title="x", status=42)),  # type: ignore[arg-type]
        "task.status",
    ),
    ("GetTask", api.GetTaskRequest(project_id="p"), "task_id"),
    ("GetTask", api.GetTaskRequest(project_id="p", task_id="t" * 65), "task_id"),
    ("ListTasks", api.ListTasksRequest(), "project_id"),
    ("ListTasks", api.ListTasksRequest(project_id="p", statuses=[0]), "statuses[0]"),  # type: ignore[list-item]
    ("ListTasks", api.ListTasksRequest(project_id="p", page_size=5000), "page_size"),
    ("ListTasks", api.ListTasksRequest(project_id="p", priority=9), "priority"),  # type: ignore[arg-type]
    ("UpdateTask", api.UpdateTaskRequest(), "task"),
    ("UpdateTask", api.UpdateTaskRequest(task=task_pb2.Task(project_id="p", title="x")), "task.id"),
    ("UpdateTask", api.UpdateTaskRequest(task=task_pb2.Task(id="t", title="x")), "task.project_id"),
    (
        "UpdateTask",
        api.UpdateTaskRequest(task=TASK, update_mask=FieldMask(paths=["created_by"])),
        "update_mask",
    ),
    (
        "UpdateTask",
        api.UpdateTaskRequest(
            task=task_pb2.Task(id="t", project_id="p"), update_mask=FieldMask(paths=["title"])
        ),
        "task.title",
    ),
    ("DeleteTask", api.DeleteTaskRequest(task_id="t"), "project_id"),
    ("DeleteTask", api.DeleteTaskRequest(project_id="p", task_id="t", etag="e" * 129), "etag"),
    ("WatchProject", api.WatchProjectRequest(), "project_id"),
    ("WatchProject", api.WatchProjectRequest(project_id="p q"), "project_id"),
    ("ListProjects", api.ListProjectsRequest(name_prefix="n" * 201), "name_prefix"),
    (
        "CreateTask",
        api.CreateTaskRequest(project_id="p", task=task_pb2.Task(title="x", cycle_id="a b")),
        "task.cycle_id",
    ),
    ("CreateMilestone", api.CreateMilestoneRequest(project_id="p"), "milestone"),
    (
        "CreateMilestone",
        api.CreateMilestoneRequest(project_id="p", milestone=schedule_pb2.Milestone()),
        "milestone.name",
    ),
    ("GetMilestone", api.GetMilestoneRequest(project_id="p"), "milestone_id"),
    ("ListMilestones", api.ListMilestonesRequest(project_id="p", page_size=1001), "page_size"),
    (
        "UpdateMilestone",
        api.UpdateMilestoneRequest(milestone=schedule_pb2.Milestone(project_id="p", name="x")),
        "milestone.id",
    ),
    (
        "DeleteMilestone",
        api.DeleteMilestoneRequest(project_id="p", milestone_id="m/n"),
        "milestone_id",
    ),
    (
        "CreateCycle",
        api.CreateCycleRequest(project_id="p", cycle=schedule_pb2.Cycle(name="x")),
        "cycle.start_time",
    ),
    ("GetCycle", api.GetCycleRequest(project_id="p"), "cycle_id"),
    ("ListCycles", api.ListCyclesRequest(), "project_id"),
    (
        "UpdateCycle",
        api.UpdateCycleRequest(cycle=schedule_pb2.Cycle(id="c", name="x")),
        "cycle.project_id",
    ),
    ("DeleteCycle", api.DeleteCycleRequest(project_id="p", cycle_id="c", etag="e" * 129), "etag"),
    ("GetCycleBurndown", api.GetCycleBurndownRequest(project_id="p"), "cycle_id"),
    (
        "CreateTaskRelation",
        api.CreateTaskRelationRequest(
            project_id="p", task_id="t", relation=relation_pb2.TaskRelation(related_task_id="u")
        ),
        "relation.kind",
    ),
    (
        "CreateTaskRelation",
        api.CreateTaskRelationRequest(
            project_id="p",
            task_id="t",
            relation=relation_pb2.TaskRelation(kind=relation_pb2.RELATION_KIND_BLOCKS),
        ),
        "relation.related_task_id",
    ),
    ("ListTaskRelations", api.ListTaskRelationsRequest(project_id="p"), "task_id"),
    (
        "DeleteTaskRelation",
        api.DeleteTaskRelationRequest(project_id="p", task_id="t"),
        "relation_id",
    ),
    ("GetProjectGraph", api.GetProjectGraphRequest(project_id="p q"), "project_id"),
    (
        "CreateWorklog",
        api.CreateWorklogRequest(project_id="p", task_id="t", worklog=worklog_pb2.Worklog()),
        "worklog.duration",
    ),
    ("ListWorklogs", api.ListWorklogsRequest(project_id="p", task_id="a b"), "task_id"),
    (
        "UpdateWorklog",
        api.UpdateWorklogRequest(
            worklog=worklog_pb2.Worklog(id="w", project_id="p"),
            update_mask=FieldMask(paths=["user_id"]),
        ),
        "update_mask",
    ),
    ("DeleteWorklog", api.DeleteWorklogRequest(project_id="p"), "worklog_id"),
    ("GetWorklog", api.GetWorklogRequest(worklog_id="w"), "project_id"),
    ("GetTimeSummary", api.GetTimeSummaryRequest(project_id="p", cycle_id="x y"), "cycle_id"),
    ("GeneratePlan", api.GeneratePlanRequest(project_id="p"), "intent"),
    (
        "GeneratePlan",
        api.GeneratePlanRequest(project_id="p", intent="x", knowledge_page_ids=["a", "a"]),
        "knowledge_page_ids",
    ),
    ("GetPlan", api.GetPlanRequest(project_id="p"), "plan_id"),
    ("RefinePlan", api.RefinePlanRequest(project_id="p", plan_id="q"), "instruction"),
    ("ValidatePlan", api.ValidatePlanRequest(plan_id="q"), "project_id"),
    ("ApprovePlan", api.ApprovePlanRequest(project_id="p", plan_id="q", etag="e" * 129), "etag"),
    ("CreateView", api.CreateViewRequest(project_id="p", view=api.View()), "view.name"),
    ("GetView", api.GetViewRequest(project_id="p"), "view_id"),
    ("ListViews", api.ListViewsRequest(project_id="p", page_size=-1), "page_size"),
    (
        "UpdateView",
        api.UpdateViewRequest(
            view=api.View(id="v", project_id="p", query=api.TaskQuery(priority=9))  # type: ignore[arg-type]
        ),
        "view.query.priority",
    ),
    ("DeleteView", api.DeleteViewRequest(view_id="v"), "project_id"),
    ("ListViewTasks", api.ListViewTasksRequest(project_id="p", view_id="v/w"), "view_id"),
]
STREAMS = frozenset({"WatchProject"})


def test_every_rpc_has_a_case() -> None:
    methods = api.DESCRIPTOR.services_by_name["PlanningService"].methods_by_name
    assert {method for method, _, _ in CASES} == set(methods)


class TestValidation:
    @pytest.mark.parametrize(
        ("method", "request_", "field"),
        CASES,
        ids=[f"{method}-{field}-{n}" for n, (method, _, field) in enumerate(CASES)],
    )
    async def test_names_the_bad_field(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        method: str,
        request_: Any,
        field: str,
    ) -> None:
        rpc: Callable[..., Any] = getattr(stub, method)
        call = rpc(request_, metadata=auth(token(org)))
        if method in STREAMS:
            call = anext(call.__aiter__())
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert field in violated_fields(error)
