"""Critical-path benchmark: the schedule of a 10,000-task dependency graph (the computation
behind GetProjectGraph), as the bare function and with the response message built.

    .venv/bin/python scripts/bench/critical_path.py [--tasks 10000] [--edges 3] [--repeats 30]

The graph is random but fixed by a seed: each task depends on up to `--edges` earlier tasks,
and a third of the tasks also carry one blocking relation, so the graph is a DAG with about
1.8 edges per task. A third row times
the standard library's `graphlib` topological order of the same graph (order only, no
schedule), the yardstick for a loaded machine. Goal: the schedule of 10,000 tasks in 50 ms or less
(median).
`measure()` is what scripts/bench/execution.py calls for its critical-path row.
"""

from __future__ import annotations

import argparse
import graphlib
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from coder.planning.v1 import task_pb2
from services.planning._dependencies import graph_of, remaining
from services.planning._graph import schedule
from services.planning.repository import GraphTask

GOAL_MS = 50.0
HOUR = 3_600_000_000_000


@dataclass(frozen=True)
class Row:
    name: str
    median_ms: float
    p95_ms: float
    cpu_ms: float


def random_graph(
    tasks: int, edges: int, seed: int = 12
) -> tuple[list[GraphTask], list[tuple[str, str]]]:
    """`tasks` tasks, each depending on up to `edges` earlier ones, and a blocking relation
    from an earlier task on every third."""
    rng = random.Random(seed)
    ids = [f"t{index:05d}" for index in range(tasks)]
    graph = []
    for index, task_id in enumerate(ids):
        before = rng.sample(ids[:index], min(index, rng.randint(0, edges)))
        graph.append(
            GraphTask(
                task_id,
                f"task {index}",
                task_pb2.TASK_STATUS_TO_DO,
                rng.randint(1, 16) * HOUR,
                tuple(before),
                None,
                "",
            )
        )
    blocking = [(ids[rng.randrange(index)], ids[index]) for index in range(3, tasks, 3)]
    return graph, blocking


def _time(call: Callable[[], object], repeats: int) -> tuple[list[float], float]:
    call()  # warm
    walls: list[float] = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        walls.append((time.perf_counter() - started) * 1000)
    return walls, (time.process_time() - cpu_start) * 1000 / repeats


def measure(tasks: int = 10_000, edges: int = 3, repeats: int = 30) -> list[Row]:
    """The schedule alone, and the whole GetProjectGraph answer (schedule + message)."""
    graph, blocking = random_graph(tasks, edges)
    prerequisites: dict[str, list[str]] = {t.id: list(t.depends_on) for t in graph}
    for blocker, blocked in blocking:
        prerequisites[blocked].append(blocker)
    durations = {t.id: remaining(t) for t in graph}
    rows = []
    for name, call in (
        ("schedule (critical path)", lambda: schedule(durations, prerequisites)),
        ("GetProjectGraph answer", lambda: graph_of(graph, blocking)),
        # The standard library's topological order alone, no times: the yardstick of what a
        # pass over this graph costs on this machine under its present load.
        (
            "graphlib order (reference)",
            lambda: list(graphlib.TopologicalSorter(prerequisites).static_order()),
        ),
    ):
        walls, cpu = _time(call, repeats)
        walls.sort()
        p95 = walls[min(len(walls) - 1, int(len(walls) * 0.95))]
        rows.append(Row(name, statistics.median(walls), p95, cpu))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    graph, blocking = random_graph(args.tasks, args.edges)
    edge_count = sum(len(t.depends_on) for t in graph) + len(blocking)
    print(f"{args.tasks} tasks, {edge_count} edges, {args.repeats} repeats")
    print(f"{'row':<28}{'median ms':>12}{'p95 ms':>10}{'CPU ms':>10}")
    rows = measure(args.tasks, args.edges, args.repeats)
    for row in rows:
        print(f"{row.name:<28}{row.median_ms:>12.1f}{row.p95_ms:>10.1f}{row.cpu_ms:>10.1f}")
    verdict = "meets" if rows[0].median_ms <= GOAL_MS else "misses"
    print(f"goal: schedule of {args.tasks} tasks ≤ {GOAL_MS:.0f} ms — {verdict}")
    ratio = rows[0].cpu_ms / rows[2].cpu_ms
    print(f"schedule / graphlib order (CPU): {ratio:.2f}x")


if __name__ == "__main__":
    main()
