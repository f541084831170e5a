"""Calling providers through their official SDKs, as one small interface.

`OpenAIChat` speaks OpenAI's chat completions and embeddings (`openai.AsyncOpenAI`, or
`AsyncAzureOpenAI` for Azure, or any OpenAI-compatible server by base URL); `AnthropicChat`
speaks Anthropic's Messages API (`anthropic.AsyncAnthropic`). Both clients are built with
`max_retries=0`: retries, deadlines and fallback belong to the service, which sees every
attempt. Failures become one `ProviderFailure` with a reason the router acts on.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anthropic
import openai
from google.protobuf import json_format

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import resources_pb2

RATE_LIMITED = "RATE_LIMITED"
TIMEOUT = "TIMEOUT"
PROVIDER_ERROR = "PROVIDER_ERROR"
UNAVAILABLE = "UNAVAILABLE"
CONTEXT_WINDOW = "CONTEXT_WINDOW"
INVALID_REQUEST = "INVALID_REQUEST"
CREDENTIAL = "CREDENTIAL"

RETRYABLE = frozenset({RATE_LIMITED, PROVIDER_ERROR, UNAVAILABLE})
"""Reasons worth another try at the same deployment (a context-window error never is)."""
FALLS_BACK = frozenset({RATE_LIMITED, TIMEOUT, PROVIDER_ERROR, UNAVAILABLE, CREDENTIAL})
"""Reasons to move on to the next model of the chain."""
COOLS_DOWN = frozenset({RATE_LIMITED, TIMEOUT, PROVIDER_ERROR, UNAVAILABLE})
"""Reasons to skip the model for a while, for every caller (a credential one caller may not
read says nothing about the model)."""

NO_KEY = "no-key"
"""What the SDKs are given for a server that needs no key (they insist on one)."""


class ProviderFailure(Exception):
    """One attempt failed: `reason` is one of the constants above; `retry_after` the
    provider's Retry-After in seconds, when it sent one."""

    def __init__(self, reason: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Tokens:
    input: int = 0
    output: int = 0
    cached: int = 0


@dataclass(slots=True)
class ChatCall:
    """What one attempt asks of one model."""

    model: str
    messages: Sequence[resources_pb2.Message]
    options: api.ChatOptions
    max_output_tokens: int


@dataclass(slots=True)
class ChatAnswer:
    content: str
    tool_calls: list[resources_pb2.ToolCall]
    finish_reason: str
    tokens: Tokens


@dataclass(slots=True)
class Delta:
    """A piece of a streamed answer; the last one carries `finish_reason` and `tokens`."""

    text: str = ""
    tool_calls: list[api.ToolCallDelta] = field(default_factory=list)
    finish_reason: str = ""
    tokens: Tokens | None = None


class ChatClient(Protocol):
    async def chat(self, call: ChatCall, deadline: float) -> ChatAnswer: ...

    def stream(self, call: ChatCall, deadline: float) -> AsyncGenerator[Delta, None]: ...

    async def embed(
        self, model: str, inputs: Sequence[str], dimensions: int, deadline: float
    ) -> tuple[list[list[float]], int]: ...


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "prompt is too long",
    "too many tokens",
)


