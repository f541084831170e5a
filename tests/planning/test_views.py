"""Saved views: a named filter and order of a project's tasks, listed as ListTasks lists."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.common.v1 import paging_pb2
from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import create_project, create_task

URGENT = task_pb2.TASK_PRIORITY_URGENT


async def view_tasks(
    stub: PlanningServiceStub, member: str, project_id: str, view_id: str, **paging: object
) -> api.ListViewTasksResponse:
    request = api.ListViewTasksRequest(project_id=project_id, view_id=view_id, **paging)  # type: ignore[arg-type]
    response: api.ListViewTasksResponse = await stub.ListViewTasks(request, metadata=auth(member))
    return response


class TestViews:
    async def test_a_view_lists_the_tasks_its_query_selects_in_its_order(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        project = await create_project(stub, member)
        first = await create_task(stub, member, project.id, title="first", labels=["ui"])
        await create_task(stub, member, project.id, title="no label")
        second = await create_task(
            stub, member, project.id, title="second", labels=["ui"], priority=URGENT
        )
        query = api.TaskQuery(
            label="ui",
            order_by=api.TASK_ORDER_BY_CREATE_TIME,
            direction=paging_pb2.SORT_DIRECTION_ASCENDING,
        )
        view = (
            await stub.CreateView(
                api.CreateViewRequest(
                    project_id=project.id, view=api.View(name="UI work", query=query)
                ),
                metadata=auth(member),
            )
        ).view
        listed = await view_tasks(stub, member, project.id, view.id)
        assert [t.id for t in listed.tasks] == [first.id, second.id]

        paged = await view_tasks(stub, member, project.id, view.id, page_size=1)
        assert [t.id for t in paged.tasks] == [first.id]
        rest = await view_tasks(
            stub, member, project.id, view.id, page_size=1, page_token=paged.next_page_token
        )
        assert [t.id for t in rest.tasks] == [second.id]

        edit = api.View(
            id=view.id,
            project_id=project.id,
            query=api.TaskQuery(label="ui", order_by=api.TASK_ORDER_BY_PRIORITY),
        )
        await stub.UpdateView(
            api.UpdateViewRequest(view=edit, update_mask=FieldMask(paths=["query"])),
            metadata=auth(member),
        )
        reordered = await view_tasks(stub, member, project.id, view.id)
        assert [t.id for t in reordered.tasks] == [second.id, first.id]
        # A page token of the view as it was is refused: the order changed under it.
        error = await rpc_error(
            view_tasks(
                stub, member, project.id, view.id, page_size=1, page_token=paged.next_page_token
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "PAGE_TOKEN_INVALID"

    async def test_views_are_listed_by_name_and_deleted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        project = await create_project(stub, member)
        for name in ("backlog", "Active"):
            await stub.CreateView(
                api.CreateViewRequest(project_id=project.id, view=api.View(name=name)),
                metadata=auth(member),
            )
        listed = await stub.ListViews(
            api.ListViewsRequest(project_id=project.id), metadata=auth(member)
        )
        assert [v.name for v in listed.views] == ["Active", "backlog"]
        await stub.DeleteView(
            api.DeleteViewRequest(project_id=project.id, view_id=listed.views[0].id),
            metadata=auth(member),
        )
        await rpc_error(
            stub.GetView(
                api.GetViewRequest(project_id=project.id, view_id=listed.views[0].id),
                metadata=auth(member),
            ),
            grpc.StatusCode.NOT_FOUND,
        )

    async def test_another_organizations_view_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        theirs = token(org + "-b")
        project = await create_project(stub, theirs)
        view = (
            await stub.CreateView(
                api.CreateViewRequest(project_id=project.id, view=api.View(name="B's")),
                metadata=auth(theirs),
            )
        ).view
        await rpc_error(
            view_tasks(stub, token(org), project.id, view.id), grpc.StatusCode.NOT_FOUND
        )
