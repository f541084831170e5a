"""What every part of the planning rules shares: the repository, the clock, the links lock,
the caller's event factory and the lookups that turn a missing id into NOT_FOUND."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from google.protobuf.message import Message

from coder.events.v1 import event_pb2
from coder.planning.v1 import project_pb2, task_pb2
from services.kit import (
    Clock,
    NotFound,
    Principal,
    apply_update,
    check_etag,
    current_principal,
    read_modify_write,
)
from services.kit.cache import Lock, LockManager
from services.planning.events import PlanningEvents
from services.planning.repository import PlanningRepository, ProjectScoped

M = TypeVar("M", bound=Message)

LINKS_LOCK_TTL = 10.0
"""Seconds a links lock lives if its holder dies; a check and a write take milliseconds."""


class PlanningScope:
    """The base of the planning rules (projects and tasks, schedules, relations, worklogs)."""

    def __init__(self, repository: PlanningRepository, clock: Clock, locks: LockManager) -> None:
        self._repository = repository
        self._clock = clock
        self._locks = locks

    def _links_lock(
        self, organization_id: str, project_id: str
    ) -> AbstractAsyncContextManager[Lock]:
        """Serializes the changes that read and write the links between a project's tasks.

        An etag guards one task, but a cycle spans several: two concurrent updates that each
        add half of a cycle would both pass their check. Link changes (dependencies, parents,
        blocking relations), and deletes (which must not leave a dangling link), take this
        lock around check and write.
        """
        return self._locks.lock(
            f"planning:links:{organization_id}:{project_id}", ttl=LINKS_LOCK_TTL, wait=5.0
        )

    def _events(self, principal: Principal) -> PlanningEvents:
        return PlanningEvents(principal, self._clock)

    async def _project(self, organization_id: str, project_id: str) -> project_pb2.Project:
        project = await self._repository.get_project(organization_id, project_id)
        if project is None:
            raise NotFound(f"project {project_id} not found", reason="PROJECT_NOT_FOUND")
        return project

    async def _task(self, organization_id: str, project_id: str, task_id: str) -> task_pb2.Task:
        task = await self._repository.get_task(organization_id, project_id, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found", reason="TASK_NOT_FOUND")
        return task

    async def _update_scoped(
        self,
        changes: M,
        paths: Sequence[str],
        resource: str,
        read: Callable[[str, str, str], Awaitable[M]],
        store: ProjectScoped[M],
        announce: Callable[[PlanningEvents, M, list[str]], event_pb2.Event],
        check: Callable[[M], None] = lambda _: None,
    ) -> M:
        """Apply the `paths` of `changes` to a stored entity of a project (a milestone, a
        cycle, a worklog, a view): etag-checked when `changes` carries one, retried on a
        fresh read otherwise; `check` sees the entity as it would be stored."""
        principal = current_principal()
        named: Any = changes  # every such entity has an id, a project id and an etag

        async def attempt() -> M:
            current: Any = await read(principal.organization_id, named.project_id, named.id)
            check_etag(named.etag, current.etag, resource)
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current  # type: ignore[no-any-return]
            check(updated)
            entity: Any = updated
            entity.ClearField("etag")
            entity.update_time.FromDatetime(self._clock.now())
            event = announce(self._events(principal), updated, changed)
            return await store.replace(updated, current.etag, [event])

        return await read_modify_write(named.etag, attempt)
