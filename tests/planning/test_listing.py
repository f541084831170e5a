"""ListTasks: filters, ordering, and paging bound to the query."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from coder.common.v1 import paging_pb2
from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import project_pb2, task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import create_project, create_task, update_task

HOUR = 3600
BASE = 1_900_000_000

ASC = paging_pb2.SORT_DIRECTION_ASCENDING
DESC = paging_pb2.SORT_DIRECTION_DESCENDING


async def list_all(
    stub: PlanningServiceStub, token: str, request: api.ListTasksRequest
) -> list[task_pb2.Task]:
    """Every task of a listing, page after page."""
    tasks: list[task_pb2.Task] = []
    while True:
        response = await stub.ListTasks(request, metadata=auth(token))
        tasks += response.tasks
        if not response.next_page_token:
            return tasks
        request.page_token = response.next_page_token


def titles(tasks: Sequence[task_pb2.Task]) -> list[str]:
    return [task.title for task in tasks]


@pytest.fixture
async def board(
    stub: PlanningServiceStub, token: TokenFactory, org: str
) -> tuple[project_pb2.Project, dict[str, task_pb2.Task]]:
    """A project with a spread of tasks, created in title order."""
    project = await create_project(stub, token(org))
    made: dict[str, task_pb2.Task] = {}
    made["t0"] = await create_task(
        stub,
        token(org),
        project.id,
        title="t0",
        priority=task_pb2.TASK_PRIORITY_LOW,
        assignee_id="ann",
        labels=["api"],
        due_time=Timestamp(seconds=BASE + 3 * HOUR),
    )
    made["t1"] = await create_task(
        stub,
        token(org),
        project.id,
        title="t1",
        priority=task_pb2.TASK_PRIORITY_URGENT,
        status=task_pb2.TASK_STATUS_IN_PROGRESS,
        assignee_id="bob",
        labels=["api", "ui"],
        due_time=Timestamp(seconds=BASE + 1 * HOUR),
    )
    made["t2"] = await create_task(
        stub,
        token(org),
        project.id,
        title="t2",
        priority=task_pb2.TASK_PRIORITY_HIGH,
        status=task_pb2.TASK_STATUS_BLOCKED,
        assignee_id="ann",
        labels=["ui"],
        parent_task_id=made["t0"].id,
        due_time=Timestamp(seconds=BASE + 2 * HOUR),
    )
    made["t3"] = await create_task(
        stub,
        token(org),
        project.id,
        title="t3",
        status=task_pb2.TASK_STATUS_DONE,
        parent_task_id=made["t0"].id,
    )
    return project, made


class TestListTasksFilters:
    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({}, ["t0", "t1", "t2", "t3"]),
            ({"statuses": [task_pb2.TASK_STATUS_TO_DO]}, ["t0"]),
            (
                {"statuses": [task_pb2.TASK_STATUS_BLOCKED, task_pb2.TASK_STATUS_DONE]},
                ["t2", "t3"],
            ),
            ({"assignee_id": "ann"}, ["t0", "t2"]),
            ({"label": "ui"}, ["t1", "t2"]),
            ({"priority": task_pb2.TASK_PRIORITY_MEDIUM}, ["t3"]),
            ({"assignee_id": "ann", "label": "api"}, ["t0"]),
            ({"due_before": Timestamp(seconds=BASE + 2 * HOUR)}, ["t1"]),
            ({"due_after": Timestamp(seconds=BASE + 2 * HOUR)}, ["t0", "t2"]),
            (
                {
                    "due_after": Timestamp(seconds=BASE + HOUR),
                    "due_before": Timestamp(seconds=BASE + 3 * HOUR),
                },
                ["t1", "t2"],
            ),
        ],
        ids=lambda value: str(value) if isinstance(value, list) else None,
    )
    async def test_keeps_only_matching_tasks(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        board: tuple[project_pb2.Project, dict[str, task_pb2.Task]],
        filters: dict[str, object],
        expected: list[str],
    ) -> None:
        project, _ = board
        request = api.ListTasksRequest(project_id=project.id, direction=ASC, **filters)  # type: ignore[arg-type]
        assert titles(await list_all(stub, token(org), request)) == expected

    async def test_parent_filter_lists_the_subtasks(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        board: tuple[project_pb2.Project, dict[str, task_pb2.Task]],
    ) -> None:
        project, made = board
        request = api.ListTasksRequest(
            project_id=project.id, parent_task_id=made["t0"].id, direction=ASC
        )
        assert titles(await list_all(stub, token(org), request)) == ["t2", "t3"]

    async def test_a_missing_project_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        call = stub.ListTasks(api.ListTasksRequest(project_id="nowhere"), metadata=auth(token(org)))
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)


class TestListTasksOrder:
    @pytest.mark.parametrize(
        ("order_by", "direction", "expected"),
        [
            (
                api.TASK_ORDER_BY_UNSPECIFIED,
                paging_pb2.SORT_DIRECTION_UNSPECIFIED,
                ["t3", "t2", "t1", "t0"],
            ),
            (api.TASK_ORDER_BY_CREATE_TIME, ASC, ["t0", "t1", "t2", "t3"]),
            (api.TASK_ORDER_BY_PRIORITY, DESC, ["t1", "t2", "t3", "t0"]),
            (api.TASK_ORDER_BY_PRIORITY, ASC, ["t0", "t3", "t2", "t1"]),
            (api.TASK_ORDER_BY_DUE_TIME, ASC, ["t3", "t1", "t2", "t0"]),
            (api.TASK_ORDER_BY_DUE_TIME, DESC, ["t0", "t2", "t1", "t3"]),
            (api.TASK_ORDER_BY_UPDATE_TIME, DESC, ["t3", "t2", "t1", "t0"]),
        ],
    )
    async def test_sorts_by_the_requested_field(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        board: tuple[project_pb2.Project, dict[str, task_pb2.Task]],
        order_by: int,
        direction: int,
        expected: list[str],
    ) -> None:
        project, _ = board
        request = api.ListTasksRequest(
            project_id=project.id,
            order_by=order_by,  # type: ignore[arg-type]
            direction=direction,  # type: ignore[arg-type]
            page_size=2,
        )
        assert titles(await list_all(stub, token(org), request)) == expected


class TestListedVersions:
    async def test_a_page_answers_each_task_as_last_written(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        # Pages answer remembered messages (one per stored version): a page read after each
        # of two moves answers that move's version, which the next move may send as its etag.
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        request = api.ListTasksRequest(project_id=project.id)
        for status in (task_pb2.TASK_STATUS_IN_PROGRESS, task_pb2.TASK_STATUS_TO_DO):
            [before] = await list_all(stub, token(org), request)
            assert before.etag == task.etag
            move = task_pb2.Task(
                id=before.id, project_id=before.project_id, etag=before.etag, status=status
            )
            task = await update_task(stub, token(org), move, "status")
            [after] = await list_all(stub, token(org), request)
            assert (after.status, after.etag) == (status, task.etag)
            assert after.update_time == task.update_time


class TestListTasksPaging:
    async def test_pages_through_every_task_exactly_once(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        created = {
            (await create_task(stub, token(org), project.id, priority=1 + n % 4)).id
            for n in range(23)
        }
        request = api.ListTasksRequest(
            project_id=project.id, page_size=5, order_by=api.TASK_ORDER_BY_PRIORITY
        )
        listed = [task.id for task in await list_all(stub, token(org), request)]
        assert len(listed) == len(created)
        assert set(listed) == created

    async def test_page_size_zero_means_fifty(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        for _ in range(51):
            await create_task(stub, token(org), project.id)
        response = await stub.ListTasks(
            api.ListTasksRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert len(response.tasks) == 50
        assert response.next_page_token

    async def test_a_token_from_other_filters_is_refused(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        board: tuple[project_pb2.Project, dict[str, task_pb2.Task]],
    ) -> None:
        project, _ = board
        first = await stub.ListTasks(
            api.ListTasksRequest(project_id=project.id, page_size=1), metadata=auth(token(org))
        )
        assert first.next_page_token
        for other in (
            api.ListTasksRequest(project_id=project.id, label="api"),
            api.ListTasksRequest(project_id=project.id, direction=ASC),
            api.ListTasksRequest(project_id=project.id, order_by=api.TASK_ORDER_BY_PRIORITY),
        ):
            other.page_token = first.next_page_token
            call = stub.ListTasks(other, metadata=auth(token(org)))
            error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
            assert violated_fields(error) == {"page_token"}

    async def test_a_made_up_token_is_refused(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        board: tuple[project_pb2.Project, dict[str, task_pb2.Task]],
    ) -> None:
        project, _ = board
        for made_up in ("not a token!", "AAAA", "x" * 64):
            call = stub.ListTasks(
                api.ListTasksRequest(project_id=project.id, page_token=made_up),
                metadata=auth(token(org)),
            )
            error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
            assert violated_fields(error) == {"page_token"}

    async def test_the_page_size_may_change_between_pages(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        board: tuple[project_pb2.Project, dict[str, task_pb2.Task]],
    ) -> None:
        project, _ = board
        first = await stub.ListTasks(
            api.ListTasksRequest(project_id=project.id, page_size=1, direction=ASC),
            metadata=auth(token(org)),
        )
        rest = await stub.ListTasks(
            api.ListTasksRequest(
                project_id=project.id, page_size=10, direction=ASC, page_token=first.next_page_token
            ),
            metadata=auth(token(org)),
        )
        assert titles([*first.tasks, *rest.tasks]) == ["t0", "t1", "t2", "t3"]
