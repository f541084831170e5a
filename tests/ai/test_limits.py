"""What holds before any provider call: Usage Tracking's hard quotas (RESOURCE_EXHAUSTED, the
provider sees nothing), the per-user token rate, and context fitting (oldest turns dropped,
a refusal when the latest turn alone does not fit)."""

from __future__ import annotations

import grpc
import pytest

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import ai_service_pb2_grpc
from coder.usage.v1 import resources_pb2 as usage_resources
from coder.usage.v1 import usage_service_pb2, usage_service_pb2_grpc
from services.kit import new_id
from tests.ai.factories import Registry, assistant, system, user
from tests.ai.providers import LocalProvider
from tests.fixtures.tokens import Metadata


def unique(prefix: str) -> str:
    return f"{prefix}-{new_id().lower()}"


class TestQuota:
    async def test_hard_quota_refuses_before_the_provider(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        usage_stub: usage_service_pb2_grpc.UsageServiceStub,
        admin: Metadata,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("quota")
        await registry.model(name, local)
        await usage_stub.CreateQuota(
            usage_service_pb2.CreateQuotaRequest(
                quota=usage_resources.Quota(
                    name="tiny",
                    meter="ai.completion.tokens",
                    scope=usage_resources.SCOPE_ORGANIZATION,
                    period=usage_resources.PERIOD_MONTH,
                    limit="5",
                    enforcement=usage_resources.ENFORCEMENT_HARD,
                )
            ),
            metadata=admin,
        )

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(
                    model=name, messages=[user("a question of more than five tokens, surely")]
                ),
                metadata=member,
            )

        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "quota" in (refused.value.details() or "")
        assert provider.seen(name) == []


class TestRateLimits:
    async def test_user_tokens_per_minute(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("rate")
        await registry.model(name, local, context_window=100_000, max_output_tokens=40_000)
        request = api.CreateChatCompletionRequest(
            model=name, messages=[user("hi")], options=api.ChatOptions(max_output_tokens=30_000)
        )

        await stub.CreateChatCompletion(request, metadata=member)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(request, metadata=member)

        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "tokens per minute" in (refused.value.details() or "")
        assert len(provider.seen(name)) == 1


class TestContextFitting:
    async def test_oldest_turns_dropped_system_kept(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("fit")
        await registry.model(name, local, context_window=120, max_output_tokens=20)
        long_turn = "word " * 40

        await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(
                model=name,
                messages=[
                    system("Be brief."),
                    user("oldest " + long_turn),
                    assistant("older " + long_turn),
                    user("recent question"),
                ],
            ),
            metadata=member,
        )

        sent = [m["content"] for m in provider.seen(name)[-1].body["messages"]]
        assert sent[0] == "Be brief."
        assert sent[-1] == "recent question"
        assert not any(s.startswith("oldest") for s in sent)

    async def test_latest_turn_alone_too_long_is_refused(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("tiny")
        await registry.model(name, local, context_window=64, max_output_tokens=16)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model=name, messages=[user("word " * 100)]),
                metadata=member,
            )

        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert provider.seen(name) == []
