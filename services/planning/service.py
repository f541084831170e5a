"""The planning domain rules: projects, their tasks, status moves and links between tasks.

No transport and no storage details here: the servicer unpacks requests and calls these
methods; the repository stores. The organization always comes from the caller's verified
token, so every lookup is confined to it and another organization's ids are not found.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TypeAlias

from google.protobuf.field_mask_pb2 import FieldMask

from coder.common.v1 import paging_pb2
from coder.planning.v1 import planning_service_pb2, project_pb2, task_pb2
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Principal,
    apply_update,
    check_etag,
    check_time_range,
    current_principal,
    new_id,
    optional_timestamp_text,
    read_modify_write,
    require_field,
    update_paths,
)
from services.kit.cache import LockManager
from services.planning._context import PlanningScope
from services.planning._dependencies import prerequisites_of
from services.planning._graph import reaches
from services.planning.events import PlanningEvents, TaskFeed
from services.planning.repository import (
    TASK_DELETES_PER_BATCH,
    Owner,
    PlanningRepository,
    ProjectFilter,
    TaskFilter,
    TaskLinks,
    TaskSortField,
)

Status: TypeAlias = task_pb2.TaskStatus.ValueType

ALLOWED_MOVES: Mapping[Status, frozenset[Status]] = {
    task_pb2.TASK_STATUS_TO_DO: frozenset(
        {task_pb2.TASK_STATUS_IN_PROGRESS, task_pb2.TASK_STATUS_BLOCKED}
    ),
    task_pb2.TASK_STATUS_IN_PROGRESS: frozenset(
        {
            task_pb2.TASK_STATUS_TO_DO,
            task_pb2.TASK_STATUS_BLOCKED,
            task_pb2.TASK_STATUS_REVIEW,
            task_pb2.TASK_STATUS_DONE,
        }
    ),
    task_pb2.TASK_STATUS_BLOCKED: frozenset(
        {task_pb2.TASK_STATUS_TO_DO, task_pb2.TASK_STATUS_IN_PROGRESS}
    ),
    task_pb2.TASK_STATUS_REVIEW: frozenset(
        {task_pb2.TASK_STATUS_IN_PROGRESS, task_pb2.TASK_STATUS_BLOCKED, task_pb2.TASK_STATUS_DONE}
    ),
    task_pb2.TASK_STATUS_DONE: frozenset(
        {task_pb2.TASK_STATUS_TO_DO, task_pb2.TASK_STATUS_IN_PROGRESS}
    ),
}
"""The status moves documented on TaskStatus in task.proto; any other move is refused."""

PROJECT_WRITABLE = ("name", "description")
PROJECT_OUTPUT_ONLY = frozenset(
    {"id", "organization_id", "created_by", "create_time", "update_time"}
)
TASK_WRITABLE = (
    "title",
    "description",
    "status",
    "priority",
    "assignee_id",
    "labels",
    "due_time",
    "estimate",
    "parent_task_id",
    "depends_on_task_ids",
    "milestone_id",
    "cycle_id",
)
TASK_OUTPUT_ONLY = frozenset(
    {
        "id",
        "project_id",
        "organization_id",
        "created_by",
        "create_time",
        "update_time",
        "complete_time",
    }
)

TASK_SCHEDULE_LINKS = ("milestone_id", "cycle_id")

SORT_FIELDS: Mapping[int, TaskSortField] = {
    planning_service_pb2.TASK_ORDER_BY_UNSPECIFIED: "createTime",
    planning_service_pb2.TASK_ORDER_BY_CREATE_TIME: "createTime",
    planning_service_pb2.TASK_ORDER_BY_UPDATE_TIME: "updateTime",
    planning_service_pb2.TASK_ORDER_BY_DUE_TIME: "dueTime",
    planning_service_pb2.TASK_ORDER_BY_PRIORITY: "priority",
}


class PlanningService(PlanningScope):
    """Projects and tasks of the caller's organization."""

    def __init__(
        self,
        repository: PlanningRepository,
        clock: Clock,
        locks: LockManager,
        feed: TaskFeed,
    ) -> None:
        super().__init__(repository, clock, locks)
        self._feed = feed

    # --- projects ------------------------------------------------------------------------------

    async def create_project(self, draft: project_pb2.Project) -> project_pb2.Project:
        """Store a new project; only its writable fields are taken from `draft`."""
        principal = current_principal()
        project = project_pb2.Project(
            id=new_id(),
            organization_id=principal.organization_id,
            name=draft.name,
            description=draft.description,
            created_by=principal.subject,
        )
        project.create_time.FromDatetime(self._clock.now())
        project.update_time.CopyFrom(project.create_time)
        event = self._events(principal).project_created(project)
        return await self._repository.create_project(project, event)

    async def get_project(self, project_id: str) -> project_pb2.Project:
        return await self._project(current_principal().organization_id, project_id)

    async def list_projects(
        self, request: planning_service_pb2.ListProjectsRequest
    ) -> tuple[list[project_pb2.Project], str]:
        """A page of the organization's projects, newest first, and the next page's token."""
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        projects, continuation = await self._repository.list_projects(
            organization_id,
            ProjectFilter(name_prefix=request.name_prefix, created_by=request.created_by),
            page.size,
            page.continuation,
        )
        return projects, page.seal(continuation)

    async def update_project(
        self, changes: project_pb2.Project, mask: FieldMask
    ) -> project_pb2.Project:
        """Apply the masked fields of `changes` (the populated ones for an empty mask) to the
        stored project. Refused with ABORTED when `changes.etag` is set and stale; without an
        etag, a lost race is retried on a fresh read."""
        paths = update_paths(
            mask, changes, "project", PROJECT_WRITABLE, output_only=PROJECT_OUTPUT_ONLY
        )
        require_field(changes.id, "project.id", "name what to update")
        principal = current_principal()

        async def attempt() -> project_pb2.Project:
            current = await self._project(principal.organization_id, changes.id)
            check_etag(changes.etag, current.etag, "project")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current
            updated.ClearField("etag")
            updated.update_time.FromDatetime(self._clock.now())
            event = self._events(principal).project_updated(updated, changed)
            return await self._repository.replace_project(updated, current.etag, [event])

        return await read_modify_write(changes.etag, attempt)

    async def delete_project(self, project_id: str, etag: str, force: bool) -> None:
        """Delete a project; one with tasks only with `force`, which deletes them first."""
        principal = current_principal()
        organization_id = principal.organization_id
        project = await self._project(organization_id, project_id)
        check_etag(etag, project.etag, "project")
        events = self._events(principal)
        if await self._repository.project_has_tasks(organization_id, project_id):
            if not force:
                raise FailedPrecondition(
                    f"project {project_id} still has tasks; delete them first or set force",
                    reason="PROJECT_HAS_TASKS",
                )
            await self._delete_every_task(organization_id, project_id, events)
        await self._delete_owned(organization_id, Owner("project", project_id), events)
        await self._repository.delete_project(
            organization_id, project_id, project.etag, events.project_deleted(project)
        )

    async def _delete_owned(
        self, organization_id: str, owner: Owner, events: PlanningEvents
    ) -> None:
        """Delete the milestones, cycles, relations and worklogs `owner` selects (a project's
        or a task's), each announcing itself."""
        repository, delete = self._repository, self._repository.delete_owned
        await delete(
            organization_id, repository.relations, owner, lambda r: events.relation("deleted", r)
        )
        await delete(
            organization_id, repository.worklogs, owner, lambda w: events.worklog("deleted", w)
        )
        await delete(
            organization_id, repository.milestones, owner, lambda m: events.milestone("deleted", m)
        )
        await delete(
            organization_id, repository.cycles, owner, lambda c: events.cycle("deleted", c)
        )
        await delete(organization_id, repository.views, owner, lambda v: events.view("deleted", v))
        await delete(organization_id, repository.plans, owner, lambda p: events.plan("deleted", p))

    async def _delete_every_task(
        self, organization_id: str, project_id: str, events: PlanningEvents
    ) -> None:
        # Batches are atomic per partition but bounded in size, so a large project goes in
        # several; each deleted task still announces itself.
        while tasks := await self._repository.some_project_tasks(
            organization_id, project_id, TASK_DELETES_PER_BATCH
        ):
            deletions = [(task.id, None, events.task_deleted(task)) for task in tasks]
            await self._repository.delete_tasks(organization_id, deletions)

    # --- tasks ---------------------------------------------------------------------------------

    async def create_task(self, project_id: str, draft: task_pb2.Task) -> task_pb2.Task:
        """Store a new task in a project; only its writable fields are taken from `draft`.
        Status defaults to TO_DO and priority to MEDIUM."""
        principal = current_principal()
        organization_id = principal.organization_id
        check_time_range(draft, ("due_time",), "task.")
        await self._project(organization_id, project_id)
        await self._check_schedule_links(organization_id, project_id, draft, TASK_SCHEDULE_LINKS)

        task = task_pb2.Task(
            id=new_id(),
            project_id=project_id,
            organization_id=organization_id,
            created_by=principal.subject,
        )
        FieldMask(paths=TASK_WRITABLE).MergeMessage(draft, task)
        task.status = task.status or task_pb2.TASK_STATUS_TO_DO
        task.priority = task.priority or task_pb2.TASK_PRIORITY_MEDIUM
        task.create_time.FromDatetime(self._clock.now())
        task.update_time.CopyFrom(task.create_time)
        if task.status == task_pb2.TASK_STATUS_DONE:
            task.complete_time.CopyFrom(task.create_time)
        event = self._events(principal).task_created(task)
        if not task.parent_task_id and not task.depends_on_task_ids:
            return await self._repository.create_task(task, event)
        async with self._links_lock(organization_id, project_id):
            await self._check_new_task_links(task)
            return await self._repository.create_task(task, event)

    async def get_task(self, project_id: str, task_id: str) -> task_pb2.Task:
        task = await self._repository.get_task(
            current_principal().organization_id, project_id, task_id
        )
        if task is None:
            raise NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND")
        return task

    async def list_tasks(
        self, request: planning_service_pb2.ListTasksRequest
    ) -> tuple[list[task_pb2.Task], str]:
        """A page of a project's tasks, filtered and ordered as the request says, and the
        next page's token (bound to the same filters and order)."""
        organization_id = current_principal().organization_id
        check_time_range(request, ("due_before", "due_after"))
        page = PageRequest.of(request, organization_id)
        await self._project(organization_id, request.project_id)

        task_filter = TaskFilter(
            statuses=tuple(request.statuses),
            assignee_id=request.assignee_id,
            label=request.label,
            priority=request.priority,
            parent_task_id=request.parent_task_id,
            due_before=optional_timestamp_text(request, "due_before"),
            due_after=optional_timestamp_text(request, "due_after"),
        )
        tasks, next_continuation = await self._repository.list_tasks(
            organization_id,
            request.project_id,
            task_filter,
            SORT_FIELDS[request.order_by],
            request.direction != paging_pb2.SORT_DIRECTION_ASCENDING,
            page.size,
            page.continuation,
        )
        return tasks, page.seal(next_continuation)

    async def update_task(self, changes: task_pb2.Task, mask: FieldMask) -> task_pb2.Task:
        """Apply the masked fields of `changes` (the populated ones for an empty mask) to the
        stored task. A status change must be an allowed move; links must stay acyclic. Without
        an etag, a lost race is retried on a fresh read."""
        paths = _task_update_paths(changes, mask)
        require_field(changes.project_id, "task.project_id", "name what to update")
        require_field(changes.id, "task.id", "name what to update")
        if "due_time" in paths:
            check_time_range(changes, ("due_time",), "task.")
        principal = current_principal()
        return await read_modify_write(
            changes.etag, lambda: self._update_task_once(principal, changes, paths)
        )

    async def _update_task_once(
        self, principal: Principal, changes: task_pb2.Task, paths: Sequence[str]
    ) -> task_pb2.Task:
        current = await self._task(principal.organization_id, changes.project_id, changes.id)
        check_etag(changes.etag, current.etag, "task")
        updated, changed = apply_update(current, changes, paths)
        if not changed:
            return current
        now = self._clock.now()
        await self._check_schedule_links(
            principal.organization_id,
            current.project_id,
            updated,
            [path for path in changed if path in TASK_SCHEDULE_LINKS],
        )
        if "status" in changed:
            _check_move(current.status, updated.status)
            if updated.status == task_pb2.TASK_STATUS_DONE:
                updated.complete_time.FromDatetime(now)
            else:
                updated.ClearField("complete_time")
        updated.ClearField("etag")
        updated.update_time.FromDatetime(now)
        events = self._events(principal).task_changed(updated, changed, current.status)
        if "parent_task_id" not in changed and "depends_on_task_ids" not in changed:
            return await self._repository.replace_task(updated, current.etag, events)
        async with self._links_lock(principal.organization_id, updated.project_id):
            await self._check_changed_links(updated, changed)
            return await self._repository.replace_task(updated, current.etag, events)

    async def delete_task(self, project_id: str, task_id: str, etag: str) -> None:
        """Delete a task that has no subtasks and that no other task depends on."""
        principal = current_principal()
        organization_id = principal.organization_id
        async with self._links_lock(organization_id, project_id):
            await self._delete_unlinked_task(principal, project_id, task_id, etag)

    async def _delete_unlinked_task(
        self, principal: Principal, project_id: str, task_id: str, etag: str
    ) -> None:
        organization_id = principal.organization_id
        task = await self._task(organization_id, project_id, task_id)
        check_etag(etag, task.etag, "task")
        if await self._repository.has_subtasks(organization_id, project_id, task_id):
            raise FailedPrecondition(
                f"task {task_id} has subtasks; delete or move them first",
                reason="TASK_HAS_SUBTASKS",
            )
        if await self._repository.has_dependents(organization_id, project_id, task_id):
            raise FailedPrecondition(
                f"other tasks depend on task {task_id}; remove those dependencies first",
                reason="TASK_HAS_DEPENDENTS",
            )
        events = self._events(principal)
        # What hangs off the task goes first: a failure in between leaves the task, never a
        # relation or a worklog naming a task that is gone.
        for owner in (Owner("source_task", task_id), Owner("target_task", task_id)):
            await self._repository.delete_owned(
                organization_id,
                self._repository.relations,
                owner,
                lambda r: events.relation("deleted", r),
            )
        await self._repository.delete_owned(
            organization_id,
            self._repository.worklogs,
            Owner("task", task_id),
            lambda w: events.worklog("deleted", w),
        )
        event = events.task_deleted(task)
        await self._repository.delete_tasks(organization_id, [(task_id, task.etag, event)])

    async def watch_project(
        self, project_id: str
    ) -> AsyncIterator[planning_service_pb2.WatchProjectResponse]:
        """The changes to a project's tasks from now on, first a WATCH_STARTED message once
        the watch is live (so a fetch made after it misses nothing). Only the caller's
        organization's changes are delivered; the project must exist when the watch starts."""
        organization_id = current_principal().organization_id
        await self._project(organization_id, project_id)
        async with self._feed.watch(organization_id, project_id) as changes:
            yield planning_service_pb2.WatchProjectResponse(
                kind=planning_service_pb2.TASK_CHANGE_KIND_WATCH_STARTED
            )
            async for change in changes:
                yield change

    async def _check_schedule_links(
        self, organization_id: str, project_id: str, task: task_pb2.Task, paths: Sequence[str]
    ) -> None:
        """The milestone and cycle a task names (of `paths`) must be the project's."""
        violations = []
        for path in paths:
            entity_id = getattr(task, path)
            kind = (
                self._repository.milestones if path == "milestone_id" else self._repository.cycles
            )
            if entity_id and await kind.get(organization_id, project_id, entity_id) is None:
                violations.append(
                    FieldViolation(
                        f"task.{path}", f"no {path[:-3]} {entity_id} in project {project_id}"
                    )
                )
        if violations:
            raise InvalidArgument(
                "the task names what its project does not have", violations=violations
            )

    async def _closes_cycle(self, task: task_pb2.Task, links: Mapping[str, TaskLinks]) -> bool:
        """Whether the task's dependencies reach back to it through dependencies and blocking
        relations (the one graph GetProjectGraph schedules)."""
        blockers = await self._repository.blockers(task.organization_id, task.project_id)
        prerequisites = prerequisites_of(links, blockers)
        return reaches(prerequisites, prerequisites[task.id], task.id)

    # --- links between tasks -------------------------------------------------------------------

    async def _check_new_task_links(self, task: task_pb2.Task) -> None:
        """A new task's parent and dependencies must be tasks of its project. Nothing links to
        a task that does not exist yet, so it cannot close a cycle."""
        referenced = [*task.depends_on_task_ids]
        if task.parent_task_id:
            referenced.append(task.parent_task_id)
        if not referenced:
            return
        existing = await self._repository.existing_task_ids(
            task.organization_id, task.project_id, referenced
        )
        violations = _unknown_links(task, existing)
        if violations:
            raise InvalidArgument("task links to tasks not in its project", violations=violations)

    async def _check_changed_links(self, task: task_pb2.Task, changed: Sequence[str]) -> None:
        """The changed parent and dependencies must be tasks of the project other than the task
        itself, and must not close a cycle through it (the graph was acyclic before, so a new
        cycle has to pass through the changed task)."""
        links = await self._repository.task_links(task.organization_id, task.project_id)
        links[task.id] = TaskLinks(task.parent_task_id, tuple(task.depends_on_task_ids))
        violations = _self_links(task, changed) or _unknown_links(task, set(links))
        if violations:
            raise InvalidArgument("task links are invalid", violations=violations)
        if "parent_task_id" in changed and _parent_cycle(links, task.id):
            raise FailedPrecondition(
                f"task {task.parent_task_id} is a subtask of task {task.id}",
                reason="PARENT_CYCLE",
                violations=[
                    FieldViolation("task.parent_task_id", "the parent would be its own ancestor")
                ],
            )
        if "depends_on_task_ids" in changed and await self._closes_cycle(task, links):
            raise FailedPrecondition(
                f"the dependencies of task {task.id} would form a cycle",
                reason="DEPENDENCY_CYCLE",
                violations=[
                    FieldViolation(
                        "task.depends_on_task_ids", "a dependency already depends on this task"
                    )
                ],
            )


