"""Storage: the document form of tasks, and bus documents kept out of entity reads."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import task_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.kit import Resources, timestamp_text
from services.kit.bus import DOC_TYPE_FIELD
from services.planning._mapping import task_document, task_from_document
from tests.fixtures.grpc_errors import rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import create_project, create_task

YEAR_FIVE = Timestamp()
YEAR_FIVE.FromDatetime(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC))
YEAR_FIVE.nanos = 1


class TestTaskDocument:
    def test_round_trips_every_field(self) -> None:
        task = task_pb2.Task(
            id="t",
            project_id="p",
            organization_id="o",
            title="title",
            description="d",
            status=task_pb2.TASK_STATUS_REVIEW,
            priority=task_pb2.TASK_PRIORITY_HIGH,
            assignee_id="a",
            labels=["x", "y"],
            due_time=YEAR_FIVE,
            estimate=Duration(seconds=90, nanos=5),
            parent_task_id="parent",
            depends_on_task_ids=["d1", "d2"],
            created_by="c",
            create_time=Timestamp(seconds=1_700_000_000, nanos=999_999_999),
            update_time=Timestamp(seconds=1_700_000_001),
            complete_time=Timestamp(seconds=253_402_300_799),
        )
        document = task_document(task)
        assert document["dueTime"] == "0005-01-02T03:04:05.000000001Z"
        assert task_from_document(document) == task

    def test_times_sort_as_text_in_time_order(self) -> None:
        moments = [
            Timestamp(seconds=-62_135_596_800),
            Timestamp(seconds=-1, nanos=999_999_999),
            Timestamp(seconds=0),
            Timestamp(seconds=0, nanos=1),
            Timestamp(seconds=1_700_000_000),
            Timestamp(seconds=253_402_300_799, nanos=999_999_999),
        ]
        texts = [timestamp_text(moment) for moment in moments]
        assert sorted(texts) == texts

    def test_an_unset_time_is_stored_as_null(self) -> None:
        document = task_document(task_pb2.Task(id="t", title="x"))
        assert document["dueTime"] is None
        assert document["completeTime"] is None
        assert document["estimate"] is None


class TestBusDocumentsAreInvisible:
    """Bus documents share the containers; every entity read must skip them."""

    async def test_listings_and_reads_skip_them(
        self,
        stub: PlanningServiceStub,
        token: TokenFactory,
        org: str,
        resources: Resources,
    ) -> None:
        project = await create_project(stub, token(org))
        task = await create_task(stub, token(org), project.id)
        # A marker the outbox relay leaves alone, so it stays put while the test reads.
        marker = {DOC_TYPE_FIELD: "test-marker", "projectId": project.id, "createTime": "9"}
        await resources.store.container("projects").create(org, {"id": "marker-p", **marker})
        await resources.store.container("tasks").create(org, {"id": "marker-t", **marker})

        projects = await stub.ListProjects(api.ListProjectsRequest(), metadata=auth(token(org)))
        assert [p.id for p in projects.projects] == [project.id]
        tasks = await stub.ListTasks(
            api.ListTasksRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert [t.id for t in tasks.tasks] == [task.id]
        call = stub.GetProject(
            api.GetProjectRequest(project_id="marker-p"), metadata=auth(token(org))
        )
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        call = stub.GetTask(
            api.GetTaskRequest(project_id=project.id, task_id="marker-t"), metadata=auth(token(org))
        )
        await rpc_error(call, grpc.StatusCode.NOT_FOUND)
