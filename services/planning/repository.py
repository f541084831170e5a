"""Every storage query of the planning service.

One container per entity kind (`projects`, `tasks`, `milestones`, `cycles`, `relations`,
`worklogs`, `plans`), all partitioned by organization id, so every read and write is scoped to the
caller's organization and another organization's ids are simply not found. Every container
also holds the service's outbox: a write that changes state commits its events in the same
atomic batch (the kit's `Entities.commit`), and reads never see them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from coder.events.v1 import event_pb2
from coder.planning.v1 import (
    planning_service_pb2,
    project_pb2,
    relation_pb2,
    schedule_pb2,
    task_pb2,
    worklog_pb2,
)
from services.kit import DocumentExists, Entities, Remembered, Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    Condition,
    ContainerSpec,
    Document,
    DocumentStore,
    F,
    Query,
)
from services.planning._mapping import (
    cycle_document,
    cycle_from_document,
    milestone_document,
    milestone_from_document,
    name_key,
    plan_document,
    plan_from_document,
    project_document,
    project_from_document,
    relation_document,
    relation_from_document,
    task_document,
    task_from_document,
    view_document,
    view_from_document,
    worklog_document,
    worklog_from_document,
)

PROJECTS = "projects"
TASKS = "tasks"
MILESTONES = "milestones"
CYCLES = "cycles"
RELATIONS = "relations"
WORKLOGS = "worklogs"
PLANS = "plans"
VIEWS = "views"

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
            "/milestoneId",
            "/cycleId",
        ),
        outbox=True,
    ),
    ContainerSpec(MILESTONES, indexes=("/projectId", "/targetKey"), outbox=True),
    ContainerSpec(CYCLES, indexes=("/projectId", "/startTime"), outbox=True),
    ContainerSpec(
        RELATIONS,
        indexes=("/projectId", "/sourceTaskId", "/targetTaskId", "/createTime"),
        outbox=True,
    ),
    ContainerSpec(PLANS, indexes=("/projectId", "/createTime"), outbox=True),
    ContainerSpec(VIEWS, indexes=("/projectId", "/nameKey"), outbox=True),
    ContainerSpec(
        WORKLOGS, indexes=("/projectId", "/taskId", "/userId", "/startTime"), outbox=True
    ),
)

TASK_DELETES_PER_BATCH = MAX_BATCH_OPERATIONS // 2
"""Each deleted task travels with its `planning.task.deleted` outbox document."""

DELETES_PER_BATCH = MAX_BATCH_OPERATIONS // 2
"""Each deleted document travels with its `.deleted` outbox document."""

M = TypeVar("M", bound=Message)


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


@dataclass(frozen=True, slots=True)
class GraphTask:
    """What the dependency graph needs of a task."""

    id: str
    title: str
    status: int
    estimate: int | None
    """Nanoseconds; None when the task has no estimate."""
    depends_on: tuple[str, ...]
    complete_time: str | None
    create_time: str


class ProjectScoped(Generic[M]):
    """The writes and point reads of one kind of entity that belongs to a project (milestones,
    cycles, worklogs): stored by id in the organization's partition, its events in the batch."""

    def __init__(
        self,
        entities: Entities,
        to_document: Callable[[M], Document],
        from_document: Callable[[Document], M],
    ) -> None:
        self.entities = entities
        self._to_document = to_document
        self.from_document = from_document

    async def get(self, organization_id: str, project_id: str, entity_id: str) -> M | None:
        """The entity, or None when absent or in another project. One point read."""
        document = await self.entities.get(organization_id, entity_id)
        if document is None or document.get("projectId") != project_id:
            return None
        return self.from_document(document)

    async def create(self, entity: M, event: event_pb2.Event) -> M:
        document = self._to_document(entity)
        operation = BatchOp.create(document)
        written = await self.entities.commit(document["organizationId"], [operation], [event])
        return self.from_document(written[0])

    async def replace(self, entity: M, if_match: str, events: Sequence[event_pb2.Event]) -> M:
        """Overwrite the stored entity unless it changed since `if_match` (EtagMismatch)."""
        document = self._to_document(entity)
        operation = BatchOp.replace(document, if_match=if_match)
        written = await self.entities.commit(document["organizationId"], [operation], events)
        return self.from_document(written[0])

    async def delete(
        self, organization_id: str, entity_id: str, if_match: str, event: event_pb2.Event
    ) -> None:
        operation = BatchOp.delete(entity_id, if_match=if_match)
        await self.entities.commit(organization_id, [operation], [event])

    async def page(
        self, organization_id: str, query: Query, page_size: int, continuation: str | None
    ) -> tuple[list[M], str | None]:
        page = await self.entities.page(query.limit(page_size).after(continuation), organization_id)
        return [self.from_document(d) for d in page.items], page.continuation


