"""Registering providers and models against the local provider, for the tests."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.duration_pb2 import Duration

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import ai_service_pb2_grpc, resources_pb2
from tests.ai.providers import LocalProvider
from tests.fixtures.tokens import Metadata

OPENAI = resources_pb2.PROVIDER_KIND_OPENAI_COMPATIBLE
AZURE = resources_pb2.PROVIDER_KIND_AZURE_OPENAI
ANTHROPIC = resources_pb2.PROVIDER_KIND_ANTHROPIC


def user(text: str) -> resources_pb2.Message:
    return resources_pb2.Message(role=resources_pb2.ROLE_USER, content=text)


def system(text: str) -> resources_pb2.Message:
    return resources_pb2.Message(role=resources_pb2.ROLE_SYSTEM, content=text)


def assistant(text: str) -> resources_pb2.Message:
    return resources_pb2.Message(role=resources_pb2.ROLE_ASSISTANT, content=text)


class Registry:
    """Providers and models of the test's organization, pointed at the local provider."""

    def __init__(
        self, stub: ai_service_pb2_grpc.AiServiceStub, admin: Metadata, local: LocalProvider
    ) -> None:
        self.stub = stub
        self.admin = admin
        self.local = local

    async def provider(
        self,
        name: str = "local",
        kind: resources_pb2.ProviderKind.ValueType = OPENAI,
        *,
        secret: str = "",
        attempt_timeout: float | None = None,
    ) -> resources_pb2.Provider:
        base = self.local.openai_url if kind == OPENAI else self.local.url
        provider = resources_pb2.Provider(
            name=name,
            kind=kind,
            base_url=base,
            credential_secret_id=secret,
        )
        if attempt_timeout is not None:
            provider.attempt_timeout.CopyFrom(Duration(nanos=int(attempt_timeout * 1e9)))
        answer = await self.stub.CreateProvider(
            api.CreateProviderRequest(provider=provider), metadata=self.admin
        )
        created: resources_pb2.Provider = answer.provider
        return created

    async def model(
        self,
        name: str,
        provider: resources_pb2.Provider,
        *,
        fallbacks: Sequence[str] = (),
        task_types: Sequence[str] = (),
        priority: int = 0,
        context_window: int = 0,
        max_output_tokens: int = 0,
        prices: tuple[str, str, str] | None = None,
        capabilities: Sequence[int] = (),
        deployment: str = "",
    ) -> resources_pb2.Model:
        model = resources_pb2.Model(
            name=name,
            provider_id=provider.id,
            provider_model=deployment,
            fallback_models=fallbacks,
            task_types=task_types,
            priority=priority,
            context_window=context_window,
            max_output_tokens=max_output_tokens,
            capabilities=capabilities,  # type: ignore[arg-type]
        )
        if prices is not None:
            model.pricing.CopyFrom(
                resources_pb2.ModelPricing(
                    input_per_million=prices[0],
                    output_per_million=prices[1],
                    cached_input_per_million=prices[2],
                )
            )
        answer = await self.stub.CreateModel(
            api.CreateModelRequest(model=model), metadata=self.admin
        )
        stored: resources_pb2.Model = answer.model
        return stored
