"""A local model provider for tests: one aiohttp server speaking OpenAI's chat completions
and embeddings API (also under Azure OpenAI's deployment paths) and Anthropic's Messages API,
unary and as Server-Sent Events, as the real `openai` and `anthropic` clients call them.

What it answers is scripted per model: `provider.script("gpt-4o-mini", Fail(500), Reply("hi"))`
answers the next request for that model with a 500, the one after with "hi", and then the
model's default (`Reply()`). `Hang()` holds the request open until the server stops (or
`release()`), so a caller's deadline runs out; `Fail(429, retry_after="0")` is a rate limit
with a Retry-After header. Every request is recorded (`requests`), so a test can assert that
a provider saw none.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    """An answer: its text in `chunks` pieces (streams), the usage to report, tool calls."""

    text: str = "Hello from the local provider."
    input_tokens: int = 11
    output_tokens: int = 7
    cached_tokens: int = 0
    tool_calls: tuple[tuple[str, str, str], ...] = ()  # (id, name, arguments JSON)
    chunks: int = 0  # 0: one piece per word
    interval: float = 0.0  # seconds between streamed pieces, as a model's decoding pace


@dataclass(frozen=True)
class Fail:
    status: int
    retry_after: str | None = None
    message: str = "scripted failure"
    code: str = ""


@dataclass(frozen=True)
class Hang:
    """Hold the request open (the caller's deadline decides)."""


@dataclass(frozen=True)
class Seen:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))


Behaviour = Reply | Fail | Hang


