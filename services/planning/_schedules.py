"""Milestones and cycles of a project, and the burndown of a cycle.

A task names its milestone and cycle (`Task.milestone_id`, `Task.cycle_id`); a milestone or a
cycle that tasks still name is not deleted. The burndown reads the cycle's tasks: their
estimates and when each was done (`complete_time`, the last move to done), so a task reopened
counts as not done on every day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from google.protobuf.field_mask_pb2 import FieldMask

from coder.planning.v1 import planning_service_pb2, schedule_pb2
from services.kit import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    check_etag,
    check_time_range,
    current_principal,
    new_id,
    parse_time_text,
    require_field,
    update_paths,
)
from services.planning._context import PlanningScope
from services.planning.repository import GraphTask

MILESTONE_WRITABLE = ("name", "description", "target_time")
CYCLE_WRITABLE = ("name", "goal", "start_time", "end_time")
OUTPUT_ONLY = frozenset(
    {"id", "project_id", "organization_id", "created_by", "create_time", "update_time"}
)
LONGEST_CYCLE = timedelta(days=366)
DAY = timedelta(days=1)


class ScheduleRules(PlanningScope):
    """Milestones and cycles of the caller's organization's projects."""

    # --- milestones ----------------------------------------------------------------------------

    async def create_milestone(
        self, project_id: str, draft: schedule_pb2.Milestone
    ) -> schedule_pb2.Milestone:
        principal = current_principal()
        check_time_range(draft, ("target_time",), "milestone.")
        await self._project(principal.organization_id, project_id)
        milestone = schedule_pb2.Milestone(
            id=new_id(),
            project_id=project_id,
            organization_id=principal.organization_id,
            created_by=principal.subject,
        )
        FieldMask(paths=MILESTONE_WRITABLE).MergeMessage(draft, milestone)
        milestone.create_time.FromDatetime(self._clock.now())
        milestone.update_time.CopyFrom(milestone.create_time)
        event = self._events(principal).milestone("created", milestone)
        return await self._repository.milestones.create(milestone, event)

    async def get_milestone(self, project_id: str, milestone_id: str) -> schedule_pb2.Milestone:
        return await self._milestone(current_principal().organization_id, project_id, milestone_id)

    async def list_milestones(
        self, request: planning_service_pb2.ListMilestonesRequest
    ) -> tuple[list[schedule_pb2.Milestone], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        await self._project(organization_id, request.project_id)
        milestones, continuation = await self._repository.list_milestones(
            organization_id, request.project_id, page.size, page.continuation
        )
        return milestones, page.seal(continuation)

    async def update_milestone(
        self, changes: schedule_pb2.Milestone, mask: FieldMask
    ) -> schedule_pb2.Milestone:
        paths = update_paths(
            mask, changes, "milestone", MILESTONE_WRITABLE, output_only=OUTPUT_ONLY
        )
        require_field(changes.project_id, "milestone.project_id", "name what to update")
        require_field(changes.id, "milestone.id", "name what to update")
        if "target_time" in paths:
            check_time_range(changes, ("target_time",), "milestone.")
        return await self._update_scoped(
            changes,
            paths,
            "milestone",
            self._milestone,
            self._repository.milestones,
            lambda events, milestone, changed: events.milestone("updated", milestone, changed),
        )

    async def delete_milestone(self, project_id: str, milestone_id: str, etag: str) -> None:
        """Delete a milestone no task of the project counts towards."""
        principal = current_principal()
        organization_id = principal.organization_id
        milestone = await self._milestone(organization_id, project_id, milestone_id)
        check_etag(etag, milestone.etag, "milestone")
        if await self._repository.tasks_in(
            organization_id, project_id, "milestoneId", milestone_id
        ):
            raise FailedPrecondition(
                f"tasks still count towards milestone {milestone_id}; move them first",
                reason="MILESTONE_HAS_TASKS",
            )
        event = self._events(principal).milestone("deleted", milestone)
        await self._repository.milestones.delete(
            organization_id, milestone_id, milestone.etag, event
        )

    async def _milestone(
        self, organization_id: str, project_id: str, milestone_id: str
    ) -> schedule_pb2.Milestone:
        milestone = await self._repository.milestones.get(organization_id, project_id, milestone_id)
        if milestone is None:
            raise NotFound(f"milestone {milestone_id} not found", reason="MILESTONE_NOT_FOUND")
        return milestone

    # --- cycles --------------------------------------------------------------------------------

    async def create_cycle(self, project_id: str, draft: schedule_pb2.Cycle) -> schedule_pb2.Cycle:
        principal = current_principal()
        _check_cycle_times(draft)
        await self._project(principal.organization_id, project_id)
        cycle = schedule_pb2.Cycle(
            id=new_id(),
            project_id=project_id,
            organization_id=principal.organization_id,
            created_by=principal.subject,
        )
        FieldMask(paths=CYCLE_WRITABLE).MergeMessage(draft, cycle)
        cycle.create_time.FromDatetime(self._clock.now())
        cycle.update_time.CopyFrom(cycle.create_time)
        event = self._events(principal).cycle("created", cycle)
        return await self._repository.cycles.create(cycle, event)

    async def get_cycle(self, project_id: str, cycle_id: str) -> schedule_pb2.Cycle:
        return await self._cycle(current_principal().organization_id, project_id, cycle_id)

    async def list_cycles(
        self, request: planning_service_pb2.ListCyclesRequest
    ) -> tuple[list[schedule_pb2.Cycle], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        await self._project(organization_id, request.project_id)
        cycles, continuation = await self._repository.list_cycles(
            organization_id, request.project_id, page.size, page.continuation
        )
        return cycles, page.seal(continuation)

    async def update_cycle(
        self, changes: schedule_pb2.Cycle, mask: FieldMask
    ) -> schedule_pb2.Cycle:
        paths = update_paths(mask, changes, "cycle", CYCLE_WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.project_id, "cycle.project_id", "name what to update")
        require_field(changes.id, "cycle.id", "name what to update")
        return await self._update_scoped(
            changes,
            paths,
            "cycle",
            self._cycle,
            self._repository.cycles,
            lambda events, cycle, changed: events.cycle("updated", cycle, changed),
            check=_check_cycle_times,
        )

    async def delete_cycle(self, project_id: str, cycle_id: str, etag: str) -> None:
        """Delete a cycle no task of the project is planned into."""
        principal = current_principal()
        organization_id = principal.organization_id
        cycle = await self._cycle(organization_id, project_id, cycle_id)
        check_etag(etag, cycle.etag, "cycle")
        if await self._repository.tasks_in(organization_id, project_id, "cycleId", cycle_id):
            raise FailedPrecondition(
                f"tasks are still planned into cycle {cycle_id}; move them first",
                reason="CYCLE_HAS_TASKS",
            )
        event = self._events(principal).cycle("deleted", cycle)
        await self._repository.cycles.delete(organization_id, cycle_id, cycle.etag, event)

    async def cycle_burndown(
        self, project_id: str, cycle_id: str
    ) -> planning_service_pb2.GetCycleBurndownResponse:
        """The cycle's work left at its start and at the end of each of its days so far."""
        organization_id = current_principal().organization_id
        cycle = await self._cycle(organization_id, project_id, cycle_id)
        tasks = await self._repository.graph_tasks(organization_id, project_id, cycle_id)
        return burndown(cycle, tasks, self._clock.now())

    async def _cycle(
        self, organization_id: str, project_id: str, cycle_id: str
    ) -> schedule_pb2.Cycle:
        cycle = await self._repository.cycles.get(organization_id, project_id, cycle_id)
        if cycle is None:
            raise NotFound(f"cycle {cycle_id} not found", reason="CYCLE_NOT_FOUND")
        return cycle


