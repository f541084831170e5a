"""Worklogs (time tracking) and estimates against actuals.

A worklog is time the caller spent on a task; its author is the caller, taken from the token.
GetTimeSummary sets each task's estimate beside the time logged on it, for a project or one of
its cycles.
"""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask

from coder.planning.v1 import planning_service_pb2, worklog_pb2
from services.kit import (
    NotFound,
    PageRequest,
    check_etag,
    check_time_range,
    current_principal,
    new_id,
    require_field,
    update_paths,
)
from services.planning._context import PlanningScope

WORKLOG_WRITABLE = ("duration", "start_time", "description")
WORKLOG_OUTPUT_ONLY = frozenset(
    {"id", "project_id", "organization_id", "task_id", "user_id", "create_time", "update_time"}
)


class WorklogRules(PlanningScope):
    """Worklogs of the caller's organization's tasks."""

    async def create_worklog(
        self, project_id: str, task_id: str, draft: worklog_pb2.Worklog
    ) -> worklog_pb2.Worklog:
        """Log time the caller spent on a task; an unset start is now."""
        principal = current_principal()
        check_time_range(draft, ("start_time",), "worklog.")
        worklog = worklog_pb2.Worklog(
            id=new_id(),
            project_id=project_id,
            organization_id=principal.organization_id,
            task_id=task_id,
            user_id=principal.subject,
        )
        FieldMask(paths=WORKLOG_WRITABLE).MergeMessage(draft, worklog)
        worklog.create_time.FromDatetime(self._clock.now())
        worklog.update_time.CopyFrom(worklog.create_time)
        if not worklog.HasField("start_time"):
            worklog.start_time.CopyFrom(worklog.create_time)
        event = self._events(principal).worklog("created", worklog)
        # Under the lock a task delete takes, so the task cannot go before its worklog lands.
        async with self._links_lock(principal.organization_id, project_id):
            await self._task(principal.organization_id, project_id, task_id)
            return await self._repository.worklogs.create(worklog, event)

    async def list_worklogs(
        self, request: planning_service_pb2.ListWorklogsRequest
    ) -> tuple[list[worklog_pb2.Worklog], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        await self._project(organization_id, request.project_id)
        worklogs, continuation = await self._repository.list_worklogs(
            organization_id,
            request.project_id,
            request.task_id,
            request.user_id,
            page.size,
            page.continuation,
        )
        return worklogs, page.seal(continuation)

    async def get_worklog(self, project_id: str, worklog_id: str) -> worklog_pb2.Worklog:
        return await self._worklog(current_principal().organization_id, project_id, worklog_id)

    async def update_worklog(
        self, changes: worklog_pb2.Worklog, mask: FieldMask
    ) -> worklog_pb2.Worklog:
        paths = update_paths(
            mask, changes, "worklog", WORKLOG_WRITABLE, output_only=WORKLOG_OUTPUT_ONLY
        )
        require_field(changes.project_id, "worklog.project_id", "name what to update")
        require_field(changes.id, "worklog.id", "name what to update")
        if "start_time" in paths:
            check_time_range(changes, ("start_time",), "worklog.")
        return await self._update_scoped(
            changes,
            paths,
            "worklog",
            self._worklog,
            self._repository.worklogs,
            lambda events, worklog, changed: events.worklog("updated", worklog, changed),
        )

    async def delete_worklog(self, project_id: str, worklog_id: str, etag: str) -> None:
        principal = current_principal()
        organization_id = principal.organization_id
        worklog = await self._worklog(organization_id, project_id, worklog_id)
        check_etag(etag, worklog.etag, "worklog")
        event = self._events(principal).worklog("deleted", worklog)
        await self._repository.worklogs.delete(organization_id, worklog_id, worklog.etag, event)

    async def time_summary(
        self, project_id: str, cycle_id: str
    ) -> planning_service_pb2.GetTimeSummaryResponse:
        """Each task's estimate beside the time logged on it, and the totals."""
        organization_id = current_principal().organization_id
        await self._project(organization_id, project_id)
        if (
            cycle_id
            and await self._repository.cycles.get(organization_id, project_id, cycle_id) is None
        ):
            raise NotFound(f"cycle {cycle_id} not found", reason="CYCLE_NOT_FOUND")
        tasks = await self._repository.graph_tasks(organization_id, project_id, cycle_id)
        logged = await self._repository.logged_time(organization_id, project_id)
        response = planning_service_pb2.GetTimeSummaryResponse()
        total_estimate = total_logged = 0
        for task in tasks:
            spent = logged.get(task.id, 0)
            if task.estimate is None and not spent:
                continue
            line = response.tasks.add(task_id=task.id, title=task.title)
            if task.estimate is not None:
                line.estimate.FromNanoseconds(task.estimate)
                total_estimate += task.estimate
            line.logged.FromNanoseconds(spent)
            total_logged += spent
        response.total_estimate.FromNanoseconds(total_estimate)
        response.total_logged.FromNanoseconds(total_logged)
        return response

    async def _worklog(
        self, organization_id: str, project_id: str, worklog_id: str
    ) -> worklog_pb2.Worklog:
        worklog = await self._repository.worklogs.get(organization_id, project_id, worklog_id)
        if worklog is None:
            raise NotFound(f"worklog {worklog_id} not found", reason="WORKLOG_NOT_FOUND")
        return worklog
