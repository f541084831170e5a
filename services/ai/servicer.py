"""The gRPC adapter of the AI service: unpack the request, call the domain, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import ai_service_pb2_grpc
from services.ai.service import AiDomain

Context: TypeAlias = grpc.aio.ServicerContext


class AiServicer(ai_service_pb2_grpc.AiServiceServicer):
    """coder.ai.v1.AiService."""

    def __init__(self, domain: AiDomain) -> None:
        self._providers = domain.providers
        self._models = domain.models
        self._completions = domain.completions

    # --- providers -----------------------------------------------------------------------------

    async def CreateProvider(
        self, request: api.CreateProviderRequest, context: Context
    ) -> api.CreateProviderResponse:
        return api.CreateProviderResponse(provider=await self._providers.create(request.provider))

    async def GetProvider(
        self, request: api.GetProviderRequest, context: Context
    ) -> api.GetProviderResponse:
        return api.GetProviderResponse(provider=await self._providers.get(request.provider_id))

    async def ListProviders(
        self, request: api.ListProvidersRequest, context: Context
    ) -> api.ListProvidersResponse:
        providers, token = await self._providers.list(request)
        return api.ListProvidersResponse(providers=providers, next_page_token=token)

    async def UpdateProvider(
        self, request: api.UpdateProviderRequest, context: Context
    ) -> api.UpdateProviderResponse:
        provider = await self._providers.update(request.provider, request.update_mask)
        return api.UpdateProviderResponse(provider=provider)

    async def DeleteProvider(
        self, request: api.DeleteProviderRequest, context: Context
    ) -> api.DeleteProviderResponse:
        await self._providers.delete(request.provider_id, request.etag)
        return api.DeleteProviderResponse()

    # --- models --------------------------------------------------------------------------------

    async def CreateModel(
        self, request: api.CreateModelRequest, context: Context
    ) -> api.CreateModelResponse:
        return api.CreateModelResponse(model=await self._models.create(request.model))

    async def GetModel(
        self, request: api.GetModelRequest, context: Context
    ) -> api.GetModelResponse:
        return api.GetModelResponse(model=await self._models.get(request.model_id))

    async def ListModels(
        self, request: api.ListModelsRequest, context: Context
    ) -> api.ListModelsResponse:
        models, token = await self._models.list(request)
        return api.ListModelsResponse(models=models, next_page_token=token)

    async def UpdateModel(
        self, request: api.UpdateModelRequest, context: Context
    ) -> api.UpdateModelResponse:
        return api.UpdateModelResponse(
            model=await self._models.update(request.model, request.update_mask)
        )

    async def DeleteModel(
        self, request: api.DeleteModelRequest, context: Context
    ) -> api.DeleteModelResponse:
        await self._models.delete(request.model_id, request.etag)
        return api.DeleteModelResponse()

    # --- completions ---------------------------------------------------------------------------

    async def CreateChatCompletion(
        self, request: api.CreateChatCompletionRequest, context: Context
    ) -> api.CreateChatCompletionResponse:
        return await self._completions.complete(request)

    async def StreamChatCompletion(
        self, request: api.StreamChatCompletionRequest, context: Context
    ) -> AsyncIterator[api.StreamChatCompletionResponse]:
        async for chunk in self._completions.stream(request):
            yield chunk

    async def CreateEmbeddings(
        self, request: api.CreateEmbeddingsRequest, context: Context
    ) -> api.CreateEmbeddingsResponse:
        return await self._completions.embed(request)