def failure(error: Exception) -> ProviderFailure:
    """The failure an SDK exception stands for."""
    if isinstance(error, ProviderFailure):
        return error
    if isinstance(error, openai.APITimeoutError | anthropic.APITimeoutError | TimeoutError):
        return ProviderFailure(TIMEOUT, "the provider did not answer in time")
    if isinstance(error, openai.APIConnectionError | anthropic.APIConnectionError):
        return ProviderFailure(UNAVAILABLE, "the provider could not be reached")
    if isinstance(error, openai.APIStatusError | anthropic.APIStatusError):
        status = error.status_code
        text = str(error)
        if status == 429:
            return ProviderFailure(
                RATE_LIMITED, "the provider is rate limiting", retry_after(error.response.headers)
            )
        if status in (401, 403):
            return ProviderFailure(CREDENTIAL, f"the provider refused the credential ({status})")
        if status >= 500:
            return ProviderFailure(
                PROVIDER_ERROR,
                f"the provider failed ({status})",
                retry_after(error.response.headers),
            )
        if any(marker in text.lower() for marker in _CONTEXT_MARKERS):
            return ProviderFailure(CONTEXT_WINDOW, "the conversation exceeds the model's context")
        return ProviderFailure(INVALID_REQUEST, f"the provider refused the request ({status})")
    if isinstance(error, openai.OpenAIError | anthropic.AnthropicError):
        return ProviderFailure(PROVIDER_ERROR, "the provider's answer could not be read")
    raise error


# --- OpenAI, Azure OpenAI, OpenAI-compatible ---------------------------------------------------

_OPENAI_ROLES = {
    resources_pb2.ROLE_SYSTEM: "system",
    resources_pb2.ROLE_USER: "user",
    resources_pb2.ROLE_ASSISTANT: "assistant",
    resources_pb2.ROLE_TOOL: "tool",
}


def _struct(value: Any) -> dict[str, Any]:
    return json_format.MessageToDict(value) if value.ByteSize() else {}


def _openai_message(message: resources_pb2.Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": _OPENAI_ROLES[message.role], "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def _openai_options(call: ChatCall) -> dict[str, Any]:
    options = call.options
    body: dict[str, Any] = {"max_tokens": call.max_output_tokens}
    if options.HasField("temperature"):
        body["temperature"] = options.temperature
    if options.HasField("top_p"):
        body["top_p"] = options.top_p
    if options.stop:
        body["stop"] = list(options.stop)
    if options.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": _struct(tool.parameters) or {"type": "object"},
                },
            }
            for tool in options.tools
        ]
    if options.tool_choice:
        choice = options.tool_choice
        body["tool_choice"] = (
            choice
            if choice in ("auto", "none", "required")
            else {"type": "function", "function": {"name": choice}}
        )
    if options.response_format == resources_pb2.RESPONSE_FORMAT_JSON_OBJECT:
        body["response_format"] = {"type": "json_object"}
    elif options.response_format == resources_pb2.RESPONSE_FORMAT_JSON_SCHEMA:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": _struct(options.json_schema)},
        }
    return body


def _openai_tokens(usage: Any) -> Tokens:
    if usage is None:
        return Tokens()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", 0) or 0
    return Tokens(usage.prompt_tokens or 0, usage.completion_tokens or 0, cached)


