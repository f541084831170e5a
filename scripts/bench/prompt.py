"""Prompt benchmark: RenderPrompt against the empty Echo RPC, side by side in one run on one
process, through the full interceptor pipeline over real gRPC (sqlite).

    .venv/bin/python scripts/bench/prompt.py [--seconds 10] [--concurrency 16] [--rounds 5]

Rows: Echo; RenderPrompt of a text prompt by its `production` label with three variables (two
point reads of the name and the prompt, one of the version, values checked, the template
rendered from the compiled-template cache); a chat prompt that includes another prompt by label
(one more name and prompt read per include); a render under a running A/B experiment (bucketing
on each call's key); PreviewPrompt of unsaved content (compiled on every call, no storage), which
shows what the cache saves. No goal is set in the issue; the figure to watch is RenderPrompt's
share of the echo rate.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from coder.ops.v1 import ops_pb2, ops_pb2_grpc
from coder.prompt.v1 import experiment_pb2, prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as pb
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from scripts.bench.kit import Result, measure
from services.kit import (
    Host,
    KeySource,
    Settings,
    SigningKey,
    TokenVerifier,
    configure_logging,
    configure_telemetry,
    jwks,
    open_resources,
)
from services.prompt import SERVICE

TEMPLATE = (
    "You are reviewing {{ language }} code for {{ team }}.\n"
    "{% for rule in rules %}- {{ rule }}\n{% endfor %}"
    "Be {{ tone }}."
)
Metadata = tuple[tuple[str, str], ...]


def variable(name: str, kind: int, default: Any = None) -> prompt_pb2.Variable:
    declared = prompt_pb2.Variable(name=name, type=kind)  # type: ignore[arg-type]
    if default is not None:
        json_format.ParseDict(default, declared.default_value)
    return declared


STRING, LIST = prompt_pb2.VARIABLE_TYPE_STRING, prompt_pb2.VARIABLE_TYPE_LIST
TEXT_VERSION = prompt_pb2.PromptVersion(
    template=TEMPLATE,
    variables=[
        variable("language", STRING),
        variable("team", STRING),
        variable("rules", LIST, ["no secrets in logs", "tests for every fix"]),
        variable("tone", STRING, "brief"),
    ],
    model_config=prompt_pb2.ModelConfig(model="gpt-4o-mini", temperature=0.2),
)


async def seed(stub: PromptServiceStub, metadata: Metadata) -> None:
    async def create(name: str, kind: int, version: prompt_pb2.PromptVersion) -> str:
        reply = await stub.CreatePrompt(
            pb.CreatePromptRequest(prompt=prompt_pb2.Prompt(name=name, type=kind), version=version),  # type: ignore[arg-type]
            metadata=metadata,
        )
        prompt_id: str = reply.prompt.id
        await stub.MoveLabel(
            pb.MoveLabelRequest(prompt_id=prompt_id, label="production", version=1),
            metadata=metadata,
        )
        return prompt_id

    await create("bench/review", prompt_pb2.PROMPT_TYPE_TEXT, TEXT_VERSION)
    chat = prompt_pb2.PromptVersion(
        messages=[
            prompt_pb2.ChatMessage(
                role=prompt_pb2.MESSAGE_ROLE_SYSTEM,
                content='{% include "bench/review@production" %}',
            ),
            prompt_pb2.ChatMessage(role=prompt_pb2.MESSAGE_ROLE_USER, content="{{ code }}"),
        ],
        variables=[variable("code", STRING)],
    )
    await create("bench/chat", prompt_pb2.PROMPT_TYPE_CHAT, chat)
    tested = await create("bench/tested", prompt_pb2.PROMPT_TYPE_TEXT, TEXT_VERSION)
    second = prompt_pb2.PromptVersion()
    second.CopyFrom(TEXT_VERSION)
    second.template += " Answer in one paragraph."
    await stub.CreatePromptVersion(
        pb.CreatePromptVersionRequest(prompt_id=tested, version=second), metadata=metadata
    )
    experiment = await stub.CreateExperiment(
        pb.CreateExperimentRequest(
            prompt_id=tested,
            experiment=experiment_pb2.Experiment(
                name="bench",
                label="production",
                variants=[
                    experiment_pb2.Variant(name="a", version=1, weight=1),
                    experiment_pb2.Variant(name="b", version=2, weight=1),
                ],
            ),
        ),
        metadata=metadata,
    )
    await stub.StartExperiment(
        pb.StartExperimentRequest(prompt_id=tested, experiment_id=experiment.experiment.id),
        metadata=metadata,
    )


def render_request(name: str, key: str = "") -> pb.RenderPromptRequest:
    request = pb.RenderPromptRequest(name=name, label="production", bucketing_key=key)
    for field, given in (("language", "Python"), ("team", "payments"), ("code", "x = 1")):
        request.variables[field].string_value = given
    if name != "bench/chat":
        del request.variables["code"]
    return request


async def run(options: argparse.Namespace) -> list[Result]:
    configure_logging("warning")
    configure_telemetry("coder-bench")
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings.model_validate(
            {"store_url": f"sqlite:///{Path(directory) / 'bench.db'}", "log_level": "warning"}
        )
        async with open_resources(settings, [SERVICE], verifier=verifier) as resources:
            host = Host([SERVICE], resources)
            await host.start()
            await host.wait_ready()
            token = key.mint(
                subject="bench-user",
                organization_id="bench-org",
                issuer="coder",
                audience="coder-api",
                roles=["admin"],
                lifetime_seconds=3600,
            )
            metadata: Metadata = (("authorization", f"Bearer {token}"),)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                ops = ops_pb2_grpc.OpsServiceStub(channel)
                prompts = PromptServiceStub(channel)
                await seed(prompts, metadata)
                echo = ops_pb2.EchoRequest(message="ping")
                text = render_request("bench/review")
                chat = render_request("bench/chat")
                keys = (render_request("bench/tested", f"user-{n}") for n in itertools.count())
                preview = pb.PreviewPromptRequest(
                    type=prompt_pb2.PROMPT_TYPE_TEXT, version=TEXT_VERSION, variables=text.variables
                )
                rows = [
                    ("Echo (public, empty)", lambda: ops.Echo(echo)),
                    (
                        "RenderPrompt text, by label",
                        lambda: prompts.RenderPrompt(text, metadata=metadata),
                    ),
                    (
                        "RenderPrompt chat with an include",
                        lambda: prompts.RenderPrompt(chat, metadata=metadata),
                    ),
                    (
                        "RenderPrompt under an experiment",
                        lambda: prompts.RenderPrompt(next(keys), metadata=metadata),
                    ),
                    (
                        "PreviewPrompt (compiled every call)",
                        lambda: prompts.PreviewPrompt(preview, metadata=metadata),
                    ),
                ]
                # Rows take turns, round after round, so a load that comes and goes on a shared
                # machine falls on every row alike.
                results = [Result(name, 0, 0.0, [], 0.0) for name, _ in rows]
                for _ in range(options.rounds):
                    for result, (name, call) in zip(results, rows, strict=True):
                        turn = await measure(
                            name, call, options.seconds / options.rounds, options.concurrency
                        )
                        result.calls += turn.calls
                        result.seconds += turn.seconds
                        result.latencies.extend(turn.latencies)
                        result.cpu_seconds += turn.cpu_seconds
            await host.stop(1.0)
    return results


def report(results: list[Result], options: argparse.Namespace) -> None:
    echo = results[0].rate
    print(
        f"\nprompt benchmark: {options.seconds:g} s per row in {options.rounds} rounds, "
        f"{options.concurrency} calls in flight, sqlite\n"
    )
    print("| RPC | calls/s | p50 ms | p99 ms | vs echo |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result.name} | {result.rate:,.0f} | {result.percentile(0.5):.2f} | "
            f"{result.percentile(0.99):.2f} | {result.rate / echo:.0%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    report(asyncio.run(run(options)), options)


if __name__ == "__main__":
    main()
