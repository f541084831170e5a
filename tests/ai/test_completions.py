"""Chat completions through the real `openai` and `anthropic` clients against the local
provider: unary and streamed answers with usage and cost, tools and JSON mode passed through,
prompts rendered by name in place of messages, the response cache, and embeddings."""

from __future__ import annotations

import json
from decimal import Decimal

import grpc
import pytest
from google.protobuf import struct_pb2

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import ai_service_pb2_grpc, resources_pb2
from coder.prompt.v1 import prompt_pb2, prompt_service_pb2, prompt_service_pb2_grpc
from services.kit import new_id
from tests.ai.conftest import KeyRing
from tests.ai.factories import ANTHROPIC, AZURE, Registry, system, user
from tests.ai.providers import LocalProvider, Reply
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import Metadata


def unique(prefix: str) -> str:
    return f"{prefix}-{new_id().lower()}"


async def streamed(
    stub: ai_service_pb2_grpc.AiServiceStub,
    request: api.StreamChatCompletionRequest,
    metadata: Metadata,
) -> list[api.StreamChatCompletionResponse]:
    return [chunk async for chunk in stub.StreamChatCompletion(request, metadata=metadata)]


class TestUnary:
    async def test_openai_compatible_answer_with_usage_and_cost(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("chat")
        await registry.model(name, local, prices=("2", "8", "1"))
        provider.script(
            name, Reply("Forty-two.", input_tokens=1000, output_tokens=500, cached_tokens=200)
        )

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(
                model=name, messages=[system("Be brief."), user("Meaning of life?")]
            ),
            metadata=member,
        )

        assert answer.message.content == "Forty-two."
        assert answer.message.role == resources_pb2.ROLE_ASSISTANT
        assert (answer.model, answer.provider, answer.finish_reason) == (name, "local", "stop")
        assert (
            answer.usage.input_tokens,
            answer.usage.output_tokens,
            answer.usage.cached_tokens,
        ) == (1000, 500, 200)
        # (800 * 2 + 200 * 1 + 500 * 8) per million
        assert Decimal(answer.usage.cost) == Decimal("0.0058")
        sent = provider.seen(name)[-1].body
        assert sent["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Meaning of life?"},
        ]

    async def test_anthropic_answer(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        claude = await registry.provider("claude", ANTHROPIC)
        name = unique("claude")
        await registry.model(name, claude, prices=("3", "15", "0.3"))
        provider.script(
            name, Reply("Bonjour.", input_tokens=100, output_tokens=20, cached_tokens=40)
        )

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(
                model=name, messages=[system("French only."), user("Hello")]
            ),
            metadata=member,
        )

        assert answer.message.content == "Bonjour."
        assert (
            answer.usage.input_tokens,
            answer.usage.output_tokens,
            answer.usage.cached_tokens,
        ) == (100, 20, 40)
        assert Decimal(answer.usage.cost) == Decimal("0.000492")
        sent = provider.seen(name)[-1].body
        assert sent["system"] == "French only."
        assert sent["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "Hello"}]}
        ]

    async def test_azure_deployment_path(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        azure = await registry.provider("azure", AZURE)
        deployment = unique("deploy")
        await registry.model("gpt-4o-mini", azure, deployment=deployment)
        provider.script(deployment, Reply("from azure", input_tokens=1_000_000, output_tokens=0))

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(model="gpt-4o-mini", messages=[user("hi")]),
            metadata=member,
        )

        assert answer.message.content == "from azure"
        assert (
            provider.seen(deployment)[-1].path
            == f"/openai/deployments/{deployment}/chat/completions"
        )
        # The catalog's price of gpt-4o-mini: $0.15 per million input tokens.
        assert Decimal(answer.usage.cost) == Decimal("0.15")

    async def test_key_from_the_secret_reaches_the_provider(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        keys: KeyRing,
        org: str,
    ) -> None:
        secret = unique("secret")
        keys.keys[secret] = "sk-test-" + secret
        local = await registry.provider(secret=secret)
        name = unique("keyed")
        await registry.model(name, local)

        for _ in range(2):
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model=name, messages=[user("hi")]), metadata=member
            )

        assert {r.headers["Authorization"] for r in provider.seen(name)} == {
            f"Bearer sk-test-{secret}"
        }
        # Read for the caller, and once: the key is kept in process for a while.
        assert [r for r in keys.reads if r[2] == secret] == [(org, "member-1", secret)]

    async def test_tools_and_json_mode_pass_through(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("tools")
        await registry.model(name, local)
        provider.script(name, Reply("", tool_calls=(("call-1", "weather", '{"city": "Oslo"}'),)))
        parameters = struct_pb2.Struct()
        parameters.update({"type": "object", "properties": {"city": {"type": "string"}}})
        options = api.ChatOptions(
            tools=[
                resources_pb2.Tool(name="weather", description="Weather now", parameters=parameters)
            ],
            tool_choice="auto",
            response_format=resources_pb2.RESPONSE_FORMAT_JSON_OBJECT,
            temperature=0.2,
        )

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(
                model=name, messages=[user("Weather in Oslo?")], options=options
            ),
            metadata=member,
        )

        assert answer.finish_reason == "tool_calls"
        assert [(c.id, c.name, json.loads(c.arguments)) for c in answer.message.tool_calls] == [
            ("call-1", "weather", {"city": "Oslo"})
        ]
        sent = provider.seen(name)[-1].body
        assert sent["tools"][0]["function"]["name"] == "weather"
        assert sent["tools"][0]["function"]["parameters"]["properties"] == {
            "city": {"type": "string"}
        }
        assert (sent["tool_choice"], sent["response_format"], sent["temperature"]) == (
            "auto",
            {"type": "json_object"},
            0.2,
        )

    async def test_messages_or_prompt_required(
        self, stub: ai_service_pb2_grpc.AiServiceStub, member: Metadata
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model="x"), metadata=member
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_unknown_model_not_found(
        self, stub: ai_service_pb2_grpc.AiServiceStub, member: Metadata
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(model="nobody", messages=[user("hi")]),
                metadata=member,
            )
        assert refused.value.code() == grpc.StatusCode.NOT_FOUND


