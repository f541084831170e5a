"""Relations between tasks: one stored relation answered from both tasks, blocking relations
that stay acyclic with the dependencies, and relations that stay inside a project."""

from __future__ import annotations

import grpc

from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1 import relation_pb2
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import (
    changed,
    create_project,
    create_task,
    relate,
    relations_of,
    update_task,
)

BLOCKS = relation_pb2.RELATION_KIND_BLOCKS
BLOCKED_BY = relation_pb2.RELATION_KIND_BLOCKED_BY
RELATES_TO = relation_pb2.RELATION_KIND_RELATES_TO
DUPLICATES = relation_pb2.RELATION_KIND_DUPLICATES
DUPLICATED_BY = relation_pb2.RELATION_KIND_DUPLICATED_BY


class TestBothDirections:
    async def test_a_relation_is_answered_from_either_task(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id, title="a")
        b = await create_task(stub, token(org), project.id, title="b")
        created = await relate(stub, token(org), a, b, BLOCKS)
        assert (created.task_id, created.related_task_id, created.kind) == (a.id, b.id, BLOCKS)

        [from_b] = await relations_of(stub, token(org), b)
        assert (from_b.id, from_b.task_id, from_b.related_task_id) == (created.id, b.id, a.id)
        assert from_b.kind == BLOCKED_BY
        [from_a] = await relations_of(stub, token(org), a)
        assert from_a == created

    async def test_blocked_by_is_stored_as_blocks_the_other_way(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        b = await create_task(stub, token(org), project.id)
        created = await relate(stub, token(org), b, a, BLOCKED_BY)
        assert created.kind == BLOCKED_BY
        [from_a] = await relations_of(stub, token(org), a)
        assert (from_a.related_task_id, from_a.kind) == (b.id, BLOCKS)
        # The same relation asked for again, from the other side, is a repeat.
        error = await rpc_error(
            relate(stub, token(org), a, b, BLOCKS), grpc.StatusCode.ALREADY_EXISTS
        )
        assert error_reason(error) == "RELATION_EXISTS"

    async def test_duplicates_and_relates_read_from_each_side(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        b = await create_task(stub, token(org), project.id)
        await relate(stub, token(org), a, b, DUPLICATES)
        await relate(stub, token(org), b, a, RELATES_TO)
        assert [r.kind for r in await relations_of(stub, token(org), a)] == [DUPLICATES, RELATES_TO]
        assert [r.kind for r in await relations_of(stub, token(org), b)] == [
            DUPLICATED_BY,
            RELATES_TO,
        ]

    async def test_a_relation_is_deleted_from_either_task(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        b = await create_task(stub, token(org), project.id)
        c = await create_task(stub, token(org), project.id)
        relation = await relate(stub, token(org), a, b, RELATES_TO)
        wrong_task = api.DeleteTaskRelationRequest(
            project_id=project.id, task_id=c.id, relation_id=relation.id
        )
        await rpc_error(
            stub.DeleteTaskRelation(wrong_task, metadata=auth(token(org))),
            grpc.StatusCode.NOT_FOUND,
        )
        await stub.DeleteTaskRelation(
            api.DeleteTaskRelationRequest(
                project_id=project.id, task_id=b.id, relation_id=relation.id
            ),
            metadata=auth(token(org)),
        )
        assert await relations_of(stub, token(org), a) == []


class TestRefusals:
    async def test_a_task_in_another_project_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        elsewhere = await create_task(stub, token(org), (await create_project(stub, token(org))).id)
        error = await rpc_error(
            relate(stub, token(org), a, elsewhere, RELATES_TO), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"relation.related_task_id"}

    async def test_another_organizations_task_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        theirs = await create_task(
            stub, token(org + "-b"), (await create_project(stub, token(org + "-b"))).id
        )
        mine = await create_task(stub, token(org), (await create_project(stub, token(org))).id)
        await rpc_error(
            relate(stub, token(org), mine, theirs, BLOCKS), grpc.StatusCode.INVALID_ARGUMENT
        )
        await rpc_error(relate(stub, token(org), theirs, mine, BLOCKS), grpc.StatusCode.NOT_FOUND)

    async def test_a_task_cannot_relate_to_itself(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        task = await create_task(stub, token(org), (await create_project(stub, token(org))).id)
        error = await rpc_error(
            relate(stub, token(org), task, task, RELATES_TO), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"relation.related_task_id"}

    async def test_a_blocking_cycle_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        b = await create_task(stub, token(org), project.id)
        c = await create_task(stub, token(org), project.id)
        await relate(stub, token(org), a, b, BLOCKS)
        await relate(stub, token(org), b, c, BLOCKS)
        error = await rpc_error(
            relate(stub, token(org), a, c, BLOCKED_BY), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert error_reason(error) == "DEPENDENCY_CYCLE"
        # Relating and duplicating have no order, so they close no cycle.
        await relate(stub, token(org), c, a, RELATES_TO)

    async def test_a_cycle_through_a_dependency_and_a_relation_is_refused(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        b = await create_task(stub, token(org), project.id, depends_on_task_ids=[a.id])
        error = await rpc_error(
            relate(stub, token(org), b, a, BLOCKS), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert error_reason(error) == "DEPENDENCY_CYCLE"

        c = await create_task(stub, token(org), project.id)
        await relate(stub, token(org), b, c, BLOCKS)
        edit = changed(a, depends_on_task_ids=[c.id])
        error = await rpc_error(
            update_task(stub, token(org), edit, "depends_on_task_ids"),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "DEPENDENCY_CYCLE"


class TestDeletedTasks:
    async def test_deleting_a_task_deletes_its_relations(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        project = await create_project(stub, token(org))
        a = await create_task(stub, token(org), project.id)
        b = await create_task(stub, token(org), project.id)
        relation = await relate(stub, token(org), a, b, BLOCKS)
        await stub.DeleteTask(
            api.DeleteTaskRequest(project_id=project.id, task_id=b.id), metadata=auth(token(org))
        )
        assert await relations_of(stub, token(org), a) == []
        received = await events.settle(org, 6)
        relation_events = [e for e in received if e.type.startswith("planning.relation.")]
        assert [(e.type, e.subject) for e in relation_events] == [
            ("planning.relation.created", relation.id),
            ("planning.relation.deleted", relation.id),
        ]