@dataclass
class LocalProvider:
    """The server's state: scripts per model, the requests seen, its base URL."""

    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    _scripts: dict[str, deque[Behaviour]] = field(default_factory=lambda: defaultdict(deque))
    _defaults: dict[str, Behaviour] = field(default_factory=dict)
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, model: str, *behaviours: Behaviour) -> None:
        self._scripts[model].extend(behaviours)

    def default(self, model: str, behaviour: Behaviour) -> None:
        self._defaults[model] = behaviour

    def seen(self, model: str) -> list[Seen]:
        return [r for r in self.requests if r.model == model]

    def release(self) -> None:
        self._released.set()

    def _next(self, model: str) -> Behaviour:
        queue = self._scripts[model]
        if queue:
            return queue.popleft()
        return self._defaults.get(model, Reply())

    # --- wire --------------------------------------------------------------------------------

    async def _take(
        self, request: web.Request, model: str = ""
    ) -> tuple[dict[str, Any], Behaviour]:
        body = await request.json()
        if model:
            body.setdefault("model", model)
        self.requests.append(Seen(request.path, body, dict(request.headers)))
        return body, self._next(str(body.get("model", "")))

    async def _failure(self, behaviour: Behaviour, anthropic: bool) -> web.StreamResponse | None:
        if isinstance(behaviour, Hang):
            await self._released.wait()
            return web.json_response({"error": {"message": "released"}}, status=503)
        if isinstance(behaviour, Fail):
            headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
            if anthropic:
                kind = "rate_limit_error" if behaviour.status == 429 else "api_error"
                if behaviour.status == 400:
                    kind = "invalid_request_error"
                payload: dict[str, Any] = {
                    "type": "error",
                    "error": {"type": kind, "message": behaviour.message},
                }
            else:
                payload = {
                    "error": {
                        "message": behaviour.message,
                        "type": "invalid_request_error" if behaviour.status == 400 else "error",
                        "code": behaviour.code or None,
                    }
                }
            return web.json_response(payload, status=behaviour.status, headers=headers)
        return None

    async def openai_chat(self, request: web.Request) -> web.StreamResponse:
        deployment = request.match_info.get("deployment", "")
        body, behaviour = await self._take(request, deployment)
        failed = await self._failure(behaviour, anthropic=False)
        if failed is not None:
            return failed
        assert isinstance(behaviour, Reply)
        model = body["model"]
        usage = {
            "prompt_tokens": behaviour.input_tokens,
            "completion_tokens": behaviour.output_tokens,
            "total_tokens": behaviour.input_tokens + behaviour.output_tokens,
            "prompt_tokens_details": {"cached_tokens": behaviour.cached_tokens},
        }
        calls = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
            for i, n, a in behaviour.tool_calls
        ]
        finish = "tool_calls" if calls else "stop"
        created = int(time.time())
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": behaviour.text}
            if calls:
                message["tool_calls"] = calls
            return web.json_response(
                {
                    "id": "chatcmpl-local",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                }
            )
        response = await _sse(request)

        async def send(choices: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> None:
            chunk = {
                "id": "chatcmpl-local",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **(extra or {}),
            }
            await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        await send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for piece in _pieces(behaviour):
            if behaviour.interval:
                await asyncio.sleep(behaviour.interval)
            await send([{"index": 0, "delta": {"content": piece}}])
        for index, (call_id, name, arguments) in enumerate(behaviour.tool_calls):
            head = {"index": index, "id": call_id, "type": "function"}
            await send(
                [{"index": 0, "delta": {"tool_calls": [{**head, "function": {"name": name}}]}}]
            )
            argument = {"index": index, "function": {"arguments": arguments}}
            await send([{"index": 0, "delta": {"tool_calls": [argument]}}])
        await send([{"index": 0, "delta": {}, "finish_reason": finish}])
        if (body.get("stream_options") or {}).get("include_usage"):
            await send([], {"usage": usage})
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def openai_embeddings(self, request: web.Request) -> web.StreamResponse:
        body, behaviour = await self._take(request)
        failed = await self._failure(behaviour, anthropic=False)
        if failed is not None:
            return failed
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = int(body.get("dimensions") or 4)
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": [float(len(text) + j) for j in range(size)],
            }
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(text.split()) for text in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def anthropic_messages(self, request: web.Request) -> web.StreamResponse:
        body, behaviour = await self._take(request)
        failed = await self._failure(behaviour, anthropic=True)
        if failed is not None:
            return failed
        assert isinstance(behaviour, Reply)
        stop = "tool_use" if behaviour.tool_calls else "end_turn"
        content: list[dict[str, Any]] = [{"type": "text", "text": behaviour.text}]
        content += [
            {"type": "tool_use", "id": i, "name": n, "input": json.loads(a)}
            for i, n, a in behaviour.tool_calls
        ]
        message = {
            "id": "msg_local",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": behaviour.input_tokens - behaviour.cached_tokens,
                "output_tokens": 1,
                "cache_read_input_tokens": behaviour.cached_tokens,
                "cache_creation_input_tokens": 0,
            },
        }
        if not body.get("stream"):
            done = {**message, "content": content, "stop_reason": stop}
            done["usage"] = {**message["usage"], "output_tokens": behaviour.output_tokens}
            return web.json_response(done)
        response = await _sse(request)

        async def send(kind: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": kind, **data}).encode()
            await response.write(b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n")

        await send("message_start", {"message": {**message, "content": []}})
        await send(
            "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
        )
        for piece in _pieces(behaviour):
            await send(
                "content_block_delta",
                {"index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
        await send("content_block_stop", {"index": 0})
        for offset, (call_id, name, arguments) in enumerate(behaviour.tool_calls, start=1):
            block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            await send("content_block_start", {"index": offset, "content_block": block})
            await send(
                "content_block_delta",
                {"index": offset, "delta": {"type": "input_json_delta", "partial_json": arguments}},
            )
            await send("content_block_stop", {"index": offset})
        await send(
            "message_delta",
            {
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": behaviour.output_tokens},
            },
        )
        await send("message_stop", {})
        await response.write_eof()
        return response


def _pieces(reply: Reply) -> list[str]:
    words = reply.text.split(" ")
    pieces = [w if i == 0 else f" {w}" for i, w in enumerate(words)]
    if reply.chunks and reply.chunks < len(pieces):
        size = -(-len(pieces) // reply.chunks)
        pieces = ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]
    return pieces


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    )
    await response.prepare(request)
    return response


@asynccontextmanager
async def local_provider() -> AsyncIterator[LocalProvider]:
    """Serve a LocalProvider on a free loopback port until the block ends."""
    provider = LocalProvider()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", provider.openai_chat)
    app.router.add_post("/v1/embeddings", provider.openai_embeddings)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", provider.openai_chat)
    app.router.add_post("/v1/messages", provider.anthropic_messages)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    provider.url = f"http://127.0.0.1:{port}"
    try:
        yield provider
    finally:
        provider.release()
        await runner.cleanup()
