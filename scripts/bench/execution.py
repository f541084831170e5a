"""Durable execution benchmark: workflow starts per second and one step's latency through our
Workflow service against bare `temporalio` client starts, on the same Temporal dev server in
the same run; then the critical path of a 10,000-task DAG (scripts/bench/critical_path.py).

    .venv/bin/python scripts/bench/execution.py [--starts 200] [--concurrency 16] [--runs 30]

One process hosts the Workflow service (SQLite, in-process bus and cache, its Temporal
worker) on a real gRPC port and Temporal's dev server runs beside it (the `temporal` CLI,
SQLite-backed, as `coder dev` runs it). The rows:

- **bare temporalio**: `client.start_workflow` of a one-activity workflow
  (tests/kit/temporal_workflows.py) on its own worker in the same process;
- **Workflow service**: `StartRun` over gRPC (token check, validation, the definition's read,
  the concurrency check, the run's start with its search attributes, the stored run) of a
  definition with one HTTP call step to a loopback echo server; the interpreter adds its own
  activities (the run's events through the outbox, its status as a search attribute).

Starts/s: `--starts` starts, `--concurrency` in flight, until every start call has answered.
Step latency: `--runs` runs one after the other, each from its start to its close as Temporal
records them (the workflow's start and close times), so no polling interval is in it.
Goals (issue 12): our starts/s ≥ 0.7x bare; the critical path of 10,000 tasks ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from temporalio.client import Client
from temporalio.worker import Worker

from coder.workflow.v1 import definition_pb2
from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from scripts.bench.critical_path import GOAL_MS, measure
from services.kit import (
    Host,
    KeySource,
    Settings,
    SigningKey,
    TokenVerifier,
    configure_logging,
    jwks,
    open_resources,
    workflow_id,
)
from services.workflow import WorkflowSettings, definition
from services.workflow._runs import RUN_KIND
from tests.fixtures.temporal import TemporalDevServer
from tests.kit.temporal_workflows import Shout, shout

BARE_QUEUE = "bench-bare"
START_RATIO_GOAL = 0.7


async def echo_server() -> tuple[web.AppRunner, str]:
    async def reply(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json()})

    app = web.Application()
    app.router.add_post("/echo", reply)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"127.0.0.1:{port}"


async def rate(count: int, concurrency: int, start: Callable[[int], Awaitable[Any]]) -> float:
    """Starts per second: `count` starts, `concurrency` in flight."""
    numbers = iter(range(count))

    async def starter() -> None:
        for number in numbers:
            await start(number)

    began = time.perf_counter()
    await asyncio.gather(*(starter() for _ in range(concurrency)))
    return count / (time.perf_counter() - began)


def millis(start: datetime, close: datetime | None) -> float:
    assert close is not None, "the workflow has not closed"
    return (close - start).total_seconds() * 1000


async def bare_latency(client: Client, runs: int, tag: str) -> list[float]:
    seen = []
    for number in range(runs):
        handle = await client.start_workflow(
            Shout.run, "go", id=f"bench/{tag}/latency-{number}", task_queue=BARE_QUEUE
        )
        await handle.result()
        described = await handle.describe()
        seen.append(millis(described.start_time, described.close_time))
    return seen


async def ours_latency(
    stub: WorkflowServiceStub, metadata: Any, definition_id: str, runs: int, client: Client
) -> list[float]:
    seen = []
    for _ in range(runs):
        started = await stub.StartRun(
            api.StartRunRequest(definition_id=definition_id), metadata=metadata
        )
        run = started.run
        handle = client.get_workflow_handle(workflow_id(run.organization_id, RUN_KIND, run.id))
        await handle.result()
        described = await handle.describe()
        seen.append(millis(described.start_time, described.close_time))
    return seen


async def bench(options: argparse.Namespace) -> None:
    configure_logging("warning")
    key = SigningKey.generate()
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    runner, echo = await echo_server()
    with tempfile.TemporaryDirectory() as directory, TemporalDevServer(Path(directory)) as server:
        settings = Settings.model_validate(
            {
                "store_url": f"sqlite:///{Path(directory) / 'bench.db'}",
                "temporal_url": server.url,
                "log_level": "warning",
            }
        )
        service = definition(WorkflowSettings(http_hosts=(echo,)))
        async with open_resources(settings, [service], verifier=verifier) as resources:
            host = Host([service], resources)
            await host.start()
            await host.wait_ready(within_seconds=60)
            client = await resources.temporal.client()
            token = key.mint(
                subject="bench-user",
                organization_id="bench-org",
                issuer="coder",
                audience="coder-api",
                roles=["member"],
                lifetime_seconds=3600,
            )
            metadata = (("authorization", f"Bearer {token}"),)
            flow = json_format.ParseDict(
                {
                    "name": "bench",
                    "steps": [
                        {
                            "name": "call",
                            "call": {
                                "http": {
                                    "method": "POST",
                                    "url": f"http://{echo}/echo",
                                    "body": {"n": 1},
                                }
                            },
                        }
                    ],
                },
                definition_pb2.Definition(),
            )
            bare_worker = Worker(
                client, task_queue=BARE_QUEUE, workflows=[Shout], activities=[shout]
            )
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                stub = WorkflowServiceStub(channel)
                created = await stub.CreateDefinition(
                    api.CreateDefinitionRequest(definition=flow), metadata=metadata
                )
                definition_id = created.definition.id
                async with bare_worker:
                    # Warm both paths (connections, caches, the sandbox's imports).
                    await bare_latency(client, 3, "warm")
                    await ours_latency(stub, metadata, definition_id, 3, client)
                    bare_ms = await bare_latency(client, options.runs, "measured")
                    ours_ms = await ours_latency(
                        stub, metadata, definition_id, options.runs, client
                    )
                    bare_rate = await rate(
                        options.starts,
                        options.concurrency,
                        lambda n: client.start_workflow(
                            Shout.run, "go", id=f"bench/starts/{n}", task_queue=BARE_QUEUE
                        ),
                    )
                    ours_rate = await rate(
                        options.starts,
                        options.concurrency,
                        lambda _n: stub.StartRun(
                            api.StartRunRequest(definition_id=definition_id), metadata=metadata
                        ),
                    )
            await host.stop(grace=0)
    await runner.cleanup()
    report(bare_rate, ours_rate, bare_ms, ours_ms, options)


def report(
    bare_rate: float,
    ours_rate: float,
    bare_ms: list[float],
    ours_ms: list[float],
    options: argparse.Namespace,
) -> None:
    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print(f"\n{options.starts} starts, {options.concurrency} in flight; {options.runs} runs each")
    print("| row | starts/s | vs bare | step run p50 ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for name, starts, latencies in (
        ("bare temporalio (one activity)", bare_rate, bare_ms),
        ("Workflow service (one HTTP step)", ours_rate, ours_ms),
    ):
        print(
            f"| {name} | {starts:,.0f} | {starts / bare_rate:.2f}x | "
            f"{statistics.median(latencies):.1f} | {p(latencies, 0.95):.1f} |"
        )
    ratio = ours_rate / bare_rate
    verdict = "met" if ratio >= START_RATIO_GOAL else "NOT met"
    print(f"starts goal ≥ {START_RATIO_GOAL}x bare: {verdict}")
    print("\ncritical path (scripts/bench/critical_path.py):")
    for row in measure():
        print(
            f"  {row.name}: median {row.median_ms:.1f} ms, p95 {row.p95_ms:.1f} ms, "
            f"CPU {row.cpu_ms:.1f} ms"
        )
    print(f"critical path goal ≤ {GOAL_MS:.0f} ms (the schedule's median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
