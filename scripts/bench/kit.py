"""Kit benchmark: an empty echo RPC, Planning GetTask, a filtered and sorted ListTasks and
CreateTask (sqlite, 10k tasks), side by side in one run on one process, through the full
interceptor pipeline over real gRPC.

    .venv/bin/python scripts/bench/kit.py [--seconds 5] [--concurrency 16] [--tasks 10000]

Client and server share the process (and its event loop), as in embedded mode, so each row
pays the same client cost and the ratio between rows is what the kit and the service add.
Goals: GetTask at 60% or more of the echo rate; ListTasks (50 of 10k, status in (to do, in
progress), most urgent first) at 40% or more; CreateTask (its event through the outbox and the
relay included) at 50% or more; every row's p99 at most 3x its p50.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc

from coder.common.v1 import paging_pb2
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
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Process CPU time (every thread, client included) per call: what a row costs, which a
        busy machine moves far less than it moves rates."""
        return self.cpu_seconds / self.calls * 1000

    @property
    def tail(self) -> float:
        """p99 over p50."""
        return self.percentile(0.99) / self.percentile(0.5)

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
    cpu_started = time.process_time()
    stop_at = started + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(
        name,
        len(latencies),
        time.perf_counter() - started,
        latencies,
        time.process_time() - cpu_started,
    )


STATUSES = (
    task_pb2.TASK_STATUS_TO_DO,
    task_pb2.TASK_STATUS_IN_PROGRESS,
    task_pb2.TASK_STATUS_BLOCKED,
    task_pb2.TASK_STATUS_REVIEW,
    task_pb2.TASK_STATUS_DONE,
)
PRIORITIES = (
    task_pb2.TASK_PRIORITY_LOW,
    task_pb2.TASK_PRIORITY_MEDIUM,
    task_pb2.TASK_PRIORITY_HIGH,
    task_pb2.TASK_PRIORITY_URGENT,
)
OPEN = (task_pb2.TASK_STATUS_TO_DO, task_pb2.TASK_STATUS_IN_PROGRESS)


def draft(n: int) -> task_pb2.Task:
    """The n-th benchmark task: statuses, priorities and due dates spread over the set, so a
    filter on open statuses keeps 40% of the tasks and a sort on priority has ties to break."""
    task = task_pb2.Task(
        title=f"task {n}",
        description="benchmark task " * 4,
        labels=[f"l{n % 7}", "bench"],
        status=STATUSES[n % len(STATUSES)],
        priority=PRIORITIES[(n // len(STATUSES)) % len(PRIORITIES)],
    )
    if n % 3:
        task.due_time.FromSeconds(1_900_000_000 + 3600 * (n % 500))
    return task


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

    async def writer() -> None:
        for n in queue:
            reply = await stub.CreateTask(
                pb.CreateTaskRequest(project_id=project_id, task=draft(n)), metadata=metadata
            )
            ids.append(reply.task.id)

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
                created = iter(range(options.tasks, 10**9))
                echo = ops_pb2.EchoRequest(message="ping")
                listing = pb.ListTasksRequest(
                    project_id=project_id,
                    page_size=50,
                    statuses=OPEN,
                    order_by=pb.TASK_ORDER_BY_PRIORITY,
                    direction=paging_pb2.SORT_DIRECTION_DESCENDING,
                )
                rows: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                    ("Echo (public, empty)", lambda: ops.Echo(echo)),
                    (
                        "Planning GetTask",
                        lambda: planning.GetTask(
                            pb.GetTaskRequest(project_id=project_id, task_id=next(picks)),
                            metadata=metadata,
                        ),
                    ),
                    (
                        f"Planning ListTasks (50 of {options.tasks:,}, open, by priority)",
                        lambda: planning.ListTasks(listing, metadata=metadata),
                    ),
                    (
                        "Planning CreateTask (+ event via outbox)",
                        lambda: planning.CreateTask(
                            pb.CreateTaskRequest(project_id=project_id, task=draft(next(created))),
                            metadata=metadata,
                        ),
                    ),
                ]
                results = []
                for name, call in rows:
                    print(f"measuring {name}", file=sys.stderr, flush=True)
                    profiler = cProfile.Profile()
                    profiled = bool(options.profile) and name.startswith(options.profile)
                    if profiled:
                        profiler.enable()
                    results.append(await measure(name, call, options.seconds, options.concurrency))
                    if profiled:
                        profiler.disable()
                        profiler.dump_stats(options.profile_file)
                # Every event of the CreateTask row leaves before the host stops.
                if resources.relay is not None:
                    await resources.relay.relay_pending()
            await host.stop(1.0)
    return results


GOALS = {
    "Planning GetTask": 0.6,
    "Planning ListTasks": 0.4,
    "Planning CreateTask": 0.5,
}
TAIL_LIMIT = 3.0


def report(results: list[Result], options: argparse.Namespace) -> None:
    echo = results[0].rate
    print(
        f"\nkit benchmark: {options.seconds:g} s per row, {options.concurrency} calls in flight, "
        f"sqlite with {options.tasks} tasks\n"
    )
    print("| RPC | calls/s | p50 ms | p99 ms | p99/p50 | CPU ms/call | vs echo |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result.name} | {result.rate:,.0f} | {result.percentile(0.5):.2f} | "
            f"{result.percentile(0.99):.2f} | {result.tail:.1f}x | {result.cpu_ms:.2f} | "
            f"{result.rate / echo:.0%} |"
        )
    print()
    for result in results:
        goal = next((g for prefix, g in GOALS.items() if result.name.startswith(prefix)), None)
        ratio = result.rate / echo
        checks = [f"p99 {result.tail:.1f}x p50 (<= {TAIL_LIMIT:g}x)"]
        met = result.tail <= TAIL_LIMIT
        if goal is not None:
            checks.insert(0, f"{ratio:.0%} of echo (>= {goal:.0%})")
            met = met and ratio >= goal
        print(f"{result.name}: {', '.join(checks)}: {'met' if met else 'NOT met'}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument(
        "--profile",
        metavar="ROW",
        help="run the row whose name starts with ROW under cProfile (e.g. 'Planning ListTasks')",
    )
    parser.add_argument("--profile-file", default="kit-bench.prof")
    options = parser.parse_args()
    report(asyncio.run(run(options)), options)


if __name__ == "__main__":
    main()
