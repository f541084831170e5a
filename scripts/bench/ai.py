"""AI benchmark: the AI Service's streaming overhead. Time to first token and tokens/s of a
streamed chat completion through the edge (REST, SSE) → AI Service (gRPC) → local provider,
against the same local provider called directly, side by side in one run.

    .venv/bin/python scripts/bench/ai.py [--streams 60] [--words 100] [--interval 0.002]
                                         [--concurrency 1]

The local provider (tests/ai/providers.py: OpenAI's chat completions wire protocol, SSE with a
final usage chunk) runs in its own process and streams `--words` pieces, `--interval` seconds
apart (a model's decoding pace; 0 streams as fast as it can). This process hosts the AI and
Usage services (SQLite, in-process bus and cache) and the edge on one event loop, as
`coder dev` does, and drives both rows with the same httpx SSE client: the direct row posts to
the provider's `/v1/chat/completions`, the edge row to `/api/v1/ai/chat/completions:stream`
(token verified, rate limits, Usage Tracking's CheckQuota, the `openai` SDK, events through the
outbox). Time to first token: request sent → first text delta read. Tokens/s: pieces / (last
piece - first piece). Goal (issue 9): ≤ 5 ms added to the first token, ≥ 0.9x tokens/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]
MODEL = "bench-model"
# Run as a script, this folder comes first on the path, and its edge.py would shadow the
# `edge` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


@dataclass
class Row:
    name: str
    first_token_ms: list[float] = field(default_factory=list)
    tokens_per_second: list[float] = field(default_factory=list)

    def p(self, fraction: float) -> float:
        ordered = sorted(self.first_token_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def serve_provider(words: int, interval: float) -> None:
    """The local provider on a free port; prints the port, serves until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests.ai.providers import Reply, local_provider

    text = " ".join(f"w{i}" for i in range(words))
    async with local_provider() as provider:
        provider.default(
            MODEL, Reply(text, input_tokens=50, output_tokens=words, interval=interval)
        )
        print(provider.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def one_stream(
    client: httpx.AsyncClient, url: str, body: dict[str, object], row: Row, edge: bool
) -> None:
    started = time.perf_counter()
    first = last = 0.0
    pieces = 0
    async with client.stream(
        "POST", url, json=body, headers={"accept": "text/event-stream"}
    ) as answer:
        assert answer.status_code == 200, await answer.aread()
        async for line in answer.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            text = (
                chunk.get("delta", "")
                if edge
                else "".join(
                    (c.get("delta") or {}).get("content") or "" for c in chunk.get("choices", [])
                )
            )
            if text:
                now = time.perf_counter()
                if not pieces:
                    first = now
                last = now
                pieces += 1
    row.first_token_ms.append((first - started) * 1000)
    if last > first:
        row.tokens_per_second.append((pieces - 1) / (last - first))


async def one_grpc_stream(stub: Any, request: Any, metadata: Any, row: Row) -> None:
    started = time.perf_counter()
    first = last = 0.0
    pieces = 0
    async for chunk in stub.StreamChatCompletion(request, metadata=metadata):
        if chunk.delta:
            now = time.perf_counter()
            if not pieces:
                first = now
            last = now
            pieces += 1
    row.first_token_ms.append((first - started) * 1000)
    if last > first:
        row.tokens_per_second.append((pieces - 1) / (last - first))


async def drive(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, object],
    row: Row,
    streams: int,
    concurrency: int,
    edge: bool,
) -> None:
    remaining = iter(range(streams))

    async def worker() -> None:
        for _ in remaining:
            await one_stream(client, url, body, row, edge)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def free_socket() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    return listener