class OpenAIChat:
    """A provider speaking OpenAI's API through the `openai` SDK."""

    def __init__(self, client: openai.AsyncOpenAI) -> None:
        # Typed as Any: the SDK's TypedDict parameters gain nothing over the dicts built here.
        self._client: Any = client

    @classmethod
    def build(cls, kind: int, base_url: str, api_key: str, api_version: str) -> OpenAIChat:
        client: openai.AsyncOpenAI
        if kind == resources_pb2.PROVIDER_KIND_AZURE_OPENAI:
            client = openai.AsyncAzureOpenAI(
                azure_endpoint=base_url,
                api_key=api_key or NO_KEY,
                api_version=api_version or "2024-10-21",
                max_retries=0,
            )
        else:
            client = openai.AsyncOpenAI(
                api_key=api_key or NO_KEY, base_url=base_url or None, max_retries=0
            )
        return cls(client)

    async def chat(self, call: ChatCall, deadline: float) -> ChatAnswer:
        try:
            answer = await self._client.chat.completions.create(
                model=call.model,
                messages=[_openai_message(m) for m in call.messages],
                timeout=deadline,
                **_openai_options(call),
            )
        except Exception as error:
            raise failure(error) from error
        if not answer.choices:
            raise ProviderFailure(PROVIDER_ERROR, "the provider answered no choice")
        choice = answer.choices[0]
        calls = [
            resources_pb2.ToolCall(
                id=c.id, name=c.function.name, arguments=c.function.arguments or ""
            )
            for c in (choice.message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        return ChatAnswer(
            choice.message.content or "",
            calls,
            choice.finish_reason or "stop",
            _openai_tokens(answer.usage),
        )

    async def stream(self, call: ChatCall, deadline: float) -> AsyncGenerator[Delta, None]:
        try:
            chunks = await self._client.chat.completions.create(
                model=call.model,
                messages=[_openai_message(m) for m in call.messages],
                stream=True,
                stream_options={"include_usage": True},
                timeout=deadline,
                **_openai_options(call),
            )
            finish = ""
            tokens: Tokens | None = None
            async for chunk in chunks:
                if chunk.usage is not None:
                    tokens = _openai_tokens(chunk.usage)
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    pieces = [
                        api.ToolCallDelta(
                            index=piece.index,
                            id=piece.id or "",
                            name=(piece.function.name or "") if piece.function else "",
                            arguments=(piece.function.arguments or "") if piece.function else "",
                        )
                        for piece in (delta.tool_calls or [])
                    ]
                    if delta.content or pieces:
                        yield Delta(text=delta.content or "", tool_calls=pieces)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except Exception as error:
            raise failure(error) from error
        yield Delta(finish_reason=finish or "stop", tokens=tokens or Tokens())

    async def embed(
        self, model: str, inputs: Sequence[str], dimensions: int, deadline: float
    ) -> tuple[list[list[float]], int]:
        extra: dict[str, Any] = {"dimensions": dimensions} if dimensions else {}
        try:
            answer = await self._client.embeddings.create(
                model=model, input=list(inputs), timeout=deadline, **extra
            )
        except Exception as error:
            raise failure(error) from error
        ordered = sorted(answer.data, key=lambda item: item.index)
        tokens = answer.usage.prompt_tokens if answer.usage is not None else 0
        return [list(item.embedding) for item in ordered], tokens


# --- Anthropic ---------------------------------------------------------------------------------

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _anthropic_messages(
    messages: Sequence[resources_pb2.Message],
) -> tuple[str, list[dict[str, Any]]]:
    """The system text and the turns, Anthropic's way: tool calls as `tool_use` blocks of the
    assistant, tool results as `tool_result` blocks of a user turn."""
    system = "\n\n".join(m.content for m in messages if m.role == resources_pb2.ROLE_SYSTEM)
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == resources_pb2.ROLE_SYSTEM:
            continue
        if message.role == resources_pb2.ROLE_TOOL:
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content,
            }
            turns.append({"role": "user", "content": [block]})
            continue
        role = "assistant" if message.role == resources_pb2.ROLE_ASSISTANT else "user"
        content: list[dict[str, Any]] = []
        if message.content:
            content.append({"type": "text", "text": message.content})
        for call in message.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": json.loads(call.arguments or "{}"),
                }
            )
        turns.append({"role": role, "content": content or [{"type": "text", "text": ""}]})
    return system, turns


def _anthropic_body(call: ChatCall) -> dict[str, Any]:
    system, turns = _anthropic_messages(call.messages)
    options = call.options
    body: dict[str, Any] = {
        "model": call.model,
        "max_tokens": call.max_output_tokens,
        "messages": turns,
    }
    if system:
        body["system"] = system
    if options.HasField("temperature"):
        body["temperature"] = min(options.temperature, 1.0)
    if options.HasField("top_p"):
        body["top_p"] = options.top_p
    if options.stop:
        body["stop_sequences"] = list(options.stop)
    if options.tools:
        body["tools"] = [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": _struct(tool.parameters) or {"type": "object"},
            }
            for tool in options.tools
        ]
    if options.tool_choice:
        choice = options.tool_choice
        body["tool_choice"] = (
            {"type": "auto"}
            if choice == "auto"
            else {"type": "none"}
            if choice == "none"
            else {"type": "any"}
            if choice == "required"
            else {"type": "tool", "name": choice}
        )
    return body


