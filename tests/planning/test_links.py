"""Links between tasks: parents and dependencies stay inside the project and acyclic."""

from __future__ import annotations

import asyncio

import grpc

from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory
from tests.planning.factories import changed, create_project, create_task, update_task


class TestParentTask:
    async def test_a_subtask_names_its_parent(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        parent = await create_task(stub, token(org), project.id)
        child = await create_task(stub, token(org), project.id, parent_task_id=parent.id)
        assert child.parent_task_id == parent.id

    async def test_a_parent_in_another_project_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        elsewhere = await create_task(stub, token(org), (await create_project(stub, token(org))).id)
        call = create_task(stub, token(org), project.id, parent_task_id=elsewhere.id)
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"task.parent_task_id"}

    async def test_a_task_cannot_be_its_own_parent(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        call = update_task(
            stub, token(org), changed(task, parent_task_id=task.id), "parent_task_id"
        )
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"task.parent_task_id"}

    async def test_a_descendant_cannot_become_the_parent(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        top = await create_task(stub, token(org), project.id)
        middle = await create_task(stub, token(org), project.id, parent_task_id=top.id)
        bottom = await create_task(stub, token(org), project.id, parent_task_id=middle.id)
        call = update_task(
            stub, token(org), changed(top, parent_task_id=bottom.id), "parent_task_id"
        )
        error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "PARENT_CYCLE"
        assert violated_fields(error) == {"task.parent_task_id"}

    async def test_a_task_can_move_under_another_branch(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        first = await create_task(stub, token(org), project.id)
        second = await create_task(stub, token(org), project.id)
        child = await create_task(stub, token(org), project.id, parent_task_id=first.id)
        moved = await update_task(
            stub, token(org), changed(child, parent_task_id=second.id), "parent_task_id"
        )
        assert moved.parent_task_id == second.id


class TestDependencies:
    async def test_unknown_dependencies_are_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        known = await create_task(stub, token(org), project.id)
        call = create_task(stub, token(org), project.id, depends_on_task_ids=[known.id, "ghost"])
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"task.depends_on_task_ids"}

    async def test_a_task_cannot_depend_on_itself(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        edit = changed(task, depends_on_task_ids=[task.id])
        call = update_task(stub, token(org), edit, "depends_on_task_ids")
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"task.depends_on_task_ids"}

    async def test_a_cycle_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id, title="a")
        b = await create_task(stub, token(org), project.id, title="b", depends_on_task_ids=[a.id])
        c = await create_task(stub, token(org), project.id, title="c", depends_on_task_ids=[b.id])
        call = update_task(
            stub, token(org), changed(a, depends_on_task_ids=[c.id]), "depends_on_task_ids"
        )
        error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "DEPENDENCY_CYCLE"
        assert violated_fields(error) == {"task.depends_on_task_ids"}

    async def test_a_diamond_is_not_a_cycle(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        base = await create_task(stub, token(org), project.id)
        left = await create_task(stub, token(org), project.id, depends_on_task_ids=[base.id])
        right = await create_task(stub, token(org), project.id, depends_on_task_ids=[base.id])
        top = await create_task(stub, token(org), project.id)
        edit = changed(top, depends_on_task_ids=[left.id, right.id, base.id])
        updated = await update_task(stub, token(org), edit, "depends_on_task_ids")
        assert list(updated.depends_on_task_ids) == [left.id, right.id, base.id]


class TestConcurrentLinkChanges:
    async def test_two_halves_of_a_cycle_cannot_both_land(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        first = await create_task(stub, token(org), project.id)
        second = await create_task(stub, token(org), project.id)
        outcomes = await asyncio.gather(
            update_task(
                stub,
                token(org),
                changed(first, depends_on_task_ids=[second.id]),
                "depends_on_task_ids",
            ),
            update_task(
                stub,
                token(org),
                changed(second, depends_on_task_ids=[first.id]),
                "depends_on_task_ids",
            ),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(refused) == 1, outcomes
        assert refused[0].code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(refused[0]) == "DEPENDENCY_CYCLE"
