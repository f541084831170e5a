"""Projects: create, read, list, update with a field mask and an etag, delete."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import project_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import create_project, create_task


class TestCreateProject:
    async def test_stores_the_writable_fields_and_sets_the_rest(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        request = api.CreateProjectRequest(
            project=project_pb2.Project(
                id="chosen-by-client",
                organization_id="someone-else",
                created_by="mallory",
                name="Launch",
                description="Ship it",
            )
        )
        response = await stub.CreateProject(request, metadata=auth(token(org, sub="ann")))
        project = response.project
        assert project.id
        assert project.id != "chosen-by-client"
        assert project.organization_id == org
        assert project.created_by == "ann"
        assert (project.name, project.description) == ("Launch", "Ship it")
        assert project.etag
        assert project.create_time.seconds > 0
        assert project.update_time == project.create_time


class TestGetProject:
    async def test_returns_the_stored_project(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org), name="Roadmap")
        response = await stub.GetProject(
            api.GetProjectRequest(project_id=created.id), metadata=auth(token(org))
        )
        assert response.project == created

    async def test_unknown_id_is_not_found(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        call = stub.GetProject(api.GetProjectRequest(project_id="nope"), metadata=auth(token(org)))
        error = await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "PROJECT_NOT_FOUND"


class TestListProjects:
    async def test_pages_newest_first_through_every_project_once(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = [(await create_project(stub, token(org), name=f"p{n}")).id for n in range(7)]
        seen: list[str] = []
        page_token = ""
        while True:
            response = await stub.ListProjects(
                api.ListProjectsRequest(page_size=3, page_token=page_token),
                metadata=auth(token(org)),
            )
            assert len(response.projects) <= 3
            seen += [project.id for project in response.projects]
            page_token = response.next_page_token
            if not page_token:
                break
        assert seen == list(reversed(created))

    async def test_default_page_holds_fifty(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        for n in range(51):
            await create_project(stub, token(org), name=f"p{n}")
        response = await stub.ListProjects(api.ListProjectsRequest(), metadata=auth(token(org)))
        assert len(response.projects) == 50
        assert response.next_page_token

    async def test_a_token_of_another_organization_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        for n in range(2):
            await create_project(stub, token(org), name=f"p{n}")
        first = await stub.ListProjects(
            api.ListProjectsRequest(page_size=1), metadata=auth(token(org))
        )
        call = stub.ListProjects(
            api.ListProjectsRequest(page_size=1, page_token=first.next_page_token),
            metadata=auth(token(org + "-other")),
        )
        error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"page_token"}


class TestUpdateProject:
    async def test_changes_only_the_masked_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org), name="Old", description="Keep me")
        request = api.UpdateProjectRequest(
            project=project_pb2.Project(id=created.id, name="New", description="Dropped"),
            update_mask=FieldMask(paths=["name"]),
        )
        updated = (await stub.UpdateProject(request, metadata=auth(token(org)))).project
        assert (updated.name, updated.description) == ("New", "Keep me")
        assert updated.etag != created.etag
        assert updated.update_time.ToNanoseconds() >= created.update_time.ToNanoseconds()
        assert updated.create_time == created.create_time

    async def test_a_patch_carries_only_the_masked_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org), name="Kept")
        request = api.UpdateProjectRequest(
            project=project_pb2.Project(id=created.id, description="New"),
            update_mask=FieldMask(paths=["description"]),
        )
        updated = (await stub.UpdateProject(request, metadata=auth(token(org)))).project
        assert (updated.name, updated.description) == ("Kept", "New")

    async def test_an_empty_mask_changes_only_the_populated_fields(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org), name="Old", description="Kept")
        request = api.UpdateProjectRequest(project=project_pb2.Project(id=created.id, name="New"))
        updated = (await stub.UpdateProject(request, metadata=auth(token(org)))).project
        assert (updated.name, updated.description) == ("New", "Kept")

    async def test_an_empty_mask_leaves_the_rules_of_unset_fields_alone(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        # `name` (min_len 1) is unset, so it is not changed, so its rule does not apply.
        created = await create_project(stub, token(org), name="Kept", description="Old")
        request = api.UpdateProjectRequest(
            project=project_pb2.Project(id=created.id, description="New")
        )
        updated = (await stub.UpdateProject(request, metadata=auth(token(org)))).project
        assert (updated.name, updated.description) == ("Kept", "New")

    async def test_a_field_named_in_the_mask_is_cleared(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org), name="Old", description="Gone")
        request = api.UpdateProjectRequest(
            project=project_pb2.Project(id=created.id),
            update_mask=FieldMask(paths=["description"]),
        )
        updated = (await stub.UpdateProject(request, metadata=auth(token(org)))).project
        assert (updated.name, updated.description) == ("Old", "")

    async def test_output_only_or_unknown_paths_are_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org))
        for path in ("create_time", "owner", "etag"):
            request = api.UpdateProjectRequest(
                project=project_pb2.Project(id=created.id, name="x"),
                update_mask=FieldMask(paths=[path]),
            )
            call = stub.UpdateProject(request, metadata=auth(token(org)))
            error = await rpc_error(call, grpc.StatusCode.INVALID_ARGUMENT)
            assert violated_fields(error) == {"update_mask"}

    async def test_a_stale_etag_is_aborted_and_nothing_is_written(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org), name="First")
        fresh = api.UpdateProjectRequest(
            project=project_pb2.Project(id=created.id, name="Second", etag=created.etag),
            update_mask=FieldMask(paths=["name"]),
        )
        await stub.UpdateProject(fresh, metadata=auth(token(org)))
        stale = api.UpdateProjectRequest(
            project=project_pb2.Project(id=created.id, name="Third", etag=created.etag),
            update_mask=FieldMask(paths=["name"]),
        )
        call = stub.UpdateProject(stale, metadata=auth(token(org)))
        error = await rpc_error(call, grpc.StatusCode.ABORTED)
        assert error_reason(error) == "ETAG_MISMATCH"
        stored = await stub.GetProject(
            api.GetProjectRequest(project_id=created.id), metadata=auth(token(org))
        )
        assert stored.project.name == "Second"


class TestDeleteProject:
    async def test_deletes_an_empty_project(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org))
        await stub.DeleteProject(
            api.DeleteProjectRequest(project_id=created.id, etag=created.etag),
            metadata=auth(token(org)),
        )
        call = stub.GetProject(
            api.GetProjectRequest(project_id=created.id), metadata=auth(token(org))
        )
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)

    async def test_a_project_with_tasks_needs_force(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org))
        await create_task(stub, token(org), created.id)
        call = stub.DeleteProject(
            api.DeleteProjectRequest(project_id=created.id), metadata=auth(token(org))
        )
        error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
        assert error_reason(error) == "PROJECT_HAS_TASKS"

    async def test_force_deletes_every_task_then_the_project(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org))
        parent = await create_task(stub, token(org), created.id, title="parent")
        tasks = [parent] + [
            await create_task(
                stub,
                token(org),
                created.id,
                parent_task_id=parent.id,
                depends_on_task_ids=[parent.id],
            )
            for _ in range(120)
        ]
        await stub.DeleteProject(
            api.DeleteProjectRequest(project_id=created.id, force=True), metadata=auth(token(org))
        )
        for task in (tasks[0], tasks[60], tasks[-1]):
            call = stub.GetTask(
                api.GetTaskRequest(project_id=created.id, task_id=task.id),
                metadata=auth(token(org)),
            )
            await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        call = stub.GetProject(
            api.GetProjectRequest(project_id=created.id), metadata=auth(token(org))
        )
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)

    async def test_a_stale_etag_is_aborted(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        created = await create_project(stub, token(org))
        await stub.UpdateProject(
            api.UpdateProjectRequest(project=project_pb2.Project(id=created.id, name="changed")),
            metadata=auth(token(org)),
        )
        call = stub.DeleteProject(
            api.DeleteProjectRequest(project_id=created.id, etag=created.etag),
            metadata=auth(token(org)),
        )
        await rpc_error(call, grpc.StatusCode.ABORTED)
