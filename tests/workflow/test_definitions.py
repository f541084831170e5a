"""Definitions as versioned data: created at revision 1, each change a new revision readable
later, etags guarding concurrent writers, and validation on save naming the bad field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import Metadata
from tests.workflow.factories import definition, gate, timer, wait


class TestRevisions:
    async def test_each_change_is_a_new_revision_and_old_ones_stay_readable(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        created = (
            await stub.CreateDefinition(
                api.CreateDefinitionRequest(definition=definition([timer("pause", 1)])),
                metadata=as_member(),
            )
        ).definition
        assert (created.revision, created.created_by) == (1, "user-1")
        changes = definition([gate("approve")], id=created.id, etag=created.etag)
        updated = (
            await stub.UpdateDefinition(
                api.UpdateDefinitionRequest(
                    definition=changes, update_mask=FieldMask(paths=["steps"])
                ),
                metadata=as_member(),
            )
        ).definition
        assert updated.revision == 2
        first = await stub.GetDefinition(
            api.GetDefinitionRequest(definition_id=created.id, revision=1), metadata=as_member()
        )
        assert [s.name for s in first.definition.steps] == ["pause"]
        revisions = await stub.ListDefinitionRevisions(
            api.ListDefinitionRevisionsRequest(definition_id=created.id), metadata=as_member()
        )
        assert [r.revision for r in revisions.revisions] == [2, 1]

    async def test_a_stale_etag_is_refused(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        created = (
            await stub.CreateDefinition(
                api.CreateDefinitionRequest(definition=definition([timer("pause", 1)])),
                metadata=as_member(),
            )
        ).definition
        await stub.UpdateDefinition(
            api.UpdateDefinitionRequest(definition=definition([timer("p", 2)], id=created.id)),
            metadata=as_member(),
        )
        stale = definition([timer("p", 3)], id=created.id, etag=created.etag)
        await rpc_error(
            stub.UpdateDefinition(
                api.UpdateDefinitionRequest(definition=stale), metadata=as_member()
            ),
            grpc.StatusCode.ABORTED,
        )

    async def test_a_delete_removes_it_and_publishes_the_event(
        self,
        stub: WorkflowServiceStub,
        as_member: Callable[..., Metadata],
        events: EventRecorder,
        org: str,
    ) -> None:
        created = (
            await stub.CreateDefinition(
                api.CreateDefinitionRequest(definition=definition([timer("pause", 1)])),
                metadata=as_member(),
            )
        ).definition
        await stub.DeleteDefinition(
            api.DeleteDefinitionRequest(definition_id=created.id), metadata=as_member()
        )
        await rpc_error(
            stub.GetDefinition(
                api.GetDefinitionRequest(definition_id=created.id), metadata=as_member()
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        published = await events.settle(org, 2)
        assert [e.type for e in published] == [
            "workflow.definition.created",
            "workflow.definition.deleted",
        ]


class TestValidation:
    async def _refused(
        self,
        stub: WorkflowServiceStub,
        metadata: Metadata,
        steps: list[dict[str, Any]],
        **fields: Any,
    ) -> set[str]:
        error = await rpc_error(
            stub.CreateDefinition(
                api.CreateDefinitionRequest(definition=definition(steps, **fields)),
                metadata=metadata,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        return violated_fields(error)

    async def test_step_names_are_unique_across_nested_steps(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        steps = [
            timer("same", 1),
            {"name": "each", "loop": {"items": "input.items", "steps": [timer("same", 1)]}},
        ]
        assert await self._refused(stub, as_member(), steps) == {
            "definition.steps[1].loop.steps[0].name"
        }

    async def test_a_backward_jump_is_refused_as_a_cycle(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        steps = [timer("first", 1), {**timer("second", 1), "next": "first"}]
        assert await self._refused(stub, as_member(), steps) == {"definition.steps[1].next"}

    async def test_a_step_skipped_by_every_path_is_unreachable(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        steps = [{**timer("first", 1), "next": "third"}, timer("second", 1), timer("third", 1)]
        assert await self._refused(stub, as_member(), steps) == {"definition.steps[1]"}

    async def test_a_conditional_jump_keeps_the_next_step_reachable(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        when = {"variable": "input.skip", "operator": "OPERATOR_EXISTS"}
        steps = [
            {**timer("first", 1), "next": "third", "when": when},
            timer("second", 1),
            timer("third", 1),
        ]
        created = await stub.CreateDefinition(
            api.CreateDefinitionRequest(definition=definition(steps)), metadata=as_member()
        )
        assert created.definition.revision == 1

    async def test_the_proto_rules_name_the_field(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        fields = await self._refused(stub, as_member(), [wait("Bad Name", "go")])
        assert fields == {"definition.steps[0].name"}

    async def test_a_schedule_needs_a_calendar_and_a_real_time_zone(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        triggers = [{"name": "nightly", "schedule": {"timeZone": "Mars/Olympus"}}]
        fields = await self._refused(stub, as_member(), [timer("t", 1)], triggers=triggers)
        assert fields == {
            "definition.triggers[0].schedule",
            "definition.triggers[0].schedule.time_zone",
        }

    async def test_a_sub_workflow_must_exist(
        self, stub: WorkflowServiceStub, as_member: Callable[..., Metadata]
    ) -> None:
        steps = [{"name": "child", "subWorkflow": {"definitionId": "nope"}}]
        await rpc_error(
            stub.CreateDefinition(
                api.CreateDefinitionRequest(definition=definition(steps)), metadata=as_member()
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
