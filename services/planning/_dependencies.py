"""Relations between tasks and the project's dependency graph.

A relation is stored once, in its active voice ("a blocks b"), and answered from either task
("b blocked by a"). Blocking relations and the tasks' `depends_on_task_ids` are the edges of
one graph, which stays acyclic: a blocking relation that would close a cycle is refused under
the project's links lock, as a dependency change is. GetProjectGraph schedules that graph
with the critical-path method (services/planning/_graph.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from coder.planning.v1 import graph_pb2, planning_service_pb2, relation_pb2, task_pb2
from services.kit import (
    AlreadyExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    current_principal,
    new_id,
)
from services.planning._context import PlanningScope
from services.planning._graph import CycleFound, reaches, schedule
from services.planning.repository import GraphTask, TaskLinks

_BLOCKING = frozenset({relation_pb2.RELATION_KIND_BLOCKS, relation_pb2.RELATION_KIND_BLOCKED_BY})


class DependencyRules(PlanningScope):
    """Task relations and the dependency graph of the caller's organization's projects."""

    async def create_relation(
        self, project_id: str, task_id: str, draft: relation_pb2.TaskRelation
    ) -> relation_pb2.TaskRelation:
        """Relate a task to another task of its project, refusing a repeat and a blocking
        relation that would close a cycle."""
        principal = current_principal()
        organization_id = principal.organization_id
        related_id = draft.related_task_id
        if related_id == task_id:
            raise InvalidArgument(
                "a task cannot be related to itself",
                violations=[FieldViolation("relation.related_task_id", "names the task itself")],
            )
        relation = relation_pb2.TaskRelation(
            id=new_id(),
            project_id=project_id,
            organization_id=organization_id,
            task_id=task_id,
            related_task_id=related_id,
            kind=draft.kind,
            created_by=principal.subject,
        )
        relation.create_time.FromDatetime(self._clock.now())
        # Under the lock a task delete also takes, so neither task can go in between.
        async with self._links_lock(organization_id, project_id):
            await self._task(organization_id, project_id, task_id)
            if await self._repository.get_task(organization_id, project_id, related_id) is None:
                raise InvalidArgument(
                    "the related task is not in the project",
                    violations=[
                        FieldViolation(
                            "relation.related_task_id",
                            f"no task {related_id} in project {project_id}",
                        )
                    ],
                )
            await self._check_new_relation(relation)
            event = self._events(principal).relation("created", relation)
            return await self._repository.create_relation(relation, event)

    async def _check_new_relation(self, relation: relation_pb2.TaskRelation) -> None:
        existing = await self._repository.task_relations(relation.organization_id, relation.task_id)
        if any(
            known.related_task_id == relation.related_task_id and known.kind == relation.kind
            for known in existing
        ):
            raise AlreadyExists(
                f"task {relation.task_id} already has this relation to task "
                f"{relation.related_task_id}",
                reason="RELATION_EXISTS",
            )
        if relation.kind not in _BLOCKING:
            return
        blocker, blocked = relation.task_id, relation.related_task_id
        if relation.kind == relation_pb2.RELATION_KIND_BLOCKED_BY:
            blocker, blocked = blocked, blocker
        prerequisites = await self._prerequisites(relation.organization_id, relation.project_id)
        # The graph is acyclic, so the new edge closes a cycle only if the blocked task is
        # already (transitively) a prerequisite of its blocker.
        if reaches(prerequisites, [blocker], blocked):
            raise FailedPrecondition(
                f"task {blocker} already waits for task {blocked}; the relation would form a cycle",
                reason="DEPENDENCY_CYCLE",
                violations=[
                    FieldViolation("relation.kind", "the tasks already depend the other way")
                ],
            )

    async def list_relations(
        self, project_id: str, task_id: str
    ) -> list[relation_pb2.TaskRelation]:
        organization_id = current_principal().organization_id
        await self._task(organization_id, project_id, task_id)
        return await self._repository.task_relations(organization_id, task_id)

    async def delete_relation(self, project_id: str, task_id: str, relation_id: str) -> None:
        """Delete a relation named from either of its tasks."""
        principal = current_principal()
        organization_id = principal.organization_id
        relation = await self._repository.get_relation(
            organization_id, project_id, task_id, relation_id
        )
        if relation is None:
            raise NotFound(f"relation {relation_id} not found", reason="RELATION_NOT_FOUND")
        event = self._events(principal).relation("deleted", relation)
        await self._repository.delete_relation(organization_id, relation_id, event)

    async def project_graph(self, project_id: str) -> planning_service_pb2.GetProjectGraphResponse:
        """The project's tasks scheduled in dependency order, with the critical path."""
        organization_id = current_principal().organization_id
        await self._project(organization_id, project_id)
        tasks = await self._repository.graph_tasks(organization_id, project_id)
        blocking = await self._repository.blocking_edges(organization_id, project_id)
        try:
            return graph_of(tasks, blocking)
        except CycleFound as cycle:
            # Writes keep the graph acyclic; only data written around those checks has one.
            raise FailedPrecondition(
                f"the project's dependencies form a cycle through {len(cycle.tasks)} tasks",
                reason="DEPENDENCY_CYCLE",
            ) from None

    async def _prerequisites(self, organization_id: str, project_id: str) -> dict[str, list[str]]:
        """Each task's prerequisites: its dependencies and its blockers."""
        links = await self._repository.task_links(organization_id, project_id)
        return prerequisites_of(links, await self._repository.blockers(organization_id, project_id))


