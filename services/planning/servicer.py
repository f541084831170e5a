"""The gRPC adapter of the planning service: unpack the request, call the service, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import planning_service_pb2_grpc
from services.planning._dependencies import DependencyRules
from services.planning._plans import PlanRules
from services.planning._schedules import ScheduleRules
from services.planning._views import ViewRules
from services.planning._worklogs import WorklogRules
from services.planning.service import PlanningService


class PlanningServicer(planning_service_pb2_grpc.PlanningServiceServicer):
    """coder.planning.v1.PlanningService."""

    def __init__(
        self,
        service: PlanningService,
        schedules: ScheduleRules,
        dependencies: DependencyRules,
        worklogs: WorklogRules,
        plans: PlanRules,
        views: ViewRules,
    ) -> None:
        self._service = service
        self._schedules = schedules
        self._dependencies = dependencies
        self._worklogs = worklogs
        self._plans = plans
        self._views = views

    async def CreateProject(
        self, request: api.CreateProjectRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateProjectResponse:
        return api.CreateProjectResponse(
            project=await self._service.create_project(request.project)
        )

    async def GetProject(
        self, request: api.GetProjectRequest, context: grpc.aio.ServicerContext
    ) -> api.GetProjectResponse:
        return api.GetProjectResponse(project=await self._service.get_project(request.project_id))

    async def ListProjects(
        self, request: api.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListProjectsResponse:
        projects, token = await self._service.list_projects(request)
        return api.ListProjectsResponse(projects=projects, next_page_token=token)

    async def UpdateProject(
        self, request: api.UpdateProjectRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateProjectResponse:
        project = await self._service.update_project(request.project, request.update_mask)
        return api.UpdateProjectResponse(project=project)

    async def DeleteProject(
        self, request: api.DeleteProjectRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteProjectResponse:
        await self._service.delete_project(request.project_id, request.etag, request.force)
        return api.DeleteProjectResponse()

    async def CreateTask(
        self, request: api.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateTaskResponse:
        task = await self._service.create_task(request.project_id, request.task)
        return api.CreateTaskResponse(task=task)

    async def GetTask(
        self, request: api.GetTaskRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTaskResponse:
        return api.GetTaskResponse(
            task=await self._service.get_task(request.project_id, request.task_id)
        )

    async def ListTasks(
        self, request: api.ListTasksRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTasksResponse:
        tasks, token = await self._service.list_tasks(request)
        return api.ListTasksResponse(tasks=tasks, next_page_token=token)

    async def UpdateTask(
        self, request: api.UpdateTaskRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateTaskResponse:
        task = await self._service.update_task(request.task, request.update_mask)
        return api.UpdateTaskResponse(task=task)

    async def DeleteTask(
        self, request: api.DeleteTaskRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteTaskResponse:
        await self._service.delete_task(request.project_id, request.task_id, request.etag)
        return api.DeleteTaskResponse()

    async def WatchProject(
        self, request: api.WatchProjectRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.WatchProjectResponse]:
        async for change in self._service.watch_project(request.project_id):
            yield change

    # --- milestones and cycles ---------------------------------------------------------------

    async def CreateMilestone(
        self, request: api.CreateMilestoneRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateMilestoneResponse:
        milestone = await self._schedules.create_milestone(request.project_id, request.milestone)
        return api.CreateMilestoneResponse(milestone=milestone)

    async def GetMilestone(
        self, request: api.GetMilestoneRequest, context: grpc.aio.ServicerContext
    ) -> api.GetMilestoneResponse:
        milestone = await self._schedules.get_milestone(request.project_id, request.milestone_id)
        return api.GetMilestoneResponse(milestone=milestone)

    async def ListMilestones(
        self, request: api.ListMilestonesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMilestonesResponse:
        milestones, token = await self._schedules.list_milestones(request)
        return api.ListMilestonesResponse(milestones=milestones, next_page_token=token)

    async def UpdateMilestone(
        self, request: api.UpdateMilestoneRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateMilestoneResponse:
        milestone = await self._schedules.update_milestone(request.milestone, request.update_mask)
        return api.UpdateMilestoneResponse(milestone=milestone)

    async def DeleteMilestone(
        self, request: api.DeleteMilestoneRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteMilestoneResponse:
        await self._schedules.delete_milestone(
            request.project_id, request.milestone_id, request.etag
        )
        return api.DeleteMilestoneResponse()

    async def CreateCycle(
        self, request: api.CreateCycleRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateCycleResponse:
        cycle = await self._schedules.create_cycle(request.project_id, request.cycle)
        return api.CreateCycleResponse(cycle=cycle)

    async def GetCycle(
        self, request: api.GetCycleRequest, context: grpc.aio.ServicerContext
    ) -> api.GetCycleResponse:
        cycle = await self._schedules.get_cycle(request.project_id, request.cycle_id)
        return api.GetCycleResponse(cycle=cycle)

    async def ListCycles(
        self, request: api.ListCyclesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListCyclesResponse:
        cycles, token = await self._schedules.list_cycles(request)
        return api.ListCyclesResponse(cycles=cycles, next_page_token=token)

    async def UpdateCycle(
        self, request: api.UpdateCycleRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateCycleResponse:
        cycle = await self._schedules.update_cycle(request.cycle, request.update_mask)
        return api.UpdateCycleResponse(cycle=cycle)

    async def DeleteCycle(
        self, request: api.DeleteCycleRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteCycleResponse:
        await self._schedules.delete_cycle(request.project_id, request.cycle_id, request.etag)
        return api.DeleteCycleResponse()

    async def GetCycleBurndown(
        self, request: api.GetCycleBurndownRequest, context: grpc.aio.ServicerContext
    ) -> api.GetCycleBurndownResponse:
        return await self._schedules.cycle_burndown(request.project_id, request.cycle_id)

    # --- relations and the dependency graph ----------------------------------------------------

    async def CreateTaskRelation(
        self, request: api.CreateTaskRelationRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateTaskRelationResponse:
        relation = await self._dependencies.create_relation(
            request.project_id, request.task_id, request.relation
        )
        return api.CreateTaskRelationResponse(relation=relation)

    async def ListTaskRelations(
        self, request: api.ListTaskRelationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTaskRelationsResponse:
        relations = await self._dependencies.list_relations(request.project_id, request.task_id)
        return api.ListTaskRelationsResponse(relations=relations)

    async def DeleteTaskRelation(
        self, request: api.DeleteTaskRelationRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteTaskRelationResponse:
        await self._dependencies.delete_relation(
            request.project_id, request.task_id, request.relation_id
        )
        return api.DeleteTaskRelationResponse()

    async def GetProjectGraph(
        self, request: api.GetProjectGraphRequest, context: grpc.aio.ServicerContext
    ) -> api.GetProjectGraphResponse:
        return await self._dependencies.project_graph(request.project_id)

    # --- worklogs ------------------------------------------------------------------------------

    async def CreateWorklog(
        self, request: api.CreateWorklogRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateWorklogResponse:
        worklog = await self._worklogs.create_worklog(
            request.project_id, request.task_id, request.worklog
        )
        return api.CreateWorklogResponse(worklog=worklog)

    async def ListWorklogs(
        self, request: api.ListWorklogsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListWorklogsResponse:
        worklogs, token = await self._worklogs.list_worklogs(request)
        return api.ListWorklogsResponse(worklogs=worklogs, next_page_token=token)

    async def GetWorklog(
        self, request: api.GetWorklogRequest, context: grpc.aio.ServicerContext
    ) -> api.GetWorklogResponse:
        worklog = await self._worklogs.get_worklog(request.project_id, request.worklog_id)
        return api.GetWorklogResponse(worklog=worklog)

    async def UpdateWorklog(
        self, request: api.UpdateWorklogRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateWorklogResponse:
        worklog = await self._worklogs.update_worklog(request.worklog, request.update_mask)
        return api.UpdateWorklogResponse(worklog=worklog)

    async def DeleteWorklog(
        self, request: api.DeleteWorklogRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteWorklogResponse:
        await self._worklogs.delete_worklog(request.project_id, request.worklog_id, request.etag)
        return api.DeleteWorklogResponse()

    async def GetTimeSummary(
        self, request: api.GetTimeSummaryRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTimeSummaryResponse:
        return await self._worklogs.time_summary(request.project_id, request.cycle_id)

    # --- plans ---------------------------------------------------------------------------------

    async def GeneratePlan(
        self, request: api.GeneratePlanRequest, context: grpc.aio.ServicerContext
    ) -> api.GeneratePlanResponse:
        return api.GeneratePlanResponse(plan=await self._plans.generate_plan(request))

    async def GetPlan(
        self, request: api.GetPlanRequest, context: grpc.aio.ServicerContext
    ) -> api.GetPlanResponse:
        plan = await self._plans.get_plan(request.project_id, request.plan_id)
        return api.GetPlanResponse(plan=plan)

    async def RefinePlan(
        self, request: api.RefinePlanRequest, context: grpc.aio.ServicerContext
    ) -> api.RefinePlanResponse:
        return api.RefinePlanResponse(plan=await self._plans.refine_plan(request))

    async def ValidatePlan(
        self, request: api.ValidatePlanRequest, context: grpc.aio.ServicerContext
    ) -> api.ValidatePlanResponse:
        problems = await self._plans.validate_plan(request.project_id, request.plan_id)
        return api.ValidatePlanResponse(valid=not problems, problems=problems)

    async def ApprovePlan(
        self, request: api.ApprovePlanRequest, context: grpc.aio.ServicerContext
    ) -> api.ApprovePlanResponse:
        plan, tasks = await self._plans.approve_plan(
            request.project_id, request.plan_id, request.etag
        )
        return api.ApprovePlanResponse(plan=plan, tasks=tasks)

    # --- saved views ---------------------------------------------------------------------------

    async def CreateView(
        self, request: api.CreateViewRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateViewResponse:
        return api.CreateViewResponse(
            view=await self._views.create_view(request.project_id, request.view)
        )

    async def GetView(
        self, request: api.GetViewRequest, context: grpc.aio.ServicerContext
    ) -> api.GetViewResponse:
        return api.GetViewResponse(
            view=await self._views.get_view(request.project_id, request.view_id)
        )

    async def ListViews(
        self, request: api.ListViewsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListViewsResponse:
        views, token = await self._views.list_views(request)
        return api.ListViewsResponse(views=views, next_page_token=token)

    async def UpdateView(
        self, request: api.UpdateViewRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateViewResponse:
        view = await self._views.update_view(request.view, request.update_mask)
        return api.UpdateViewResponse(view=view)

    async def DeleteView(
        self, request: api.DeleteViewRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteViewResponse:
        await self._views.delete_view(request.project_id, request.view_id, request.etag)
        return api.DeleteViewResponse()

    async def ListViewTasks(
        self, request: api.ListViewTasksRequest, context: grpc.aio.ServicerContext
    ) -> api.ListViewTasksResponse:
        tasks, token = await self._views.list_view_tasks(request)
        return api.ListViewTasksResponse(tasks=tasks, next_page_token=token)
