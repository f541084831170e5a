"""WatchProject: the live changes of one project's tasks, with who made them, for its own
organization only; and the project search and filter of ListProjects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from coder.common.v1 import actor_pb2
from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.kit import Resources
from services.kit.bus import MemoryBus
from tests.fixtures.grpc_errors import rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import changed, create_project, create_task, update_task

STEP_TIMEOUT = 10.0


class Watch:
    """One WatchProject call, read message by message with a timeout per message."""

    def __init__(self, call: grpc.aio.UnaryStreamCall) -> None:
        self.call = call
        self._messages: AsyncIterator[api.WatchProjectResponse] = call.__aiter__()

    async def next(self) -> api.WatchProjectResponse:
        return await asyncio.wait_for(anext(self._messages), STEP_TIMEOUT)

    async def started(self) -> Watch:
        first = await self.next()
        assert first.kind == api.TASK_CHANGE_KIND_WATCH_STARTED
        return self


async def watch(stub: PlanningServiceStub, token: str, project_id: str) -> Watch:
    call = stub.WatchProject(api.WatchProjectRequest(project_id=project_id), metadata=auth(token))
    return await Watch(call).started()


class TestChanges:
    async def test_every_kind_of_change_arrives_with_its_actor_and_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        watcher, editor = token(org, sub="wendy"), token(org, sub="eddie")
        project = await create_project(stub, watcher)
        watching = await watch(stub, watcher, project.id)
        try:
            task = await create_task(stub, editor, project.id, title="Draft")
            created = await watching.next()
            assert created.kind == api.TASK_CHANGE_KIND_CREATED
            assert created.task.id == task.id
            assert created.task.title == "Draft"
            assert created.actor.id == "eddie"
            assert created.actor.kind == actor_pb2.ACTOR_KIND_USER
            assert created.event_id
            assert created.HasField("time")

            moved = await update_task(
                stub, editor, changed(task, status=task_pb2.TASK_STATUS_IN_PROGRESS), "status"
            )
            status = await watching.next()
            assert status.kind == api.TASK_CHANGE_KIND_STATUS_CHANGED
            assert status.previous_status == task_pb2.TASK_STATUS_TO_DO
            assert status.task.status == task_pb2.TASK_STATUS_IN_PROGRESS
            assert list(status.changed_fields.paths) == ["status"]

            await update_task(stub, watcher, changed(moved, title="Final"), "title")
            updated = await watching.next()
            assert updated.kind == api.TASK_CHANGE_KIND_UPDATED
            assert list(updated.changed_fields.paths) == ["title"]
            assert updated.actor.id == "wendy"

            await stub.DeleteTask(
                api.DeleteTaskRequest(project_id=project.id, task_id=task.id), metadata=auth(editor)
            )
            deleted = await watching.next()
            assert deleted.kind == api.TASK_CHANGE_KIND_DELETED
            assert deleted.task.id == task.id
            assert created.event_id < status.event_id < updated.event_id < deleted.event_id
        finally:
            watching.call.cancel()

    async def test_only_the_watched_project_and_organization_are_delivered(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        caller = token(org, sub="wendy")
        other_org = f"{org}-other"
        outsider = token(other_org, sub="olga")
        watched = await create_project(stub, caller, name="Watched")
        elsewhere = await create_project(stub, caller, name="Elsewhere")
        foreign = await create_project(stub, outsider, name="Foreign")
        watching = await watch(stub, caller, watched.id)
        try:
            await create_task(stub, caller, elsewhere.id, title="other project")
            await create_task(stub, outsider, foreign.id, title="other organization")
            marker = await create_task(stub, caller, watched.id, title="marker")

            change = await watching.next()
            # The marker was written last; anything that leaked would have come before it.
            assert change.task.id == marker.id
            assert change.task.organization_id == org
        finally:
            watching.call.cancel()

    async def test_two_watchers_of_one_project_each_see_every_change(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        caller = token(org)
        project = await create_project(stub, caller)
        first, second = await watch(stub, caller, project.id), await watch(stub, caller, project.id)
        try:
            task = await create_task(stub, caller, project.id)
            assert (await first.next()).task.id == task.id
            assert (await second.next()).task.id == task.id
        finally:
            first.call.cancel()
            second.call.cancel()


class TestRefusals:
    async def test_another_organizations_project_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        call = stub.WatchProject(
            api.WatchProjectRequest(project_id=project.id), metadata=auth(token(f"{org}-b"))
        )
        await rpc_error(anext(call.__aiter__()), grpc.StatusCode.NOT_FOUND)

    async def test_a_viewer_may_watch_and_an_anonymous_caller_may_not(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        viewing = await watch(stub, token(org, roles=["viewer"]), project.id)
        viewing.call.cancel()
        anonymous = stub.WatchProject(api.WatchProjectRequest(project_id=project.id))
        await rpc_error(anext(anonymous.__aiter__()), grpc.StatusCode.UNAUTHENTICATED)


class TestLifecycle:
    async def test_a_cancelled_watch_leaves_no_queue_behind(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, resources: Resources
    ) -> None:
        bus = resources.bus
        assert isinstance(bus, MemoryBus)
        caller = token(org)
        project = await create_project(stub, caller)
        before = set(bus.queue_names())
        watching = await watch(stub, caller, project.id)
        during = set(bus.queue_names()) - before
        assert len(during) == 1
        assert next(iter(during)).startswith("planning.watch.")

        watching.call.cancel()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        while set(bus.queue_names()) - before:
            if loop.time() > deadline:
                pytest.fail("the watch's queue outlived the call")
            await asyncio.sleep(0.02)


class TestProjectSearch:
    async def test_name_prefix_ignores_case_and_created_by_filters(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        mine, theirs = token(org, sub="me"), token(org, sub="them")
        launch = await create_project(stub, mine, name="Launch plan")
        await create_project(stub, theirs, name="launch party")
        await create_project(stub, mine, name="Roadmap")

        found = await stub.ListProjects(
            api.ListProjectsRequest(name_prefix="LAUNCH"), metadata=auth(mine)
        )
        assert sorted(p.name for p in found.projects) == ["Launch plan", "launch party"]

        both = await stub.ListProjects(
            api.ListProjectsRequest(name_prefix="launch", created_by="me"), metadata=auth(mine)
        )
        assert [p.id for p in both.projects] == [launch.id]