def _check_cycle_times(cycle: schedule_pb2.Cycle) -> None:
    check_time_range(cycle, ("start_time", "end_time"), "cycle.")
    length = cycle.end_time.ToDatetime() - cycle.start_time.ToDatetime()
    if length <= timedelta(0):
        problem = "must be after start_time"
    elif length > LONGEST_CYCLE:
        problem = "a cycle lasts at most 366 days"
    else:
        return
    raise InvalidArgument(
        "the cycle's times are invalid", violations=[FieldViolation("cycle.end_time", problem)]
    )


def burndown(
    cycle: schedule_pb2.Cycle, tasks: Sequence[GraphTask], now: datetime
) -> planning_service_pb2.GetCycleBurndownResponse:
    """The burndown of `cycle` whose tasks are `tasks`, as it stands at `now`: a point at the
    start, then one at the end of each day (the last at the cycle's end) up to `now`."""
    start = cycle.start_time.ToDatetime()
    end = cycle.end_time.ToDatetime()
    now = now.replace(tzinfo=None)
    estimates = [task.estimate or 0 for task in tasks]
    done_at = [
        None
        if task.complete_time is None
        else parse_time_text(task.complete_time).replace(tzinfo=None)
        for task in tasks
    ]
    total = sum(estimates)
    response = planning_service_pb2.GetCycleBurndownResponse(total_tasks=len(tasks))
    response.total_estimate.FromNanoseconds(total)
    moment = start
    while moment <= now:
        remaining = [
            e for e, done in zip(estimates, done_at, strict=True) if done is None or done > moment
        ]
        point = response.points.add(remaining_tasks=len(remaining))
        point.time.FromDatetime(moment)
        point.remaining_estimate.FromNanoseconds(sum(remaining))
        elapsed = (moment - start) / (end - start)
        point.ideal_estimate.FromNanoseconds(round(total * (1 - elapsed)))
        if moment >= end:
            break
        moment = min(moment + DAY, end)
    return response
