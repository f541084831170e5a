"""Fallback chains, retries and cool-downs: a primary answering 500, timing out or rate
limiting is followed by its fallback and an `ai.completion.fallback` event; Retry-After is
honoured by a retry at the same model; a context-window error is never retried; a failed model
is skipped while it cools down; an exhausted chain fails with `ai.completion.failed`."""

from __future__ import annotations

import grpc
import pytest

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import ai_service_pb2_grpc, events_pb2
from services.kit import new_id
from tests.ai.factories import ANTHROPIC, Registry, user
from tests.ai.providers import Fail, Hang, LocalProvider, Reply
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import Metadata


def unique(prefix: str) -> str:
    return f"{prefix}-{new_id().lower()}"


def fallbacks(events: EventRecorder, org: str) -> list[events_pb2.CompletionFallback]:
    found = []
    for event in events.of(org):
        if event.type == "ai.completion.fallback":
            payload = events_pb2.CompletionFallback()
            assert event.data.Unpack(payload)
            found.append(payload)
    return found


class TestFallback:
    async def test_primary_500_answers_from_the_fallback(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        events: EventRecorder,
        org: str,
    ) -> None:
        local = await registry.provider()
        claude = await registry.provider("claude", ANTHROPIC)
        primary, backup = unique("primary"), unique("backup")
        await registry.model(backup, claude)
        await registry.model(primary, local, fallbacks=[backup])
        provider.script(primary, Fail(500), Fail(500))
        provider.script(backup, Reply("from the backup"))

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(model=primary, messages=[user("hi")]), metadata=member
        )

        assert (answer.model, answer.provider, answer.message.content) == (
            backup,
            "claude",
            "from the backup",
        )
        assert [(a.model, a.error) for a in answer.attempts] == [
            (primary, "PROVIDER_ERROR"),
            (primary, "PROVIDER_ERROR"),
            (backup, ""),
        ]
        await events.settle(org, 2)
        [fallback] = fallbacks(events, org)
        assert (
            fallback.model,
            fallback.provider,
            fallback.fallback_model,
            fallback.fallback_provider,
        ) == (primary, "local", backup, "claude")
        assert (fallback.reason, fallback.user_id, fallback.organization_id) == (
            "PROVIDER_ERROR",
            "member-1",
            org,
        )
        assert fallback.input_tokens > 0
        assert [e.type for e in events.of(org)] == [
            "ai.completion.fallback",
            "ai.completion.completed",
        ]

    async def test_primary_timing_out_streams_from_the_fallback(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        events: EventRecorder,
        org: str,
    ) -> None:
        slow = await registry.provider("slow", attempt_timeout=0.2)
        local = await registry.provider()
        primary, backup = unique("hangs"), unique("answers")
        await registry.model(backup, local)
        await registry.model(primary, slow, fallbacks=[backup])
        provider.script(primary, Hang())
        provider.script(backup, Reply("in time"))

        chunks = [
            c
            async for c in stub.StreamChatCompletion(
                api.StreamChatCompletionRequest(model=primary, messages=[user("hi")]),
                metadata=member,
            )
        ]

        assert "".join(c.delta for c in chunks) == "in time"
        assert chunks[-1].model == backup
        assert [(a.model, a.error) for a in chunks[-1].attempts] == [
            (primary, "TIMEOUT"),
            (backup, ""),
        ]
        await events.settle(org, 2)
        assert [f.reason for f in fallbacks(events, org)] == ["TIMEOUT"]

    async def test_task_type_routes_by_priority_and_falls_back(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        first, second = unique("first"), unique("second")
        await registry.model(second, local, task_types=["code"], priority=2)
        await registry.model(first, local, task_types=["code"], priority=1)
        provider.script(first, Fail(503), Fail(503))

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(task_type="code", messages=[user("fix it")]),
            metadata=member,
        )

        assert answer.model == second


class TestRetries:
    async def test_retry_after_is_honoured_at_the_same_model(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("limited")
        await registry.model(name, local)
        provider.script(name, Fail(429, retry_after="0"), Reply("after the wait"))

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(model=name, messages=[user("hi")]), metadata=member
        )

        assert answer.message.content == "after the wait"
        assert [a.error for a in answer.attempts] == ["RATE_LIMITED", ""]
        assert len(provider.seen(name)) == 2

    async def test_long_retry_after_falls_back_and_cools_down(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        primary, backup = unique("busy"), unique("free")
        await registry.model(backup, local)
        await registry.model(primary, local, fallbacks=[backup])
        provider.script(primary, Fail(429, retry_after="120"))
        request = api.CreateChatCompletionRequest(model=primary, messages=[user("hi")])

        first = await stub.CreateChatCompletion(request, metadata=member)
        second = await stub.CreateChatCompletion(request, metadata=member)

        assert first.model == second.model == backup
        assert [a.error for a in first.attempts] == ["RATE_LIMITED", ""]
        assert [a.error for a in second.attempts] == ["COOLING_DOWN", ""]
        assert len(provider.seen(primary)) == 1

    async def test_context_window_error_is_never_retried(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        events: EventRecorder,
        org: str,
    ) -> None:
        local = await registry.provider()
        name = unique("small")
        await registry.model(name, local)
        provider.script(
            name,
            Fail(
                400,
                message="This model's maximum context length is 8192 tokens",
                code="context_length_exceeded",
            ),
        )

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model=name, messages=[user("hi")]), metadata=member
            )

        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert len(provider.seen(name)) == 1
        [failed] = await events.settle(org, 1)
        payload = events_pb2.CompletionFailed()
        assert failed.type == "ai.completion.failed" and failed.data.Unpack(payload)
        assert (payload.model, payload.reason, payload.code) == (
            name,
            "CONTEXT_WINDOW",
            "INVALID_ARGUMENT",
        )


class TestExhausted:
    async def test_every_model_failing_is_unavailable_with_a_failed_event(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        events: EventRecorder,
        org: str,
    ) -> None:
        local = await registry.provider()
        primary, backup = unique("down"), unique("also-down")
        await registry.model(backup, local)
        await registry.model(primary, local, fallbacks=[backup])
        for name in (primary, backup):
            provider.script(name, Fail(502), Fail(502))

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model=primary, messages=[user("hi")]),
                metadata=member,
            )

        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        published = await events.settle(org, 2)
        assert [e.type for e in published] == ["ai.completion.fallback", "ai.completion.failed"]

    async def test_rate_limited_everywhere_is_resource_exhausted(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("throttled")
        await registry.model(name, local)
        provider.script(name, Fail(429, retry_after="60"))

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model=name, messages=[user("hi")]), metadata=member
            )
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model=name, messages=[user("hi")]), metadata=member
            )

        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert again.value.code() == grpc.StatusCode.UNAVAILABLE
        assert len(provider.seen(name)) == 1
