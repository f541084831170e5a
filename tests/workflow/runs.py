"""Helpers of the run tests: create a definition, start it, wait for a status."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from coder.workflow.v1 import run_pb2
from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from tests.fixtures.tokens import Metadata
from tests.fixtures.waiting import eventually
from tests.workflow.factories import definition


async def create(
    stub: WorkflowServiceStub, metadata: Metadata, steps: list[dict[str, Any]], **fields: Any
) -> str:
    request = api.CreateDefinitionRequest(definition=definition(steps, **fields))
    created = await stub.CreateDefinition(request, metadata=metadata)
    return str(created.definition.id)


async def start(
    stub: WorkflowServiceStub,
    metadata: Metadata,
    definition_id: str,
    given: dict[str, Any] | None = None,
) -> str:
    request = api.StartRunRequest(definition_id=definition_id)
    json_format.ParseDict(given or {}, request.input)
    started = await stub.StartRun(request, metadata=metadata)
    return str(started.run.id)


async def reached(
    stub: WorkflowServiceStub,
    metadata: Metadata,
    run_id: str,
    status: run_pb2.RunStatus.ValueType,
    *,
    within: float = 30,
) -> run_pb2.Run:
    """The run once GetRun answers `status`."""
    seen: list[run_pb2.Run] = []

    async def there() -> bool:
        run = (await stub.GetRun(api.GetRunRequest(run_id=run_id), metadata=metadata)).run
        seen.append(run)
        return bool(run.status == status)

    try:
        await eventually(there, within=within, interval=0.1)
    except AssertionError:
        raise AssertionError(f"run {run_id} never reached {status}: last {seen[-1:]}") from None
    return seen[-1]