class PlanningRepository(Repository):
    """Reads and atomic writes of the planning entities, for one process's store."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._projects = self.entities(PROJECTS)
        self._tasks = self.entities(TASKS)
        self.milestones = ProjectScoped(
            self.entities(MILESTONES), milestone_document, milestone_from_document
        )
        self.cycles = ProjectScoped(self.entities(CYCLES), cycle_document, cycle_from_document)
        self.worklogs = ProjectScoped(
            self.entities(WORKLOGS), worklog_document, worklog_from_document
        )
        # Read from the side of the task that stores it; answers turn it to the caller's task.
        self.relations = ProjectScoped(
            self.entities(RELATIONS),
            relation_document,
            lambda d: relation_from_document(d, d["sourceTaskId"]),
        )
        self._relations = self.relations.entities
        self.plans = ProjectScoped(self.entities(PLANS), plan_document, plan_from_document)
        self.views = ProjectScoped(self.entities(VIEWS), view_document, view_from_document)
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

    async def create_plan_tasks(
        self,
        organization_id: str,
        tasks: Sequence[task_pb2.Task],
        events: Sequence[event_pb2.Event],
    ) -> None:
        """Create a plan's tasks and their events in one atomic batch. Their ids come from the
        plan, so a batch that finds them there already was written by an earlier approval
        (a batch is all or nothing): nothing is written twice."""
        operations = [BatchOp.create(task_document(task)) for task in tasks]
        try:
            await self._tasks.commit(organization_id, operations, events)
        except DocumentExists:
            if not await self._tasks.get(organization_id, tasks[0].id):
                raise

    async def tasks_by_id(
        self, organization_id: str, project_id: str, task_ids: Sequence[str]
    ) -> list[task_pb2.Task]:
        """The project's tasks of `task_ids`, in that order."""
        query = Query().where(F("projectId") == project_id, F("id").in_(task_ids))
        documents = await self._tasks.every(query, organization_id)
        found = {d["id"]: task_from_document(d) for d in documents}
        return [found[task_id] for task_id in task_ids if task_id in found]

    async def tasks_in(
        self,
        organization_id: str,
        project_id: str,
        field: Literal["milestoneId", "cycleId"],
        value: str,
    ) -> bool:
        """Whether any task of the project names `value` as its milestone or cycle."""
        return await self._tasks.exists(
            organization_id, F("projectId") == project_id, F(field) == value
        )

    async def graph_tasks(
        self, organization_id: str, project_id: str, cycle_id: str = ""
    ) -> list[GraphTask]:
        """Every task of the project (of one cycle, when given), in creation order."""
        conditions = [F("projectId") == project_id]
        if cycle_id:
            conditions.append(F("cycleId") == cycle_id)
        documents = await self._tasks.every(
            Query().where(*conditions).order_by("createTime"), organization_id
        )
        return [
            GraphTask(
                d["id"],
                d["title"],
                d["status"],
                _nanoseconds(d["estimate"]),
                tuple(d["dependsOnTaskIds"]),
                d["completeTime"],
                d["createTime"],
            )
            for d in documents
        ]

    # --- milestones and cycles -----------------------------------------------------------------

    async def list_milestones(
        self, organization_id: str, project_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[schedule_pb2.Milestone], str | None]:
        """Soonest target first, undated last."""
        query = Query().where(F("projectId") == project_id).order_by("targetKey")
        return await self.milestones.page(organization_id, query, page_size, continuation)

    async def list_cycles(
        self, organization_id: str, project_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[schedule_pb2.Cycle], str | None]:
        """Latest start first."""
        query = Query().where(F("projectId") == project_id).order_by("startTime", desc=True)
        return await self.cycles.page(organization_id, query, page_size, continuation)

    async def list_views(
        self, organization_id: str, project_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[planning_service_pb2.View], str | None]:
        """By name, ignoring case."""
        query = Query().where(F("projectId") == project_id).order_by("nameKey")
        return await self.views.page(organization_id, query, page_size, continuation)

    # --- relations -----------------------------------------------------------------------------

    async def get_relation(
        self, organization_id: str, project_id: str, task_id: str, relation_id: str
    ) -> relation_pb2.TaskRelation | None:
        """The relation read from `task_id`'s side, or None unless it is one of the task's."""
        document = await self._relations.get(organization_id, relation_id)
        if (
            document is None
            or document.get("projectId") != project_id
            or task_id not in (document["sourceTaskId"], document["targetTaskId"])
        ):
            return None
        return relation_from_document(document, task_id)

    async def delete_relation(
        self, organization_id: str, relation_id: str, event: event_pb2.Event
    ) -> None:
        await self._relations.commit(organization_id, [BatchOp.delete(relation_id)], [event])

    async def task_relation_documents(self, organization_id: str, task_id: str) -> list[Document]:
        """Every stored relation either side of which is the task, oldest first."""
        found: list[Document] = []
        for side in ("sourceTaskId", "targetTaskId"):
            found.extend(
                await self._relations.every(Query().where(F(side) == task_id), organization_id)
            )
        return sorted(found, key=lambda d: (d["createTime"], d["id"]))

    async def task_relations(
        self, organization_id: str, task_id: str
    ) -> list[relation_pb2.TaskRelation]:
        documents = await self.task_relation_documents(organization_id, task_id)
        return [relation_from_document(d, task_id) for d in documents]

    async def blockers(self, organization_id: str, project_id: str) -> dict[str, list[str]]:
        """The blocking relations of the project: each blocked task's blockers."""
        found: dict[str, list[str]] = {}
        for blocker, blocked in await self.blocking_edges(organization_id, project_id):
            found.setdefault(blocked, []).append(blocker)
        return found

    async def blocking_edges(self, organization_id: str, project_id: str) -> list[tuple[str, str]]:
        """Every BLOCKS relation of the project as `(blocker, blocked)`."""
        documents = await self._relations.every(
            Query().where(
                F("projectId") == project_id, F("kind") == relation_pb2.RELATION_KIND_BLOCKS
            ),
            organization_id,
        )
        return [(d["sourceTaskId"], d["targetTaskId"]) for d in documents]

    async def create_relation(
        self, relation: relation_pb2.TaskRelation, event: event_pb2.Event
    ) -> relation_pb2.TaskRelation:
        operation = BatchOp.create(relation_document(relation))
        written = await self._relations.commit(relation.organization_id, [operation], [event])
        return relation_from_document(written[0], relation.task_id)

    # --- worklogs ------------------------------------------------------------------------------

    async def list_worklogs(
        self,
        organization_id: str,
        project_id: str,
        task_id: str,
        user_id: str,
        page_size: int,
        continuation: str | None,
    ) -> tuple[list[worklog_pb2.Worklog], str | None]:
        """Latest start first."""
        conditions = [F("projectId") == project_id]
        if task_id:
            conditions.append(F("taskId") == task_id)
        if user_id:
            conditions.append(F("userId") == user_id)
        query = Query().where(*conditions).order_by("startTime", desc=True)
        return await self.worklogs.page(organization_id, query, page_size, continuation)

    async def logged_time(self, organization_id: str, project_id: str) -> dict[str, int]:
        """The time logged on each task of the project that has worklogs, in nanoseconds."""
        documents = await self.worklogs.entities.every(
            Query().where(F("projectId") == project_id), organization_id
        )
        logged: dict[str, int] = {}
        for document in documents:
            task_id = document["taskId"]
            logged[task_id] = logged.get(task_id, 0) + (_nanoseconds(document["duration"]) or 0)
        return logged

    # --- deleting what belongs to a task or a project --------------------------------------------

    async def delete_owned(
        self,
        organization_id: str,
        kind: ProjectScoped[M],
        owner: Owner,
        announce: Callable[[M], event_pb2.Event],
    ) -> None:
        """Delete every entity of `kind` that `owner` holds (a project's, or a task's by the
        field that names it), in batches, each with the event `announce` makes of it."""
        entities, read = kind.entities, kind.from_document
        selected = F(_OWNER_FIELDS[owner.kind]) == owner.id
        while True:
            page = await entities.page(
                Query().where(selected).limit(DELETES_PER_BATCH), organization_id
            )
            if not page.items:
                return
            operations = [BatchOp.delete(d["id"]) for d in page.items]
            events = [announce(read(d)) for d in page.items]
            await entities.commit(organization_id, operations, events)


@dataclass(frozen=True, slots=True)
class Owner:
    """What a dependent entity hangs off: `project` (any project-scoped entity), `task` (a
    worklog), `source_task` or `target_task` (either end of a relation)."""

    kind: Literal["project", "task", "source_task", "target_task"]
    id: str


_OWNER_FIELDS = {
    "project": "projectId",
    "task": "taskId",
    "source_task": "sourceTaskId",
    "target_task": "targetTaskId",
}


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


def _nanoseconds(duration: str | None) -> int | None:
    if duration is None:
        return None
    parsed = Duration()
    parsed.FromJsonString(duration)
    return parsed.ToNanoseconds()