# --- rules -------------------------------------------------------------------------------------


def _check_move(before: Status, after: Status) -> None:
    if after not in ALLOWED_MOVES.get(before, frozenset()):
        source, target = task_pb2.TaskStatus.Name(before), task_pb2.TaskStatus.Name(after)
        raise FailedPrecondition(
            f"a task cannot move from {source} to {target}",
            reason="STATUS_MOVE_REFUSED",
            metadata={"from": source, "to": target},
        )


def _self_links(task: task_pb2.Task, changed: Sequence[str]) -> list[FieldViolation]:
    violations = []
    if "parent_task_id" in changed and task.parent_task_id == task.id:
        violations.append(FieldViolation("task.parent_task_id", "a task cannot be its own parent"))
    if "depends_on_task_ids" in changed and task.id in task.depends_on_task_ids:
        violations.append(
            FieldViolation("task.depends_on_task_ids", "a task cannot depend on itself")
        )
    return violations


def _unknown_links(task: task_pb2.Task, existing: set[str]) -> list[FieldViolation]:
    violations = []
    if task.parent_task_id and task.parent_task_id not in existing:
        violations.append(
            FieldViolation(
                "task.parent_task_id", f"no task {task.parent_task_id} in project {task.project_id}"
            )
        )
    missing = [task_id for task_id in task.depends_on_task_ids if task_id not in existing]
    if missing:
        violations.append(
            FieldViolation(
                "task.depends_on_task_ids",
                f"no task {', '.join(missing)} in project {task.project_id}",
            )
        )
    return violations


def _parent_cycle(links: Mapping[str, TaskLinks], task_id: str) -> bool:
    """Whether walking up from the task's parent comes back to the task."""
    seen: set[str] = set()
    node = links[task_id].parent_task_id
    while node and node not in seen:
        if node == task_id:
            return True
        seen.add(node)
        parent = links.get(node)
        node = parent.parent_task_id if parent else ""
    return False


# --- update masks ------------------------------------------------------------------------------


def _task_update_paths(changes: task_pb2.Task, mask: FieldMask) -> list[str]:
    """The task paths an update touches. A task always has a status and a priority: naming one
    in the mask with no value is refused (`update_paths`: an enum cannot be cleared)."""
    return update_paths(mask, changes, "task", TASK_WRITABLE, output_only=TASK_OUTPUT_ONLY)