class TestStreaming:
    @pytest.mark.parametrize("kind", ["openai", "anthropic"])
    async def test_deltas_then_final_usage_and_cost(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        kind: str,
    ) -> None:
        local = await (
            registry.provider() if kind == "openai" else registry.provider("claude", ANTHROPIC)
        )
        name = unique(f"stream-{kind}")
        await registry.model(name, local, prices=("1", "2", "0.5"))
        provider.script(name, Reply("one two three four", input_tokens=400, output_tokens=4))

        chunks = await streamed(
            stub, api.StreamChatCompletionRequest(model=name, messages=[user("count")]), member
        )

        *deltas, final = chunks
        assert "".join(c.delta for c in deltas) == "one two three four"
        assert len(deltas) == 4
        assert not any(c.done for c in deltas)
        assert final.done and final.finish_reason == "stop"
        assert (final.usage.input_tokens, final.usage.output_tokens) == (400, 4)
        assert Decimal(final.usage.cost) == Decimal("0.000408")
        assert {c.id for c in chunks} == {final.id}
        if kind == "openai":
            assert provider.seen(name)[-1].body["stream_options"] == {"include_usage": True}

    async def test_streamed_tool_calls(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        claude = await registry.provider("claude", ANTHROPIC)
        name = unique("stream-tools")
        await registry.model(name, claude)
        provider.script(
            name, Reply("Checking.", tool_calls=(("toolu_1", "weather", '{"city":"Rome"}'),))
        )

        chunks = await streamed(
            stub, api.StreamChatCompletionRequest(model=name, messages=[user("Rome?")]), member
        )

        pieces = [p for c in chunks for p in c.tool_calls]
        assert pieces[0].id == "toolu_1" and pieces[0].name == "weather"
        assert "".join(p.arguments for p in pieces) == '{"city":"Rome"}'
        assert chunks[-1].finish_reason == "tool_calls"


class TestPrompts:
    async def test_prompt_rendered_by_name_label_and_variables(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        prompt_stub: prompt_service_pb2_grpc.PromptServiceStub,
        admin: Metadata,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("prompted")
        await registry.model(name, local)
        await prompt_stub.CreatePrompt(
            prompt_service_pb2.CreatePromptRequest(
                prompt=prompt_pb2.Prompt(name="support/reply", type=prompt_pb2.PROMPT_TYPE_CHAT),
                version=prompt_pb2.PromptVersion(
                    messages=[
                        prompt_pb2.ChatMessage(
                            role=prompt_pb2.MESSAGE_ROLE_SYSTEM, content="Be kind."
                        ),
                        prompt_pb2.ChatMessage(
                            role=prompt_pb2.MESSAGE_ROLE_USER, content="{{ question }}"
                        ),
                    ],
                    variables=[
                        prompt_pb2.Variable(
                            name="question", type=prompt_pb2.VARIABLE_TYPE_STRING, required=True
                        )
                    ],
                    model_config=prompt_pb2.ModelConfig(model=name, temperature=0.3),
                ),
            ),
            metadata=admin,
        )
        question = struct_pb2.Value(string_value="Where is my order?")

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(
                prompt=api.PromptReference(
                    name="support/reply", label="latest", variables={"question": question}
                )
            ),
            metadata=member,
        )

        assert answer.model == name
        sent = provider.seen(name)[-1].body
        assert sent["messages"] == [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "Where is my order?"},
        ]
        assert sent["temperature"] == 0.3

    async def test_missing_variable_is_invalid(
        self,
        stub: ai_service_pb2_grpc.AiServiceStub,
        prompt_stub: prompt_service_pb2_grpc.PromptServiceStub,
        admin: Metadata,
        member: Metadata,
    ) -> None:
        await prompt_stub.CreatePrompt(
            prompt_service_pb2.CreatePromptRequest(
                prompt=prompt_pb2.Prompt(name="notes/sum", type=prompt_pb2.PROMPT_TYPE_TEXT),
                version=prompt_pb2.PromptVersion(
                    template="Summarize {{ text }}",
                    variables=[
                        prompt_pb2.Variable(
                            name="text", type=prompt_pb2.VARIABLE_TYPE_STRING, required=True
                        )
                    ],
                ),
            ),
            metadata=admin,
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateChatCompletion(
                api.CreateChatCompletionRequest(
                    model="m", prompt=api.PromptReference(name="notes/sum", label="latest")
                ),
                metadata=member,
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "text" in (refused.value.details() or "")


class TestCache:
    async def test_identical_request_served_from_cache(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("cached")
        await registry.model(name, local)
        request = api.CreateChatCompletionRequest(model=name, messages=[user("same")], cache=True)

        first = await stub.CreateChatCompletion(request, metadata=member)
        second = await stub.CreateChatCompletion(request, metadata=member)
        chunks = await streamed(
            stub,
            api.StreamChatCompletionRequest(model=name, messages=[user("same")], cache=True),
            member,
        )
        other = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(model=name, messages=[user("different")], cache=True),
            metadata=member,
        )

        assert not first.cached and second.cached and chunks[-1].cached and not other.cached
        assert second.message.content == first.message.content == "".join(c.delta for c in chunks)
        assert second.usage.cost == "0"
        assert len(provider.seen(name)) == 2


class TestEvents:
    async def test_completed_carries_usage_recorded(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        events: EventRecorder,
        org: str,
    ) -> None:
        from coder.usage.v1 import events_pb2 as usage_events

        local = await registry.provider()
        name = unique("metered")
        await registry.model(name, local, prices=("1", "1", "1"))
        provider.script(name, Reply(input_tokens=30, output_tokens=12, cached_tokens=3))

        answer = await stub.CreateChatCompletion(
            api.CreateChatCompletionRequest(model=name, messages=[user("hi")], project_id="proj-1"),
            metadata=member,
        )

        [event] = await events.settle(org, 1)
        assert (event.type, event.subject) == ("ai.completion.completed", answer.id)
        usage = usage_events.UsageRecorded()
        assert event.data.Unpack(usage)
        assert (usage.user_id, usage.project_id, usage.model, usage.provider) == (
            "member-1",
            "proj-1",
            name,
            "local",
        )
        assert dict(usage.quantities) | {"latency_ms": "x"} == {
            "input_tokens": "30",
            "output_tokens": "12",
            "cached_tokens": "3",
            "latency_ms": "x",
        }
        assert usage.cost == "0.000042"


class TestEmbeddings:
    async def test_vectors_in_order_with_usage(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
    ) -> None:
        local = await registry.provider()
        name = unique("embed")
        await registry.model(
            name,
            local,
            capabilities=[resources_pb2.CAPABILITY_EMBEDDINGS],
            prices=("0.02", "0", "0"),
        )

        answer = await stub.CreateEmbeddings(
            api.CreateEmbeddingsRequest(model=name, inputs=["a b", "c d e"], dimensions=3),
            metadata=member,
        )

        assert [list(e.values) for e in answer.embeddings] == [[3.0, 4.0, 5.0], [5.0, 6.0, 7.0]]
        assert answer.usage.input_tokens == 5
        assert provider.seen(name)[-1].body["dimensions"] == 3

    async def test_chat_model_refused(
        self, registry: Registry, stub: ai_service_pb2_grpc.AiServiceStub, member: Metadata
    ) -> None:
        local = await registry.provider()
        name = unique("chat-only")
        await registry.model(name, local)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.CreateEmbeddings(
                api.CreateEmbeddingsRequest(model=name, inputs=["a"]), metadata=member
            )
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


class TestCredentials:
    async def test_unreadable_key_falls_back_without_cooling_the_model(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        keys: KeyRing,
    ) -> None:
        keyed = await registry.provider("keyed", secret=unique("absent"))
        open_ = await registry.provider()
        primary, backup = unique("locked"), unique("open")
        await registry.model(backup, open_)
        await registry.model(primary, keyed, fallbacks=[backup])
        request = api.CreateChatCompletionRequest(model=primary, messages=[user("hi")])

        first = await stub.CreateChatCompletion(request, metadata=member)
        second = await stub.CreateChatCompletion(request, metadata=member)

        assert first.model == second.model == backup
        assert [a.error for a in first.attempts] == ["CREDENTIAL", ""]
        assert [a.error for a in second.attempts] == ["CREDENTIAL", ""]
        assert provider.seen(primary) == []


class TestAbandonedStream:
    async def test_usage_recorded_when_the_caller_leaves(
        self,
        registry: Registry,
        stub: ai_service_pb2_grpc.AiServiceStub,
        member: Metadata,
        provider: LocalProvider,
        events: EventRecorder,
        org: str,
    ) -> None:
        local = await registry.provider()
        name = unique("abandoned")
        await registry.model(name, local)
        provider.script(name, Reply(" ".join(["word"] * 400), interval=0.01))

        call = stub.StreamChatCompletion(
            api.StreamChatCompletionRequest(model=name, messages=[user("talk")]), metadata=member
        )
        async for chunk in call:
            assert chunk.delta
            break
        call.cancel()

        [event] = await events.settle(org, 1)
        from coder.usage.v1 import events_pb2 as usage_events

        usage = usage_events.UsageRecorded()
        assert event.type == "ai.completion.completed" and event.data.Unpack(usage)
        assert int(usage.quantities["output_tokens"]) >= 1
        assert int(usage.quantities["input_tokens"]) > 0
