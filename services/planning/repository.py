"""Every storage query of the planning service.

Two containers, `projects` and `tasks`, both partitioned by organization id, so every read and
write is scoped to the caller's organization and another organization's ids are simply not
found. Both containers also hold the service's outbox: a write that changes state commits its
events in the same atomic batch (the kit's `Entities.commit`), and reads never see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from coder.events.v1 import event_pb2
from coder.planning.v1 import project_pb2, task_pb2
from services.kit import Remembered, Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    Condition,
    ContainerSpec,
    DocumentStore,
    F,
    Query,
)
from services.planning._mapping import (
    name_key,
    project_document,
    project_from_document,
    task_document,
    task_from_document,
)

PROJECTS = "projects"
TASKS = "tasks"

CONTAINERS = (
    ContainerSpec(PROJECTS, indexes=("/createTime", "/nameKey", "/createdBy"), outbox=True),
    ContainerSpec(
        TASKS,
        # Filtered or sorted scalars only: a `contains` on an array (labels, dependsOnTaskIds)
        # reads the array's elements, which no index of the document's path holds (SQLite),
        # and Cosmos DB indexes every path; an index it could not use would still cost every
        # write.
        indexes=(
            "/projectId",
            "/status",
            "/priority",
            "/assigneeId",
            "/parentTaskId",
            "/dueTime",
            "/createTime",
            "/updateTime",
        ),
        outbox=True,
    ),
)

TASK_DELETES_PER_BATCH = MAX_BATCH_OPERATIONS // 2
"""Each deleted task travels with its `planning.task.deleted` outbox document."""

TaskSortField = Literal["createTime", "updateTime", "dueTime", "priority"]


@dataclass(frozen=True, slots=True)
class ProjectFilter:
    """The conditions of a project listing; empty values mean no condition."""

    name_prefix: str = ""
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """The conditions of a task listing; empty values mean no condition."""

    statuses: tuple[int, ...] = ()
    assignee_id: str = ""
    label: str = ""
    priority: int = 0
    parent_task_id: str = ""
    due_before: str | None = None
    due_after: str | None = None


@dataclass(frozen=True, slots=True)
class TaskLinks:
    """A task's edges in its project's task graph."""

    parent_task_id: str
    depends_on: tuple[str, ...]


class PlanningRepository(Repository):
    """Reads and atomic writes of projects and tasks, for one process's store."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._projects = self.entities(PROJECTS)
        self._tasks = self.entities(TASKS)
        # Pages of tasks and projects answer shared messages (see Remembered); a read whose
        # message may be changed maps its document afresh.
        self._listed_tasks = Remembered(task_from_document)
        self._listed_projects = Remembered(project_from_document)

    # --- projects ------------------------------------------------------------------------------

    async def get_project(
        self, organization_id: str, project_id: str
    ) -> project_pb2.Project | None:
        document = await self._projects.get(organization_id, project_id)
        return None if document is None else project_from_document(document)

    async def list_projects(
        self,
        organization_id: str,
        project_filter: ProjectFilter,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[project_pb2.Project], str | None]:
        """Newest first."""
        conditions: list[Condition] = []
        if project_filter.name_prefix:
            conditions.append(F("nameKey").startswith(name_key(project_filter.name_prefix)))
        if project_filter.created_by:
            conditions.append(F("createdBy") == project_filter.created_by)
        query = (
            Query()
            .where(*conditions)
            .order_by("createTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._projects.page(query, organization_id)
        return [self._listed_projects(d) for d in page.items], page.continuation

    async def create_project(
        self, project: project_pb2.Project, event: event_pb2.Event
    ) -> project_pb2.Project:
        operation = BatchOp.create(project_document(project))
        written = await self._projects.commit(project.organization_id, [operation], [event])
        return project_from_document(written[0])

    async def replace_project(
        self, project: project_pb2.Project, if_match: str, events: Sequence[event_pb2.Event]
    ) -> project_pb2.Project:
        """Overwrite the stored project unless it changed since `if_match` (EtagMismatch)."""
        operation = BatchOp.replace(project_document(project), if_match=if_match)
        written = await self._projects.commit(project.organization_id, [operation], events)
        return project_from_document(written[0])

    async def delete_project(
        self, organization_id: str, project_id: str, if_match: str, event: event_pb2.Event
    ) -> None:
        operation = BatchOp.delete(project_id, if_match=if_match)
        await self._projects.commit(organization_id, [operation], [event])

    # --- tasks: reads --------------------------------------------------------------------------

    async def get_task(
        self, organization_id: str, project_id: str, task_id: str
    ) -> task_pb2.Task | None:
        """The task, or None when absent or in another project. One point read."""
        document = await self._tasks.get(organization_id, task_id)
        if document is None or document.get("projectId") != project_id:
            return None
        return task_from_document(document)

    async def list_tasks(
        self,
        organization_id: str,
        project_id: str,
        task_filter: TaskFilter,
        sort_field: TaskSortField,
        descending: bool,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[task_pb2.Task], str | None]:
        query = (
            Query()
            .where(*_task_conditions(project_id, task_filter))
            .order_by(sort_field, desc=descending)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._tasks.page(query, organization_id)
        return [self._listed_tasks(d) for d in page.items], page.continuation

    async def project_has_tasks(self, organization_id: str, project_id: str) -> bool:
        return await self._tasks.exists(organization_id, F("projectId") == project_id)

    async def has_subtasks(self, organization_id: str, project_id: str, task_id: str) -> bool:
        return await self._tasks.exists(
            organization_id, F("projectId") == project_id, F("parentTaskId") == task_id
        )

    async def has_dependents(self, organization_id: str, project_id: str, task_id: str) -> bool:
        return await self._tasks.exists(
            organization_id,
            F("projectId") == project_id,
            F("dependsOnTaskIds").contains(task_id),
        )

    async def existing_task_ids(
        self, organization_id: str, project_id: str, task_ids: Sequence[str]
    ) -> set[str]:
        """Which of `task_ids` are tasks of the project."""
        if not task_ids:
            return set()
        query = (
            Query().where(F("projectId") == project_id, F("id").in_(task_ids)).limit(len(task_ids))
        )
        page = await self._tasks.page(query, organization_id)
        return {document["id"] for document in page.items}

    async def task_links(self, organization_id: str, project_id: str) -> dict[str, TaskLinks]:
        """The parent and dependency edges of every task of the project."""
        documents = await self._tasks.every(
            Query().where(F("projectId") == project_id), organization_id
        )
        return {
            document["id"]: TaskLinks(document["parentTaskId"], tuple(document["dependsOnTaskIds"]))
            for document in documents
        }

    async def some_project_tasks(
        self, organization_id: str, project_id: str, limit: int
    ) -> list[task_pb2.Task]:
        """Up to `limit` tasks of the project, in no particular order."""
        query = Query().where(F("projectId") == project_id).limit(limit)
        page = await self._tasks.page(query, organization_id)
        return [task_from_document(d) for d in page.items]

    # --- tasks: writes -------------------------------------------------------------------------

    async def create_task(self, task: task_pb2.Task, event: event_pb2.Event) -> task_pb2.Task:
        operation = BatchOp.create(task_document(task))
        written = await self._tasks.commit(task.organization_id, [operation], [event])
        return task_from_document(written[0])

    async def replace_task(
        self, task: task_pb2.Task, if_match: str, events: Sequence[event_pb2.Event]
    ) -> task_pb2.Task:
        """Overwrite the stored task unless it changed since `if_match` (EtagMismatch)."""
        operation = BatchOp.replace(task_document(task), if_match=if_match)
        written = await self._tasks.commit(task.organization_id, [operation], events)
        return task_from_document(written[0])

    async def delete_tasks(
        self,
        organization_id: str,
        deletions: Sequence[tuple[str, str | None, event_pb2.Event]],
    ) -> None:
        """Delete tasks, each `(id, if_match, event)`, atomically (at most
        TASK_DELETES_PER_BATCH of them)."""
        operations = [
            BatchOp.delete(task_id, if_match=if_match) for task_id, if_match, _ in deletions
        ]
        events = [event for _, _, event in deletions]
        await self._tasks.commit(organization_id, operations, events)


def _task_conditions(project_id: str, task_filter: TaskFilter) -> list[Condition]:
    conditions = [F("projectId") == project_id]
    if task_filter.statuses:
        conditions.append(F("status").in_(task_filter.statuses))
    if task_filter.assignee_id:
        conditions.append(F("assigneeId") == task_filter.assignee_id)
    if task_filter.label:
        conditions.append(F("labels").contains(task_filter.label))
    if task_filter.priority:
        conditions.append(F("priority") == task_filter.priority)
    if task_filter.parent_task_id:
        conditions.append(F("parentTaskId") == task_filter.parent_task_id)
    if task_filter.due_before is not None:
        conditions.append(F("dueTime") < task_filter.due_before)
    if task_filter.due_after is not None:
        conditions.append(F("dueTime") >= task_filter.due_after)
    return conditions