def prerequisites_of(
    links: Mapping[str, TaskLinks], blockers: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Each task's prerequisites: its dependencies and its blockers."""
    return {
        task_id: [*found.depends_on, *blockers.get(task_id, ())] for task_id, found in links.items()
    }


def remaining(task: GraphTask) -> int:
    """The effort a task still takes, in nanoseconds: none once done or when unestimated."""
    if task.status == task_pb2.TASK_STATUS_DONE:
        return 0
    return task.estimate or 0


def graph_of(
    tasks: list[GraphTask], blocking: list[tuple[str, str]]
) -> planning_service_pb2.GetProjectGraphResponse:
    """The scheduled graph of `tasks` with their dependencies and the `(blocker, blocked)`
    relations."""
    known = {task.id: task for task in tasks}
    response = planning_service_pb2.GetProjectGraphResponse()
    prerequisites: dict[str, list[str]] = {}
    for task in tasks:
        for earlier in task.depends_on:
            if earlier in known:
                prerequisites.setdefault(task.id, []).append(earlier)
                response.edges.add(
                    from_task_id=earlier,
                    to_task_id=task.id,
                    source=graph_pb2.EDGE_SOURCE_DEPENDENCY,
                )
    for blocker, blocked in blocking:
        if blocker in known and blocked in known:
            prerequisites.setdefault(blocked, []).append(blocker)
            response.edges.add(
                from_task_id=blocker, to_task_id=blocked, source=graph_pb2.EDGE_SOURCE_RELATION
            )
    durations = {task.id: remaining(task) for task in tasks}
    plan = schedule(durations, prerequisites)
    for task_id in plan.order:
        task = known[task_id]
        node = response.nodes.add(
            task_id=task_id, title=task.title, status=task.status, critical=plan.slack(task_id) == 0
        )
        node.duration.FromNanoseconds(durations[task_id])
        node.earliest_start.FromNanoseconds(plan.earliest_start[task_id])
        node.earliest_finish.FromNanoseconds(plan.earliest_finish[task_id])
        node.latest_finish.FromNanoseconds(plan.latest_finish[task_id])
        node.slack.FromNanoseconds(plan.slack(task_id))
    response.critical_path.extend(plan.critical_path)
    response.earliest_finish.FromNanoseconds(plan.finish)
    return response
