"""The gRPC adapter of the planning service: unpack the request, call the service, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import planning_service_pb2_grpc
from services.planning.service import PlanningService


class PlanningServicer(planning_service_pb2_grpc.PlanningServiceServicer):
    """coder.planning.v1.PlanningService."""

    def __init__(self, service: PlanningService) -> None:
        self._service = service

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
