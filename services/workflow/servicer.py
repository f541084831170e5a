"""The gRPC adapter of the workflow service: unpack the request, call the domain, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

import grpc
from google.protobuf import json_format

from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1 import workflow_service_pb2_grpc
from services.workflow.service import WorkflowDomain

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
"""The Standard Webhooks headers, which reach the service as gRPC metadata."""


class WorkflowServicer(workflow_service_pb2_grpc.WorkflowServiceServicer):
    """coder.workflow.v1.WorkflowService."""

    def __init__(self, domain: WorkflowDomain) -> None:
        self._domain = domain

    async def CreateDefinition(
        self, request: api.CreateDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateDefinitionResponse:
        definition = await self._domain.create_definition(request.definition)
        return api.CreateDefinitionResponse(definition=definition)

    async def GetDefinition(
        self, request: api.GetDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> api.GetDefinitionResponse:
        definition = await self._domain.get_definition(request.definition_id, request.revision)
        return api.GetDefinitionResponse(definition=definition)

    async def ListDefinitions(
        self, request: api.ListDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListDefinitionsResponse:
        definitions, token = await self._domain.list_definitions(request)
        return api.ListDefinitionsResponse(definitions=definitions, next_page_token=token)

    async def ListDefinitionRevisions(
        self, request: api.ListDefinitionRevisionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListDefinitionRevisionsResponse:
        revisions, token = await self._domain.list_revisions(request)
        return api.ListDefinitionRevisionsResponse(revisions=revisions, next_page_token=token)

    async def UpdateDefinition(
        self, request: api.UpdateDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateDefinitionResponse:
        definition = await self._domain.update_definition(request.definition, request.update_mask)
        return api.UpdateDefinitionResponse(definition=definition)

    async def DeleteDefinition(
        self, request: api.DeleteDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteDefinitionResponse:
        await self._domain.delete_definition(request.definition_id, request.etag)
        return api.DeleteDefinitionResponse()

    async def PauseSchedule(
        self, request: api.PauseScheduleRequest, context: grpc.aio.ServicerContext
    ) -> api.PauseScheduleResponse:
        return api.PauseScheduleResponse(definition=await self._domain.pause_schedule(request))

    async def BackfillSchedule(
        self, request: api.BackfillScheduleRequest, context: grpc.aio.ServicerContext
    ) -> api.BackfillScheduleResponse:
        await self._domain.backfill_schedule(request)
        return api.BackfillScheduleResponse()

    async def DeliverWebhook(
        self, request: api.DeliverWebhookRequest, context: grpc.aio.ServicerContext
    ) -> api.DeliverWebhookResponse:
        metadata = context.invocation_metadata() or ()
        headers = {
            str(key): value if isinstance(value, str) else value.decode()
            for key, value in metadata
            if key in WEBHOOK_HEADERS
        }
        run_id = await self._domain.deliver_webhook(
            request.organization_id,
            request.definition_id,
            request.trigger,
            request.body,
            headers,
        )
        return api.DeliverWebhookResponse(run_id=run_id)

    async def StartRun(
        self, request: api.StartRunRequest, context: grpc.aio.ServicerContext
    ) -> api.StartRunResponse:
        given = json_format.MessageToDict(request.input)
        return api.StartRunResponse(run=await self._domain.start_run(request.definition_id, given))

    async def GetRun(
        self, request: api.GetRunRequest, context: grpc.aio.ServicerContext
    ) -> api.GetRunResponse:
        return api.GetRunResponse(run=await self._domain.get_run(request.run_id))

    async def ListRuns(
        self, request: api.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListRunsResponse:
        runs, token = await self._domain.list_runs(request)
        return api.ListRunsResponse(runs=runs, next_page_token=token)

    async def SignalRun(
        self, request: api.SignalRunRequest, context: grpc.aio.ServicerContext
    ) -> api.SignalRunResponse:
        await self._domain.signal_run(request)
        return api.SignalRunResponse()

    async def CancelRun(
        self, request: api.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> api.CancelRunResponse:
        await self._domain.cancel_run(request.run_id)
        return api.CancelRunResponse()

    async def TerminateRun(
        self, request: api.TerminateRunRequest, context: grpc.aio.ServicerContext
    ) -> api.TerminateRunResponse:
        await self._domain.terminate_run(request.run_id, request.reason)
        return api.TerminateRunResponse()
