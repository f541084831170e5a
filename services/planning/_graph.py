"""The dependency graph of a project's tasks: cycle checks and the critical-path schedule.

Pure functions over task ids, durations and edges, so the service, the benchmark
(scripts/bench/critical_path.py) and the tests call the same code. The schedule is the
critical-path method in one topological pass forward (earliest start and finish) and one
backward (latest finish, slack): O(V + E), with Kahn's algorithm ordering the tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


class CycleFound(ValueError):
    """The edges form a cycle; `tasks` are the ones on or behind it (never ordered)."""

    def __init__(self, tasks: Sequence[str]) -> None:
        super().__init__(f"the dependency graph has a cycle through {len(tasks)} tasks")
        self.tasks = tasks


@dataclass(frozen=True, slots=True)
class Schedule:
    """Earliest and latest times of every task, in the unit of the durations given.

    `order` lists the tasks so that each comes after its prerequisites; `critical_path` is one
    longest chain, first to last; `finish` is its length.
    """

    order: list[str]
    earliest_start: dict[str, int]
    earliest_finish: dict[str, int]
    latest_finish: dict[str, int]
    critical_path: list[str]
    finish: int

    def slack(self, task_id: str) -> int:
        return self.latest_finish[task_id] - self.earliest_finish[task_id]


def schedule(durations: Mapping[str, int], prerequisites: Mapping[str, Iterable[str]]) -> Schedule:
    """The critical-path schedule of tasks with `durations`, where each task of
    `prerequisites` cannot start before the tasks it lists are done. Edges naming a task not
    in `durations` are ignored. Raises CycleFound when the edges form a cycle."""
    # Tasks become list positions for the passes: indexing a list costs half a dict lookup.
    ids = list(durations)
    index = {task: position for position, task in enumerate(ids)}
    weight = list(durations.values())
    successors: list[list[int]] = [[] for _ in ids]
    indegree = [0] * len(ids)
    for task_id, before in prerequisites.items():
        later = index.get(task_id)
        if later is None:
            continue
        for earlier_id in before:
            earlier = index.get(earlier_id)
            if earlier is not None:
                successors[earlier].append(later)
                indegree[later] += 1

    # Kahn's order and the forward pass in one sweep (the loop sees what it appends): a task
    # is taken once every prerequisite is placed, so its earliest start is final by then.
    order = [position for position, count in enumerate(indegree) if not count]
    start = [0] * len(ids)
    finish = [0] * len(ids)
    driver = [-1] * len(ids)  # the prerequisite that sets a task's start, for the path
    for task in order:
        done = finish[task] = start[task] + weight[task]
        for later in successors[task]:
            if done > start[later]:
                start[later] = done
                driver[later] = task
            indegree[later] -= 1
            if not indegree[later]:
                order.append(later)
    if len(order) != len(ids):
        raise CycleFound([ids[position] for position, count in enumerate(indegree) if count])

    end = max(finish, default=0)
    latest = [end] * len(ids)
    for task in reversed(order):
        best = end
        for later in successors[task]:
            candidate = latest[later] - weight[later]
            if candidate < best:
                best = candidate
        latest[task] = best

    path: list[str] = []
    node = next((task for task in order if finish[task] == end), -1)
    while node >= 0:
        path.append(ids[node])
        node = driver[node]
    path.reverse()
    return Schedule(
        [ids[task] for task in order],
        dict(zip(ids, start, strict=True)),
        dict(zip(ids, finish, strict=True)),
        dict(zip(ids, latest, strict=True)),
        path,
        end,
    )


def reaches(prerequisites: Mapping[str, Iterable[str]], start: Iterable[str], target: str) -> bool:
    """Whether following prerequisites from `start` reaches `target` (an edge into `target`
    from those tasks would close a cycle). Iterative DFS, each task visited once."""
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        stack.extend(prerequisites.get(node, ()))
    return False
