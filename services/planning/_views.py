"""Saved views: a named filter and order of a project's tasks, listed as ListTasks would.

A view's page tokens are bound to the view's version (its etag) as well as the request, so a
page of a view that changed since is refused (PAGE_TOKEN_INVALID) rather than mixing orders.
"""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask

from coder.common.v1 import paging_pb2
from coder.planning.v1 import planning_service_pb2, task_pb2
from services.kit import (
    NotFound,
    PageRequest,
    check_etag,
    current_principal,
    new_id,
    require_field,
    update_paths,
)
from services.planning._context import PlanningScope
from services.planning.repository import TaskFilter
from services.planning.service import SORT_FIELDS

View = planning_service_pb2.View

VIEW_WRITABLE = ("name", "query")
VIEW_OUTPUT_ONLY = frozenset(
    {"id", "project_id", "organization_id", "created_by", "create_time", "update_time"}
)


class ViewRules(PlanningScope):
    """Saved views of the caller's organization's projects."""

    async def create_view(self, project_id: str, draft: View) -> View:
        principal = current_principal()
        await self._project(principal.organization_id, project_id)
        view = View(
            id=new_id(),
            project_id=project_id,
            organization_id=principal.organization_id,
            created_by=principal.subject,
        )
        FieldMask(paths=VIEW_WRITABLE).MergeMessage(draft, view)
        view.create_time.FromDatetime(self._clock.now())
        view.update_time.CopyFrom(view.create_time)
        event = self._events(principal).view("created", view)
        return await self._repository.views.create(view, event)

    async def get_view(self, project_id: str, view_id: str) -> View:
        return await self._view(current_principal().organization_id, project_id, view_id)

    async def list_views(
        self, request: planning_service_pb2.ListViewsRequest
    ) -> tuple[list[View], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        await self._project(organization_id, request.project_id)
        views, continuation = await self._repository.list_views(
            organization_id, request.project_id, page.size, page.continuation
        )
        return views, page.seal(continuation)

    async def update_view(self, changes: View, mask: FieldMask) -> View:
        paths = update_paths(mask, changes, "view", VIEW_WRITABLE, output_only=VIEW_OUTPUT_ONLY)
        require_field(changes.project_id, "view.project_id", "name what to update")
        require_field(changes.id, "view.id", "name what to update")
        return await self._update_scoped(
            changes,
            paths,
            "view",
            self._view,
            self._repository.views,
            lambda events, view, changed: events.view("updated", view, changed),
        )

    async def delete_view(self, project_id: str, view_id: str, etag: str) -> None:
        principal = current_principal()
        view = await self._view(principal.organization_id, project_id, view_id)
        check_etag(etag, view.etag, "view")
        event = self._events(principal).view("deleted", view)
        await self._repository.views.delete(principal.organization_id, view_id, view.etag, event)

    async def list_view_tasks(
        self, request: planning_service_pb2.ListViewTasksRequest
    ) -> tuple[list[task_pb2.Task], str]:
        """A page of the tasks the view selects, in its order."""
        organization_id = current_principal().organization_id
        view = await self._view(organization_id, request.project_id, request.view_id)
        page = PageRequest.of(request, organization_id, view.etag)
        query = view.query
        task_filter = TaskFilter(
            statuses=tuple(query.statuses),
            assignee_id=query.assignee_id,
            label=query.label,
            priority=query.priority,
            parent_task_id=query.parent_task_id,
        )
        tasks, continuation = await self._repository.list_tasks(
            organization_id,
            request.project_id,
            task_filter,
            SORT_FIELDS[query.order_by],
            query.direction != paging_pb2.SORT_DIRECTION_ASCENDING,
            page.size,
            page.continuation,
        )
        return tasks, page.seal(continuation)

    async def _view(self, organization_id: str, project_id: str, view_id: str) -> View:
        view = await self._repository.views.get(organization_id, project_id, view_id)
        if view is None:
            raise NotFound(f"view {view_id} not found", reason="VIEW_NOT_FOUND")
        return view