def start_provider(options: argparse.Namespace) -> subprocess.Popen[str]:
    """The local provider in its own process, as a hosted model is."""
    command = [sys.executable, __file__, "--serve-provider"]
    command += ["--words", str(options.words), "--interval", str(options.interval)]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def run(options: argparse.Namespace, provider_url: str) -> list[Row]:
    from coder.ai.v1 import ai_service_pb2 as api
    from coder.ai.v1 import resources_pb2
    from coder.ai.v1.ai_service_pb2_grpc import AiServiceStub
    from edge import EdgeSettings, create_app
    from edge.server import server_config
    from services import usage
    from services.ai import AiSettings, definition
    from services.kit import (
        Host,
        KeySource,
        Settings,
        SigningKey,
        TokenVerifier,
        configure_logging,
        jwks,
        open_resources,
    )

    configure_logging("warning")
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    ai = definition(
        AiSettings(
            user_requests_per_minute=1_000_000,
            organization_requests_per_minute=1_000_000,
            user_tokens_per_minute=50_000_000,
            organization_tokens_per_minute=50_000_000,
        )
    )
    services = [ai, usage.SERVICE]
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.model_validate(
            {"store_url": f"sqlite:///{Path(directory) / 'bench.db'}", "log_level": "warning"}
        )
        async with open_resources(settings, services, verifier=verifier) as resources:
            host = Host(services, resources)
            await host.start()
            await host.wait_ready()
            token = key.mint(
                subject="bench-user",
                organization_id="bench-org",
                issuer="coder",
                audience="coder-api",
                roles=("admin",),
            )
            listener = free_socket()
            port = listener.getsockname()[1]
            edge_settings = EdgeSettings(
                grpc_target=f"127.0.0.1:{host.port}",
                port=port,
                cookie_secure=False,
                api_user_limit=100_000,
                api_organization_limit=100_000,
            )
            server = uvicorn.Server(
                server_config(
                    create_app(edge_settings, verifier=verifier),
                    edge_settings,
                    log_level="warning",
                )
            )
            serving = asyncio.create_task(server.serve(sockets=[listener]))
            while not server.started:
                assert not serving.done(), "the edge stopped while starting"
                await asyncio.sleep(0.02)
            edge_url = f"http://127.0.0.1:{port}"
            headers = {"authorization": f"Bearer {token}"}
            try:
                async with httpx.AsyncClient(timeout=60, headers=headers) as client:
                    created = await client.post(
                        f"{edge_url}/api/v1/ai/providers",
                        json={
                            "name": "local",
                            "kind": "PROVIDER_KIND_OPENAI_COMPATIBLE",
                            "baseUrl": f"{provider_url}/v1",
                        },
                    )
                    assert created.status_code == 201, created.text
                    model = await client.post(
                        f"{edge_url}/api/v1/ai/models",
                        json={
                            "name": MODEL,
                            "providerId": created.json()["provider"]["id"],
                            "contextWindow": 128000,
                        },
                    )
                    assert model.status_code == 201, model.text
                    messages = [{"role": "user", "content": "Tell me a long story."}]
                    direct_body: dict[str, object] = {
                        "model": MODEL,
                        "messages": messages,
                        "stream": True,
                        "stream_options": {"include_usage": True},
                        "max_tokens": 4096,
                    }
                    edge_body: dict[str, object] = {
                        "model": MODEL,
                        "messages": [{"role": "ROLE_USER", "content": messages[0]["content"]}],
                    }
                    direct, through = Row("provider directly"), Row("through the edge")
                    over_grpc = Row("AI service, gRPC")
                    stub = AiServiceStub(resources.channels.channel("ai"))
                    grpc_request = api.StreamChatCompletionRequest(
                        model=MODEL,
                        messages=[
                            resources_pb2.Message(
                                role=resources_pb2.ROLE_USER, content=messages[0]["content"]
                            )
                        ],
                    )
                    metadata = (("authorization", f"Bearer {token}"),)
                    # Warm both paths (connections, SDK client, token cache).
                    for _ in range(5):
                        await one_stream(
                            client,
                            f"{provider_url}/v1/chat/completions",
                            direct_body,
                            Row("warm"),
                            False,
                        )
                        await one_stream(
                            client,
                            f"{edge_url}/api/v1/ai/chat/completions:stream",
                            edge_body,
                            Row("warm"),
                            True,
                        )
                        await one_grpc_stream(stub, grpc_request, metadata, Row("warm"))
                    for _ in range(options.rounds):
                        per_round = options.streams // options.rounds
                        for _ in range(per_round):
                            await one_grpc_stream(stub, grpc_request, metadata, over_grpc)
                        await drive(
                            client,
                            f"{provider_url}/v1/chat/completions",
                            direct_body,
                            direct,
                            per_round,
                            options.concurrency,
                            False,
                        )
                        await drive(
                            client,
                            f"{edge_url}/api/v1/ai/chat/completions:stream",
                            edge_body,
                            through,
                            per_round,
                            options.concurrency,
                            True,
                        )
                    return [direct, over_grpc, through]
            finally:
                server.should_exit = True
                await serving
                await host.stop(0.5)


def report(rows: list[Row], options: argparse.Namespace) -> None:
    print(
        f"AI streaming: {options.streams} streams of {options.words} pieces, "
        f"{options.interval * 1000:g} ms apart, concurrency {options.concurrency}"
    )
    print(f"{'row':<20} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} {'tokens/s':>10}")
    for row in rows:
        rate = statistics.median(row.tokens_per_second) if row.tokens_per_second else 0.0
        print(f"{row.name:<20} {row.p(0.5):>12.2f} {row.p(0.99):>12.2f} {rate:>10.0f}")
    direct, _, through = rows
    added = through.p(0.5) - direct.p(0.5)
    ratio = statistics.median(through.tokens_per_second) / statistics.median(
        direct.tokens_per_second
    )
    print(f"added to the first token (p50): {added:.2f} ms (goal <= 5)")
    print(f"tokens/s through the edge / directly: {ratio:.2f} (goal >= 0.9)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the rows this many times")
    parser.add_argument("--words", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--serve-provider", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_provider:
        asyncio.run(serve_provider(options.words, options.interval))
        return
    process = start_provider(options)
    try:
        assert process.stdout is not None
        provider_url = process.stdout.readline().strip()
        report(asyncio.run(run(options, provider_url)), options)
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
