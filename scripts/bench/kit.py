"""Kit benchmark: an empty echo RPC, Planning GetTask and ListTasks (sqlite, 10k tasks), side by
side in one run on one process, through the full interceptor pipeline over real gRPC.

    .venv/bin/python scripts/bench/kit.py [--seconds 5] [--concurrency 16] [--tasks 10000]

Client and server share the process (and its event loop), as in embedded mode, so each row
pays the same client cost and the ratio between rows is what the kit and the service add.
Goal: GetTask at 60% or more of the echo rate.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.ops.v1 import ops_pb2, ops_pb2_grpc
from coder.planning.v1 import planning_service_pb2 as pb
from coder.planning.v1 import planning_service_pb2_grpc, project_pb2, task_pb2
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
from services.planning import SERVICE


@dataclass
class Result:
    name: str
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def measure(
    name: str, call: Callable[[], Awaitable[object]], seconds: float, concurrency: int
) -> Result:
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    warm_until = time.perf_counter() + min(1.0, seconds / 5)
    while time.perf_counter() < warm_until:
        await call()
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, len(latencies), time.perf_counter() - started, latencies)


async def seed(
    stub: planning_service_pb2_grpc.PlanningServiceStub,
    metadata: tuple[tuple[str, str], ...],
    count: int,
) -> tuple[str, list[str]]:
    project = await stub.CreateProject(
        pb.CreateProjectRequest(project=project_pb2.Project(name="bench")), metadata=metadata
    )
    project_id = project.project.id
    ids: list[str] = []
    queue = iter(range(count))
    statuses = [task_pb2.TASK_STATUS_TO_DO, task_pb2.TASK_STATUS_IN_PROGRESS]

    async def writer() -> None:
        for n in queue:
            reply = await stub.CreateTask(
                pb.CreateTaskRequest(
                    project_id=project_id,
                    task=task_pb2.Task(
                        title=f"task {n}",
                        description="benchmark task " * 4,
                        labels=[f"l{n % 7}", "bench"],
                        priority=task_pb2.TASK_PRIORITY_MEDIUM,
                    ),
                ),
                metadata=metadata,
            )
            ids.append(reply.task.id)
            if n % 2:
                await stub.UpdateTask(
                    pb.UpdateTaskRequest(
                        task=task_pb2.Task(
                            id=reply.task.id, project_id=project_id, status=statuses[1]
                        ),
                        update_mask=FieldMask(paths=["status"]),
                    ),
                    metadata=metadata,
                )

    await asyncio.gather(*(writer() for _ in range(32)))
    return project_id, ids


async def run(options: argparse.Namespace) -> list[Result]:
    # As deployed: spans are recorded (not exported); access logs are filtered out.
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
                roles=["member"],
                lifetime_seconds=3600,
            )
            metadata = (("authorization", f"Bearer {token}"),)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
                ops = ops_pb2_grpc.OpsServiceStub(channel)
                planning = planning_service_pb2_grpc.PlanningServiceStub(channel)
                began = time.perf_counter()
                project_id, ids = await seed(planning, metadata, options.tasks)
                print(
                    f"seeded {len(ids)} tasks in {time.perf_counter() - began:.1f} s",
                    file=sys.stderr,
                )
                picks = iter(ids * 1000)
                echo = ops_pb2.EchoRequest(message="ping")
                listing = pb.ListTasksRequest(project_id=project_id, page_size=50)
                results = [
                    await measure(
                        "Echo (public, empty)",
                        lambda: ops.Echo(echo),
                        options.seconds,
                        options.concurrency,
                    ),
                    await measure(
                        "Planning GetTask",
                        lambda: planning.GetTask(
                            pb.GetTaskRequest(project_id=project_id, task_id=next(picks)),
                            metadata=metadata,
                        ),
                        options.seconds,
                        options.concurrency,
                    ),
                    await measure(
                        f"Planning ListTasks (50 of {options.tasks:,})",
                        lambda: planning.ListTasks(listing, metadata=metadata),
                        options.seconds,
                        options.concurrency,
                    ),
                ]
            await host.stop(1.0)
    return results


def report(results: list[Result], options: argparse.Namespace) -> None:
    echo = results[0].rate
    print(
        f"\nkit benchmark: {options.seconds:g} s per row, {options.concurrency} calls in flight, "
        f"sqlite with {options.tasks} tasks\n"
    )
    print("| RPC | calls/s | p50 ms | p99 ms | vs echo |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result.name} | {result.rate:,.0f} | {result.percentile(0.5):.2f} | "
            f"{result.percentile(0.99):.2f} | {result.rate / echo:.0%} |"
        )
    ratio = results[1].rate / echo
    verdict = "met" if ratio >= 0.6 else "NOT met"
    print(f"\nGetTask at {ratio:.0%} of echo: goal (>= 60%) {verdict}.")
    mean_ms = statistics.fmean(results[1].latencies) * 1000
    print(f"GetTask mean latency {mean_ms:.2f} ms.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=10_000)
    options = parser.parse_args()
    report(asyncio.run(run(options)), options)


if __name__ == "__main__":
    main()
