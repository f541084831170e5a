"""Status moves: exactly the moves documented on TaskStatus, and the completion time."""

from __future__ import annotations

import grpc
import pytest

from coder.planning.v1 import task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.planning.service import ALLOWED_MOVES
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory
from tests.planning.factories import changed, create_project, create_task, update_task

TO_DO = task_pb2.TASK_STATUS_TO_DO
IN_PROGRESS = task_pb2.TASK_STATUS_IN_PROGRESS
BLOCKED = task_pb2.TASK_STATUS_BLOCKED
REVIEW = task_pb2.TASK_STATUS_REVIEW
DONE = task_pb2.TASK_STATUS_DONE
STATUSES = (TO_DO, IN_PROGRESS, BLOCKED, REVIEW, DONE)

DOCUMENTED = {
    (TO_DO, IN_PROGRESS),
    (TO_DO, BLOCKED),
    (IN_PROGRESS, TO_DO),
    (IN_PROGRESS, BLOCKED),
    (IN_PROGRESS, REVIEW),
    (IN_PROGRESS, DONE),
    (BLOCKED, TO_DO),
    (BLOCKED, IN_PROGRESS),
    (REVIEW, IN_PROGRESS),
    (REVIEW, BLOCKED),
    (REVIEW, DONE),
    (DONE, TO_DO),
    (DONE, IN_PROGRESS),
}
"""Copied from the comment on TaskStatus in task.proto."""

MOVES = [(a, b) for a in STATUSES for b in STATUSES if a != b]


def _name(status: task_pb2.TaskStatus.ValueType) -> str:
    return task_pb2.TaskStatus.Name(status).removeprefix("TASK_STATUS_")


class TestStatusMoves:
    def test_the_rule_table_is_the_documented_one(self) -> None:
        table = {(a, b) for a, targets in ALLOWED_MOVES.items() for b in targets}
        assert table == DOCUMENTED

    @pytest.mark.parametrize(
        ("source", "target"), MOVES, ids=[f"{_name(a)}->{_name(b)}" for a, b in MOVES]
    )
    async def test_each_move_is_allowed_or_refused_as_documented(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        source: task_pb2.TaskStatus.ValueType,
        target: task_pb2.TaskStatus.ValueType,
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, status=source)
        call = update_task(stub, token(org), changed(task, status=target), "status")
        if (source, target) in DOCUMENTED:
            assert (await call).status == target
            return
        error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "STATUS_MOVE_REFUSED"
        assert task_pb2.TaskStatus.Name(source) in error.details()
        assert task_pb2.TaskStatus.Name(target) in error.details()


class TestCompleteTime:
    async def test_is_set_on_done_and_cleared_on_reopen(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, status=IN_PROGRESS)
        assert not task.HasField("complete_time")
        done = await update_task(stub, token(org), changed(task, status=DONE), "status")
        assert done.HasField("complete_time")
        assert done.complete_time == done.update_time
        reopened = await update_task(stub, token(org), changed(done, status=IN_PROGRESS), "status")
        assert not reopened.HasField("complete_time")

    async def test_survives_changes_that_keep_the_task_done(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, status=IN_PROGRESS)
        done = await update_task(stub, token(org), changed(task, status=DONE), "status")
        renamed = await update_task(stub, token(org), changed(done, title="Done, renamed"), "title")
        assert renamed.complete_time == done.complete_time

    async def test_a_task_created_done_is_complete(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id, status=DONE)
        assert task.complete_time == task.create_time
