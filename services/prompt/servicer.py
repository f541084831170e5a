"""The gRPC adapter of the prompt service: unpack the request, call the domain, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1 import prompt_service_pb2_grpc
from services.prompt.service import PromptDomain

Context: TypeAlias = grpc.aio.ServicerContext


class PromptServicer(prompt_service_pb2_grpc.PromptServiceServicer):
    """coder.prompt.v1.PromptService."""

    def __init__(self, domain: PromptDomain) -> None:
        self._prompts = domain.prompts
        self._versions = domain.versions
        self._labels = domain.labels
        self._rendering = domain.rendering
        self._experiments = domain.experiments

    # --- prompts -------------------------------------------------------------------------------

    async def CreatePrompt(
        self, request: api.CreatePromptRequest, context: Context
    ) -> api.CreatePromptResponse:
        prompt, version = await self._prompts.create(request.prompt, request.version)
        return api.CreatePromptResponse(prompt=prompt, version=version)

    async def GetPrompt(
        self, request: api.GetPromptRequest, context: Context
    ) -> api.GetPromptResponse:
        return api.GetPromptResponse(prompt=await self._prompts.get(request.prompt_id))

    async def ListPrompts(
        self, request: api.ListPromptsRequest, context: Context
    ) -> api.ListPromptsResponse:
        prompts, token = await self._prompts.list_prompts(request)
        return api.ListPromptsResponse(prompts=prompts, next_page_token=token)

    async def UpdatePrompt(
        self, request: api.UpdatePromptRequest, context: Context
    ) -> api.UpdatePromptResponse:
        prompt = await self._prompts.update(request.prompt, request.update_mask)
        return api.UpdatePromptResponse(prompt=prompt)

    async def DeletePrompt(
        self, request: api.DeletePromptRequest, context: Context
    ) -> api.DeletePromptResponse:
        await self._prompts.delete(request.prompt_id, request.etag)
        return api.DeletePromptResponse()

    async def ListSharedPrompts(
        self, request: api.ListSharedPromptsRequest, context: Context
    ) -> api.ListSharedPromptsResponse:
        prompts, token = await self._prompts.list_shared(request)
        return api.ListSharedPromptsResponse(prompts=prompts, next_page_token=token)

    async def OverrideSharedPrompt(
        self, request: api.OverrideSharedPromptRequest, context: Context
    ) -> api.OverrideSharedPromptResponse:
        prompt, version = await self._prompts.override_shared(request.prompt_id, request.version)
        return api.OverrideSharedPromptResponse(prompt=prompt, version=version)

    # --- versions ------------------------------------------------------------------------------

    async def CreatePromptVersion(
        self, request: api.CreatePromptVersionRequest, context: Context
    ) -> api.CreatePromptVersionResponse:
        version = await self._versions.create(request.prompt_id, request.version)
        return api.CreatePromptVersionResponse(version=version)

    async def GetPromptVersion(
        self, request: api.GetPromptVersionRequest, context: Context
    ) -> api.GetPromptVersionResponse:
        version = await self._versions.get(request.prompt_id, request.version_id)
        return api.GetPromptVersionResponse(version=version)

    async def ListPromptVersions(
        self, request: api.ListPromptVersionsRequest, context: Context
    ) -> api.ListPromptVersionsResponse:
        versions, token = await self._versions.list_versions(request)
        return api.ListPromptVersionsResponse(versions=versions, next_page_token=token)

    async def DeletePromptVersion(
        self, request: api.DeletePromptVersionRequest, context: Context
    ) -> api.DeletePromptVersionResponse:
        await self._versions.delete(request.prompt_id, request.version_id)
        return api.DeletePromptVersionResponse()

    async def DiffPromptVersions(
        self, request: api.DiffPromptVersionsRequest, context: Context
    ) -> api.DiffPromptVersionsResponse:
        return await self._versions.diff(request)

    # --- labels --------------------------------------------------------------------------------

    async def MoveLabel(
        self, request: api.MoveLabelRequest, context: Context
    ) -> api.MoveLabelResponse:
        prompt = await self._labels.move(
            request.prompt_id, request.label, request.version, request.etag
        )
        return api.MoveLabelResponse(prompt=prompt)

    async def RemoveLabel(
        self, request: api.RemoveLabelRequest, context: Context
    ) -> api.RemoveLabelResponse:
        prompt = await self._labels.remove(request.prompt_id, request.label, request.etag)
        return api.RemoveLabelResponse(prompt=prompt)

    async def GetLabelPolicy(
        self, request: api.GetLabelPolicyRequest, context: Context
    ) -> api.GetLabelPolicyResponse:
        return api.GetLabelPolicyResponse(policy=await self._labels.policy())

    async def UpdateLabelPolicy(
        self, request: api.UpdateLabelPolicyRequest, context: Context
    ) -> api.UpdateLabelPolicyResponse:
        return api.UpdateLabelPolicyResponse(
            policy=await self._labels.update_policy(request.policy)
        )

    # --- rendering -----------------------------------------------------------------------------

    async def RenderPrompt(
        self, request: api.RenderPromptRequest, context: Context
    ) -> api.RenderPromptResponse:
        return await self._rendering.render(request)

    async def PreviewPrompt(
        self, request: api.PreviewPromptRequest, context: Context
    ) -> api.PreviewPromptResponse:
        return await self._rendering.preview(request)

    # --- experiments ---------------------------------------------------------------------------

    async def CreateExperiment(
        self, request: api.CreateExperimentRequest, context: Context
    ) -> api.CreateExperimentResponse:
        experiment = await self._experiments.create(request.prompt_id, request.experiment)
        return api.CreateExperimentResponse(experiment=experiment)

    async def GetExperiment(
        self, request: api.GetExperimentRequest, context: Context
    ) -> api.GetExperimentResponse:
        experiment = await self._experiments.get(request.prompt_id, request.experiment_id)
        return api.GetExperimentResponse(experiment=experiment)

    async def ListExperiments(
        self, request: api.ListExperimentsRequest, context: Context
    ) -> api.ListExperimentsResponse:
        experiments, token = await self._experiments.list_experiments(request)
        return api.ListExperimentsResponse(experiments=experiments, next_page_token=token)

    async def StartExperiment(
        self, request: api.StartExperimentRequest, context: Context
    ) -> api.StartExperimentResponse:
        experiment = await self._experiments.start(request.prompt_id, request.experiment_id)
        return api.StartExperimentResponse(experiment=experiment)

    async def StopExperiment(
        self, request: api.StopExperimentRequest, context: Context
    ) -> api.StopExperimentResponse:
        experiment = await self._experiments.stop(request.prompt_id, request.experiment_id)
        return api.StopExperimentResponse(experiment=experiment)

    async def DeleteExperiment(
        self, request: api.DeleteExperimentRequest, context: Context
    ) -> api.DeleteExperimentResponse:
        await self._experiments.delete(request.prompt_id, request.experiment_id)
        return api.DeleteExperimentResponse()

    async def RecordOutcome(
        self, request: api.RecordOutcomeRequest, context: Context
    ) -> api.RecordOutcomeResponse:
        variant = await self._experiments.record_outcome(request)
        return api.RecordOutcomeResponse(variant=variant.name, version=variant.version)

    async def GetExperimentResults(
        self, request: api.GetExperimentResultsRequest, context: Context
    ) -> api.GetExperimentResultsResponse:
        return await self._experiments.results(request)
