"""The dependency graph: a topological schedule with the critical path, as a function and
through GetProjectGraph."""

from __future__ import annotations

import pytest

from coder.planning.v1 import graph_pb2, relation_pb2, task_pb2
from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.planning._graph import CycleFound, schedule
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import (
    changed,
    create_project,
    create_task,
    hours,
    relate,
    update_task,
)


class TestSchedule:
    def test_the_longest_chain_is_critical(self) -> None:
        #   a(3) → b(2) → d(4)
        #   a(3) → c(1) ──┘
        plan = schedule({"a": 3, "b": 2, "c": 1, "d": 4}, {"b": ["a"], "c": ["a"], "d": ["b", "c"]})
        assert plan.order[0] == "a" and plan.order[-1] == "d"
        assert plan.earliest_start == {"a": 0, "b": 3, "c": 3, "d": 5}
        assert plan.earliest_finish == {"a": 3, "b": 5, "c": 4, "d": 9}
        assert plan.critical_path == ["a", "b", "d"]
        assert plan.finish == 9
        assert plan.slack("c") == 1
        assert [plan.slack(t) for t in "abd"] == [0, 0, 0]

    def test_independent_tasks_run_side_by_side(self) -> None:
        plan = schedule({"x": 5, "y": 7}, {})
        assert plan.finish == 7
        assert plan.critical_path == ["y"]
        assert plan.slack("x") == 2

    def test_a_cycle_is_reported(self) -> None:
        with pytest.raises(CycleFound) as found:
            schedule({"a": 1, "b": 1, "c": 1}, {"a": ["b"], "b": ["a"]})
        assert sorted(found.value.tasks) == ["a", "b"]

    def test_an_empty_graph(self) -> None:
        plan = schedule({}, {})
        assert (plan.order, plan.critical_path, plan.finish) == ([], [], 0)


class TestGetProjectGraph:
    async def test_dependencies_and_blocking_relations_are_scheduled(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        design = await create_task(stub, token(org), project.id, title="design", estimate=hours(8))
        build = await create_task(
            stub,
            token(org),
            project.id,
            title="build",
            estimate=hours(16),
            depends_on_task_ids=[design.id],
        )
        docs = await create_task(stub, token(org), project.id, title="docs", estimate=hours(4))
        ship = await create_task(stub, token(org), project.id, title="ship", estimate=hours(1))
        unestimated = await create_task(stub, token(org), project.id, title="later")
        await relate(stub, token(org), build, ship, relation_pb2.RELATION_KIND_BLOCKS)
        await relate(stub, token(org), ship, docs, relation_pb2.RELATION_KIND_BLOCKED_BY)

        graph = await stub.GetProjectGraph(
            api.GetProjectGraphRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert list(graph.critical_path) == [design.id, build.id, ship.id]
        assert graph.earliest_finish == hours(25)
        nodes = {node.task_id: node for node in graph.nodes}
        assert set(nodes) == {design.id, build.id, docs.id, ship.id, unestimated.id}
        assert nodes[ship.id].earliest_start == hours(24)
        assert nodes[docs.id].slack == hours(20)
        assert not nodes[docs.id].critical and nodes[build.id].critical
        assert nodes[unestimated.id].duration == hours(0)
        edges = {(e.from_task_id, e.to_task_id, e.source) for e in graph.edges}
        assert edges == {
            (design.id, build.id, graph_pb2.EDGE_SOURCE_DEPENDENCY),
            (build.id, ship.id, graph_pb2.EDGE_SOURCE_RELATION),
            (docs.id, ship.id, graph_pb2.EDGE_SOURCE_RELATION),
        }
        order = [node.task_id for node in graph.nodes]
        assert order.index(design.id) < order.index(build.id) < order.index(ship.id)

    async def test_done_work_takes_no_more_time(
        self, stub: PlanningServiceStub, token: TokenFactory, org: str
    ) -> None:
        project = await create_project(stub, token(org))
        first = await create_task(
            stub, token(org), project.id, estimate=hours(3), status=task_pb2.TASK_STATUS_IN_PROGRESS
        )
        await create_task(
            stub, token(org), project.id, estimate=hours(2), depends_on_task_ids=[first.id]
        )
        await update_task(
            stub, token(org), changed(first, status=task_pb2.TASK_STATUS_DONE), "status"
        )
        graph = await stub.GetProjectGraph(
            api.GetProjectGraphRequest(project_id=project.id), metadata=auth(token(org))
        )
        assert graph.earliest_finish == hours(2)
