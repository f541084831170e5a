"""Chat completions, unary and streamed, and embeddings: the call as a list of steps.

1. the conversation: the request's messages, or a Prompt Management prompt rendered by name,
   label and variables (its model config fills the options the request leaves unset);
2. the chain of models (routing) and the tokens the prompt counts;
3. the guards: rate limits, then Usage Tracking's quota check — before any provider call;
4. the response cache, when asked for;
5. the attempts: per model, the conversation fitted into its context window, its key read
   from Secret Management, tries with a per-attempt deadline and retries honouring
   Retry-After; on a rate limit, a timeout or an error, a cool-down and the next model;
6. the events (completed with its usage, fallbacks, or failed) through the outbox.

A stream can fall back only until its first delta: after that the answer is the client's,
and a failure ends the stream with an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias, TypeVar

from coder.ai.v1 import ai_service_pb2 as api
from coder.ai.v1 import resources_pb2
from coder.events.v1 import event_pb2
from coder.prompt.v1 import prompt_pb2, prompt_service_pb2, prompt_service_pb2_grpc
from services.ai import _providers, _tokens
from services.ai._peers import answered
from services.ai._providers import ChatCall, ChatClient, Delta, ProviderFailure, Tokens
from services.ai._settings import AiSettings
from services.ai.events import EMBEDDING_COMPLETED, AiEvents, decimal_text
from services.ai.repository import AiRepository
from services.ai.service.clients import ClientPool
from services.ai.service.credentials import Credentials
from services.ai.service.guards import Guards
from services.ai.service.responses import ResponseCache, cache_key
from services.ai.service.routing import Router, Target
from services.kit import (
    Clock,
    DeadlineExceeded,
    DomainError,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    Peers,
    Principal,
    ResourceExhausted,
    Unavailable,
    current_principal,
    get_logger,
    new_id,
    remaining_time,
)

ChatRequest: TypeAlias = api.CreateChatCompletionRequest | api.StreamChatCompletionRequest
R = TypeVar("R")

COOLING_DOWN = "COOLING_DOWN"
RETRY_BACKOFF_SECONDS = 0.05
_ROLES = {
    prompt_pb2.MESSAGE_ROLE_SYSTEM: resources_pb2.ROLE_SYSTEM,
    prompt_pb2.MESSAGE_ROLE_USER: resources_pb2.ROLE_USER,
    prompt_pb2.MESSAGE_ROLE_ASSISTANT: resources_pb2.ROLE_ASSISTANT,
}

log = get_logger("ai")


@dataclass(slots=True)
class Prepared:
    """A call after steps 1 to 3: who, what, where to."""

    principal: Principal
    id: str
    messages: list[resources_pb2.Message]
    options: api.ChatOptions
    project_id: str
    targets: list[Target]
    input_tokens: int
    cache_key: str
    started: float
    events: AiEvents
    attempts: list[resources_pb2.Attempt] = field(default_factory=list)
    published: list[event_pb2.Event] = field(default_factory=list)

    def latency_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def _merge_config(options: api.ChatOptions, config: prompt_pb2.ModelConfig) -> api.ChatOptions:
    merged = api.ChatOptions()
    if config.HasField("temperature"):
        merged.temperature = config.temperature
    if config.HasField("top_p"):
        merged.top_p = config.top_p
    if config.HasField("max_output_tokens"):
        merged.max_output_tokens = config.max_output_tokens
    merged.stop.extend(config.stop)
    merged.response_format = int(config.response_format)  # type: ignore[assignment]
    if config.HasField("json_schema"):
        merged.json_schema.CopyFrom(config.json_schema)
    merged.MergeFrom(options)
    if options.stop:
        del merged.stop[:]
        merged.stop.extend(options.stop)
    return merged


def _check_input(request: ChatRequest) -> None:
    has_messages, has_prompt = bool(request.messages), request.HasField("prompt")
    if has_messages == has_prompt:
        raise InvalidArgument(
            "give either messages or a prompt",
            reason="CONVERSATION_REQUIRED",
            violations=[FieldViolation("messages", "exactly one of messages and prompt")],
        )
    if has_prompt and request.prompt.label and request.prompt.version:
        raise InvalidArgument(
            "a prompt is chosen by label or by version, not both",
            violations=[FieldViolation("prompt.version", "give a label or a version")],
        )


class Completions:
    """CreateChatCompletion, StreamChatCompletion and CreateEmbeddings."""

    def __init__(
        self,
        *,
        repository: AiRepository,
        router: Router,
        guards: Guards,
        responses: ResponseCache,
        credentials: Credentials,
        clients: ClientPool,
        peers: Peers,
        clock: Clock,
        settings: AiSettings,
    ) -> None:
        self._repository = repository
        self._router = router
        self._guards = guards
        self._responses = responses
        self._credentials = credentials
        self._clients = clients
        self._peers = peers
        self._clock = clock
        self._settings = settings
        self._background: set[asyncio.Task[resources_pb2.TokenUsage]] = set()

    # --- the public calls ----------------------------------------------------------------------

    async def complete(
        self, request: api.CreateChatCompletionRequest
    ) -> api.CreateChatCompletionResponse:
        prepared = await self._prepare(request)
        if request.cache:
            hit = await self._cached(prepared)
            if hit is not None:
                return hit
        target, answer = await self._first_success(prepared, self._chat)
        tokens = answer.tokens
        response = api.CreateChatCompletionResponse(
            id=prepared.id,
            model=target.name,
            provider=target.provider.name,
            message=resources_pb2.Message(
                role=resources_pb2.ROLE_ASSISTANT,
                content=answer.content,
                tool_calls=answer.tool_calls,
            ),
            finish_reason=answer.finish_reason,
            usage=await self._completed(prepared, target, tokens),
            attempts=prepared.attempts,
        )
        if request.cache:
            await self._responses.put(prepared.cache_key, response)
        return response

    async def stream(
        self, request: api.StreamChatCompletionRequest
    ) -> AsyncIterator[api.StreamChatCompletionResponse]:
        prepared = await self._prepare(request)
        if request.cache:
            hit = await self._cached(prepared)
            if hit is not None:
                for chunk in _replay(hit):
                    yield chunk
                return
        target, (first, rest) = await self._first_success(prepared, self._open_stream)
        chunk = api.StreamChatCompletionResponse(
            id=prepared.id, model=target.name, provider=target.provider.name
        )
        text: list[str] = []
        calls: dict[int, resources_pb2.ToolCall] = {}
        delta: Delta | None = first
        settled = False
        try:
            while delta is not None:
                if delta.tokens is not None:
                    settled = True
                    usage = await self._completed(prepared, target, delta.tokens)
                    final = api.StreamChatCompletionResponse()
                    final.CopyFrom(chunk)
                    final.finish_reason = delta.finish_reason
                    final.usage.CopyFrom(usage)
                    final.done = True
                    final.attempts.extend(prepared.attempts)
                    if request.cache:
                        await self._responses.put(
                            prepared.cache_key,
                            _assembled(final, "".join(text), calls),
                        )
                    yield final
                    return
                text.append(delta.text)
                _gather(calls, delta.tool_calls)
                piece = api.StreamChatCompletionResponse()
                piece.CopyFrom(chunk)
                piece.delta = delta.text
                piece.tool_calls.extend(delta.tool_calls)
                yield piece
                delta = await self._next(rest, self._timeout(target))
            raise ProviderFailure(_providers.PROVIDER_ERROR, "the stream ended without usage")
        except ProviderFailure as error:
            settled = True
            await self._failed(prepared, target, error)
            raise Unavailable(
                f"the model's stream broke off: {error}", reason="STREAM_INTERRUPTED"
            ) from None
        finally:
            if not settled:
                # The caller went away mid-stream: what the provider produced so far is
                # still metered, its output counted here since no usage chunk came.
                output = _tokens.count_text("".join(text), target.deployment)
                self._unfinished(prepared, target, Tokens(prepared.input_tokens, output))
            await rest.aclose()

    def _unfinished(self, prepared: Prepared, target: Target, tokens: Tokens) -> None:
        """Record an abandoned stream's usage in the background: the handler is being torn
        down and may not wait."""
        task = asyncio.get_running_loop().create_task(self._completed(prepared, target, tokens))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def embed(self, request: api.CreateEmbeddingsRequest) -> api.CreateEmbeddingsResponse:
        principal = current_principal()
        organization = principal.organization_id
        targets = await self._router.chain(organization, request.model, "")
        target = targets[0]
        if resources_pb2.CAPABILITY_EMBEDDINGS not in target.model.capabilities:
            raise FailedPrecondition(
                f"model {target.name} serves no embeddings", reason="MODEL_NOT_FOR_EMBEDDINGS"
            )
        estimate = sum(_tokens.count_text(text, target.deployment) for text in request.inputs)
        await self._guards.admit(principal, estimate)
        await self._guards.check_quota(request.project_id, estimate)
        started = time.monotonic()
        key = await self._api_key(principal, target)
        client = self._clients.client(target.provider, key)
        timeout = self._timeout(target)
        try:
            async with asyncio.timeout(timeout):
                vectors, used = await client.embed(
                    target.deployment, request.inputs, request.dimensions, timeout
                )
        except (ProviderFailure, TimeoutError) as error:
            raise _refusal(_as_failure(error)) from None
        tokens = Tokens(input=used or estimate)
        cost = target.cost(tokens)
        event = AiEvents(principal, self._clock).completed(
            new_id(),
            model=target.name,
            provider=target.provider.name,
            project_id=request.project_id,
            tokens=tokens,
            latency_ms=int((time.monotonic() - started) * 1000),
            cost=cost,
            event_type=EMBEDDING_COMPLETED,
        )
        await self._repository.publish(organization, [event])
        return api.CreateEmbeddingsResponse(
            model=target.name,
            provider=target.provider.name,
            embeddings=[api.Embedding(index=i, values=vector) for i, vector in enumerate(vectors)],
            usage=resources_pb2.TokenUsage(input_tokens=tokens.input, cost=_money(cost)),
        )

    # --- steps ---------------------------------------------------------------------------------

    async def _prepare(self, request: ChatRequest) -> Prepared:
        started = time.monotonic()
        _check_input(request)
        principal = current_principal()
        messages, options, model = await self._conversation(request)
        # Counted with the requested model's encoding (the chain is not known yet), so the
        # quota check can run alongside the routing reads.
        input_tokens = _tokens.count_messages(messages, model)
        wanted = options.max_output_tokens if options.HasField("max_output_tokens") else 0
        await self._guards.admit(principal, input_tokens + (wanted or 0))
        routed, checked = await asyncio.gather(
            self._router.chain(principal.organization_id, model, request.task_type),
            self._guards.check_quota(request.project_id, input_tokens),
            return_exceptions=True,
        )
        for outcome in (checked, routed):
            if isinstance(outcome, BaseException):
                raise outcome
        assert not isinstance(routed, BaseException)
        targets = routed
        key = ""
        if request.cache:
            key = cache_key(principal.organization_id, [t.name for t in targets], messages, options)
        return Prepared(
            principal=principal,
            id=new_id(),
            messages=messages,
            options=options,
            project_id=request.project_id,
            targets=targets,
            input_tokens=input_tokens,
            cache_key=key,
            started=started,
            events=AiEvents(principal, self._clock),
        )

    async def _conversation(
        self, request: ChatRequest
    ) -> tuple[list[resources_pb2.Message], api.ChatOptions, str]:
        if not request.HasField("prompt"):
            return list(request.messages), request.options, request.model
        reference = request.prompt
        render = prompt_service_pb2.RenderPromptRequest(
            name=reference.name, variables=reference.variables
        )
        if reference.version:
            render.version = reference.version
        elif reference.label:
            render.label = reference.label
        prompts = await self._peers.stub(prompt_service_pb2_grpc.PromptServiceStub)
        rendered = await answered(prompts.RenderPrompt(render))
        if rendered.type == prompt_pb2.PROMPT_TYPE_CHAT:
            messages = [
                resources_pb2.Message(role=_ROLES[m.role], content=m.content)
                for m in rendered.messages
            ]
        else:
            messages = [resources_pb2.Message(role=resources_pb2.ROLE_USER, content=rendered.text)]
        options = _merge_config(request.options, rendered.model_config)
        return messages, options, request.model or rendered.model_config.model

    async def _cached(self, prepared: Prepared) -> api.CreateChatCompletionResponse | None:
        hit = await self._responses.get(prepared.cache_key)
        if hit is None:
            return None
        hit.id = prepared.id
        hit.cached = True
        hit.usage.CopyFrom(resources_pb2.TokenUsage(cost="0"))
        del hit.attempts[:]
        event = prepared.events.completed(
            prepared.id,
            model=hit.model,
            provider=hit.provider,
            project_id=prepared.project_id,
            tokens=Tokens(),
            latency_ms=prepared.latency_ms(),
            cost=Decimal(0),
            cached=True,
        )
        await self._repository.publish(prepared.principal.organization_id, [event])
        return hit

    def _timeout(self, target: Target) -> float:
        configured = (
            target.provider.attempt_timeout.ToTimedelta().total_seconds()
            if target.provider.HasField("attempt_timeout")
            else self._settings.attempt_timeout_seconds
        )
        left = remaining_time()
        return configured if left is None else max(0.001, min(configured, left))

    def _call(self, prepared: Prepared, target: Target) -> ChatCall:
        """The attempt's conversation, fitted into the target's context window."""
        options = prepared.options
        limit = target.model.max_output_tokens
        wanted = options.max_output_tokens if options.HasField("max_output_tokens") else limit
        out = min(wanted, limit)
        budget = target.model.context_window - out
        fitted = _tokens.fit(prepared.messages, target.deployment, budget)
        return ChatCall(target.deployment, fitted.messages, options, out)

    async def _api_key(self, principal: Principal, target: Target) -> str:
        secret = target.provider.credential_secret_id
        if not secret:
            return ""
        try:
            return await self._credentials.api_key(principal, secret)
        except DomainError as error:
            raise ProviderFailure(
                _providers.CREDENTIAL,
                f"the key of provider {target.provider.name} could not be read ({error.reason})",
            ) from None

    async def _chat(
        self, client: ChatClient, call: ChatCall, deadline: float
    ) -> _providers.ChatAnswer:
        return await client.chat(call, deadline)

    async def _open_stream(
        self, client: ChatClient, call: ChatCall, deadline: float
    ) -> tuple[Delta, AsyncGenerator[Delta, None]]:
        iterator = client.stream(call, deadline)
        try:
            first = await anext(iterator)
        except BaseException:
            await iterator.aclose()
            raise
        return first, iterator

    @staticmethod
    async def _next(rest: AsyncGenerator[Delta, None], deadline: float) -> Delta | None:
        try:
            async with asyncio.timeout(deadline):
                return await anext(rest)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise ProviderFailure(_providers.TIMEOUT, "the stream stalled") from None

    async def _first_success(
        self,
        prepared: Prepared,
        run: Callable[[ChatClient, ChatCall, float], Awaitable[R]],
    ) -> tuple[Target, R]:
        organization = prepared.principal.organization_id
        targets = prepared.targets
        last: ProviderFailure | None = None
        waits: list[float] = []
        for index, target in enumerate(targets):
            following = targets[index + 1] if index + 1 < len(targets) else None
            cooling = await self._router.cooling(organization, target)
            if cooling > 0:
                waits.append(cooling)
                prepared.attempts.append(_attempt(target, COOLING_DOWN, 0))
                self._fallback(prepared, target, following, COOLING_DOWN, 0)
                continue
            try:
                call = self._call(prepared, target)
            except _tokens.DoesNotFit as error:
                last = ProviderFailure(_providers.CONTEXT_WINDOW, str(error))
                prepared.attempts.append(_attempt(target, _providers.CONTEXT_WINDOW, 0))
                self._fallback(prepared, target, following, _providers.CONTEXT_WINDOW, 0)
                continue
            outcome = await self._tries(prepared, target, call, run)
            if not isinstance(outcome, ProviderFailure):
                return target, outcome
            last = outcome
            if outcome.reason == _providers.INVALID_REQUEST:
                await self._failed(prepared, target, outcome)
                raise InvalidArgument(str(outcome), reason="PROVIDER_REFUSED_REQUEST")
            if outcome.reason in _providers.COOLS_DOWN:
                await self._router.cool_down(
                    organization,
                    target,
                    max(self._settings.cool_down_seconds, outcome.retry_after or 0),
                )
            latency = prepared.attempts[-1].latency_ms
            self._fallback(prepared, target, following, outcome.reason, latency)
        if last is None:
            last = ProviderFailure(COOLING_DOWN, "every model is cooling down", min(waits))
        await self._failed(prepared, targets[-1], last)
        raise _refusal(last)

    async def _tries(
        self,
        prepared: Prepared,
        target: Target,
        call: ChatCall,
        run: Callable[[ChatClient, ChatCall, float], Awaitable[R]],
    ) -> R | ProviderFailure:
        """Up to 1 + max_retries tries at one target; its result, or the last failure."""
        tries = 0
        while True:
            started = time.monotonic()
            try:
                key = await self._api_key(prepared.principal, target)
                client = self._clients.client(target.provider, key)
                timeout = self._timeout(target)
                async with asyncio.timeout(timeout):
                    result = await run(client, call, timeout)
            except (ProviderFailure, TimeoutError) as error:
                failure = _as_failure(error)
                latency = int((time.monotonic() - started) * 1000)
                prepared.attempts.append(_attempt(target, failure.reason, latency))
                log.info(
                    "ai.attempt_failed",
                    model=target.name,
                    provider=target.provider.name,
                    reason=failure.reason,
                    latency_ms=latency,
                )
                wait = (
                    failure.retry_after
                    if failure.retry_after is not None
                    else (RETRY_BACKOFF_SECONDS * 2**tries)
                )
                left = remaining_time()
                if (
                    failure.reason in _providers.RETRYABLE
                    and tries < self._settings.max_retries
                    and wait <= self._settings.max_retry_wait_seconds
                    and (left is None or wait < left)
                ):
                    tries += 1
                    await asyncio.sleep(wait)
                    continue
                return failure
            prepared.attempts.append(_attempt(target, "", int((time.monotonic() - started) * 1000)))
            return result

    # --- events --------------------------------------------------------------------------------

    def _fallback(
        self,
        prepared: Prepared,
        target: Target,
        following: Target | None,
        reason: str,
        latency_ms: int,
    ) -> None:
        if following is None:
            return
        prepared.published.append(
            prepared.events.fallback(
                prepared.id,
                model=target.name,
                provider=target.provider.name,
                fallback_model=following.name,
                fallback_provider=following.provider.name,
                project_id=prepared.project_id,
                input_tokens=prepared.input_tokens,
                latency_ms=latency_ms,
                reason=reason,
            )
        )

    async def _completed(
        self, prepared: Prepared, target: Target, tokens: Tokens
    ) -> resources_pb2.TokenUsage:
        if not tokens.input:
            tokens = Tokens(prepared.input_tokens, tokens.output, tokens.cached)
        cost = target.cost(tokens)
        event = prepared.events.completed(
            prepared.id,
            model=target.name,
            provider=target.provider.name,
            project_id=prepared.project_id,
            tokens=tokens,
            latency_ms=prepared.latency_ms(),
            cost=cost,
        )
        await self._repository.publish(
            prepared.principal.organization_id, [*prepared.published, event]
        )
        return resources_pb2.TokenUsage(
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cached_tokens=tokens.cached,
            cost=_money(cost),
        )

    async def _failed(self, prepared: Prepared, target: Target, failure: ProviderFailure) -> None:
        refusal = _refusal(failure)
        event = prepared.events.failed(
            prepared.id,
            model=target.name,
            provider=target.provider.name,
            project_id=prepared.project_id,
            input_tokens=prepared.input_tokens,
            latency_ms=prepared.latency_ms(),
            code=refusal.code.name,
            reason=failure.reason,
        )
        await self._repository.publish(
            prepared.principal.organization_id, [*prepared.published, event]
        )
        prepared.published.clear()


def _attempt(target: Target, error: str, latency_ms: int) -> resources_pb2.Attempt:
    return resources_pb2.Attempt(
        model=target.name, provider=target.provider.name, error=error, latency_ms=latency_ms
    )


def _as_failure(error: Exception) -> ProviderFailure:
    if isinstance(error, TimeoutError):
        return ProviderFailure(_providers.TIMEOUT, "the provider did not answer in time")
    assert isinstance(error, ProviderFailure)
    return error


def _refusal(failure: ProviderFailure) -> DomainError:
    """The answer to the caller when the chain is exhausted, by the last failure."""
    reason = failure.reason
    if reason == _providers.CONTEXT_WINDOW:
        return InvalidArgument(
            "the latest turn does not fit the model's context window",
            reason="CONTEXT_WINDOW_EXCEEDED",
            violations=[FieldViolation("messages", str(failure))],
        )
    if reason == _providers.RATE_LIMITED:
        return ResourceExhausted(
            "the provider is rate limiting",
            reason="PROVIDER_RATE_LIMITED",
            retry_after=failure.retry_after,
        )
    if reason == _providers.TIMEOUT:
        return DeadlineExceeded("the provider did not answer in time", reason="PROVIDER_TIMEOUT")
    if reason == _providers.CREDENTIAL:
        return FailedPrecondition(str(failure), reason="PROVIDER_CREDENTIAL_REFUSED")
    if reason == COOLING_DOWN:
        return Unavailable(
            "every model of the chain is cooling down after failures",
            reason="ALL_MODELS_COOLING_DOWN",
            retry_after=failure.retry_after,
        )
    return Unavailable(str(failure), reason="PROVIDER_UNAVAILABLE")


def _money(cost: Decimal) -> str:
    return decimal_text(cost)


def _gather(calls: dict[int, resources_pb2.ToolCall], pieces: list[api.ToolCallDelta]) -> None:
    for piece in pieces:
        call = calls.setdefault(piece.index, resources_pb2.ToolCall())
        call.id = call.id or piece.id
        call.name = call.name or piece.name
        call.arguments += piece.arguments


def _assembled(
    final: api.StreamChatCompletionResponse, text: str, calls: dict[int, resources_pb2.ToolCall]
) -> api.CreateChatCompletionResponse:
    return api.CreateChatCompletionResponse(
        id=final.id,
        model=final.model,
        provider=final.provider,
        message=resources_pb2.Message(
            role=resources_pb2.ROLE_ASSISTANT,
            content=text,
            tool_calls=[calls[i] for i in sorted(calls)],
        ),
        finish_reason=final.finish_reason,
        usage=final.usage,
    )


def _replay(hit: api.CreateChatCompletionResponse) -> list[api.StreamChatCompletionResponse]:
    """A cached answer as a stream: its text (and tool calls) in one delta, then the end."""
    pieces = [
        api.ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments)
        for i, c in enumerate(hit.message.tool_calls)
    ]
    return [
        api.StreamChatCompletionResponse(
            id=hit.id,
            model=hit.model,
            provider=hit.provider,
            delta=hit.message.content,
            tool_calls=pieces,
        ),
        api.StreamChatCompletionResponse(
            id=hit.id,
            model=hit.model,
            provider=hit.provider,
            finish_reason=hit.finish_reason,
            usage=hit.usage,
            done=True,
            cached=True,
        ),
    ]