def _anthropic_tokens(usage: Any) -> Tokens:
    """Anthropic counts cache reads and writes apart from `input_tokens`; here input is all
    prompt tokens, of which `cached` were read from the cache."""
    if usage is None:
        return Tokens()
    cached = getattr(usage, "cache_read_input_tokens", 0) or 0
    written = getattr(usage, "cache_creation_input_tokens", 0) or 0
    given = getattr(usage, "input_tokens", 0) or 0
    return Tokens(given + cached + written, getattr(usage, "output_tokens", 0) or 0, cached)


class AnthropicChat:
    """A provider speaking Anthropic's Messages API through the `anthropic` SDK."""

    def __init__(self, client: anthropic.AsyncAnthropic) -> None:
        self._client: Any = client

    @classmethod
    def build(cls, base_url: str, api_key: str) -> AnthropicChat:
        return cls(
            anthropic.AsyncAnthropic(
                api_key=api_key or NO_KEY, base_url=base_url or None, max_retries=0
            )
        )

    async def chat(self, call: ChatCall, deadline: float) -> ChatAnswer:
        try:
            answer = await self._client.messages.create(timeout=deadline, **_anthropic_body(call))
        except Exception as error:
            raise failure(error) from error
        text = "".join(block.text for block in answer.content if block.type == "text")
        calls = [
            resources_pb2.ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input))
            for block in answer.content
            if block.type == "tool_use"
        ]
        return ChatAnswer(
            text,
            calls,
            _STOP_REASONS.get(answer.stop_reason or "", answer.stop_reason or "stop"),
            _anthropic_tokens(answer.usage),
        )

    async def stream(self, call: ChatCall, deadline: float) -> AsyncGenerator[Delta, None]:
        start = Tokens()
        finish = "stop"
        usage: Any = None
        blocks: dict[int, int] = {}
        try:
            events = await self._client.messages.create(
                stream=True, timeout=deadline, **_anthropic_body(call)
            )
            async for event in events:
                if event.type == "message_start":
                    start = _anthropic_tokens(event.message.usage)
                elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                    blocks[event.index] = len(blocks)
                    yield Delta(
                        tool_calls=[
                            api.ToolCallDelta(
                                index=blocks[event.index],
                                id=event.content_block.id,
                                name=event.content_block.name,
                            )
                        ]
                    )
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta":
                        yield Delta(text=event.delta.text)
                    elif event.delta.type == "input_json_delta":
                        yield Delta(
                            tool_calls=[
                                api.ToolCallDelta(
                                    index=blocks.get(event.index, 0),
                                    arguments=event.delta.partial_json,
                                )
                            ]
                        )
                elif event.type == "message_delta":
                    usage = event.usage
                    reason = event.delta.stop_reason or ""
                    finish = _STOP_REASONS.get(reason, reason or "stop")
        except Exception as error:
            raise failure(error) from error
        if usage is not None and getattr(usage, "input_tokens", None) is not None:
            tokens = _anthropic_tokens(usage)
        else:
            output = (getattr(usage, "output_tokens", 0) or 0) if usage is not None else 0
            tokens = Tokens(start.input, output, start.cached)
        yield Delta(finish_reason=finish, tokens=tokens)

    async def embed(
        self, model: str, inputs: Sequence[str], dimensions: int, deadline: float
    ) -> tuple[list[list[float]], int]:
        raise ProviderFailure(INVALID_REQUEST, "Anthropic serves no embeddings")


def build_client(kind: int, base_url: str, api_key: str, api_version: str) -> ChatClient:
    if kind == resources_pb2.PROVIDER_KIND_ANTHROPIC:
        return AnthropicChat.build(base_url, api_key)
    return OpenAIChat.build(kind, base_url, api_key, api_version)
