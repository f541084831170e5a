"""What every part of the planning rules shares: the repository, the clock, the links lock,
the caller's event factory and the lookups that turn a missing id into NOT_FOUND."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from coder.planning.v1 import project_pb2, task_pb2
from services.kit import Clock, NotFound, Principal
from services.kit.cache import Lock, LockManager
from services.planning.events import PlanningEvents
from services.planning.repository import PlanningRepository

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
