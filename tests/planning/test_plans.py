"""Plans: an intent becomes a draft plan through the AI Service (a local server speaking
OpenAI's protocol) with the shared planning prompt, an invalid answer is asked again, a
draft is refined, validated and approved into the project's tasks in one write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from coder.ai.v1 import ai_service_pb2_grpc
from coder.planning.v1 import plan_pb2
from coder.planning.v1 import planning_service_pb2 as api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services import planning, prompt, usage
from services.ai import definition
from services.kit.bus import Subscription
from tests.ai.conftest import SETTINGS, KeyRing
from tests.ai.factories import Registry
from tests.ai.providers import LocalProvider, Reply, local_provider
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.hosts import ServiceHost
from tests.fixtures.tokens import TokenFactory, auth
from tests.planning.factories import create_project

MODEL = "planner"


def plan_answer(*tasks: dict[str, Any], modules: tuple[str, ...] = ("core",)) -> str:
    return json.dumps(
        {
            "modules": [{"key": key, "name": key.title(), "description": ""} for key in modules],
            "tasks": list(tasks),
        }
    )


def task(key: str, hours: float = 2, *depends_on: str, module: str = "core") -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Do {key}",
        "description": f"All of {key}",
        "module": module,
        "estimateHours": hours,
        "dependsOn": list(depends_on),
        "acceptanceCriteria": [f"{key} is reviewed"],
    }


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[LocalProvider]:
    async with local_provider() as served:
        yield served


@pytest.fixture(scope="module")
async def host(service_host: HostFactory) -> AsyncIterator[ServiceHost]:
    services = [
        planning.SERVICE,
        definition(SETTINGS, credentials=KeyRing()),
        usage.SERVICE,
        prompt.SERVICE,
    ]
    async with service_host(services) as started:
        yield started


@pytest.fixture
async def planner(
    host: ServiceHost, provider: LocalProvider, token: TokenFactory, org: str
) -> PlanningServiceStub:
    """The planning stub, with the organization's model `planner` on the local provider."""
    ai = ai_service_pb2_grpc.AiServiceStub(host.channel)
    registry = Registry(ai, auth(token(org, ("admin",), "admin-1")), provider)
    await registry.model(MODEL, await registry.provider())
    return PlanningServiceStub(host.channel)


async def generate(
    stub: PlanningServiceStub, member: str, project_id: str, intent: str = "Ship a login page"
) -> plan_pb2.Plan:
    request = api.GeneratePlanRequest(project_id=project_id, intent=intent, model=MODEL)
    response: api.GeneratePlanResponse = await stub.GeneratePlan(request, metadata=auth(member))
    return response.plan


class TestGeneratePlan:
    async def test_an_invalid_answer_is_asked_again_with_the_reason(
        self,
        planner: PlanningServiceStub,
        provider: LocalProvider,
        token: TokenFactory,
        org: str,
        host: ServiceHost,
    ) -> None:
        recorder = EventRecorder()
        await host.resources.bus.subscribe(
            Subscription(f"plans-{org}", "planning", ("planning.plan.*",), recorder.record)
        )
        member = token(org, ("member",), "member-1")
        project = await create_project(planner, member)
        before = len(provider.seen(MODEL))
        provider.script(
            MODEL,
            Reply(text=plan_answer(task("ui", 3, "ghost"))),
            Reply(text=plan_answer(task("api", 5), task("ui", 3, "api"))),
        )
        plan = await generate(planner, member, project.id)

        assert (plan.state, plan.revision, plan.intent) == (
            plan_pb2.PLAN_STATE_DRAFT,
            1,
            "Ship a login page",
        )
        assert [(t.key, list(t.depends_on)) for t in plan.draft.tasks] == [
            ("api", []),
            ("ui", ["api"]),
        ]
        assert plan.draft.tasks[1].acceptance_criteria == ["ui is reviewed"]
        seen = provider.seen(MODEL)[before:]
        assert len(seen) == 2
        first, retry = seen[0].body, seen[1].body
        assert first["response_format"]["type"] == "json_schema"
        assert "Ship a login page" in first["messages"][-1]["content"]
        assert first["messages"][0]["role"] == "system"
        assert "depends on ghost" in retry["messages"][-1]["content"]
        [event] = await recorder.settle(org, 1)
        assert (event.type, event.subject) == ("planning.plan.generated", plan.id)

    async def test_three_invalid_answers_fail_the_generation(
        self, planner: PlanningServiceStub, provider: LocalProvider, token: TokenFactory, org: str
    ) -> None:
        member = token(org, ("member",), "member-1")
        project = await create_project(planner, member)
        provider.script(MODEL, *(Reply(text="not json") for _ in range(3)))
        error = await rpc_error(
            generate(planner, member, project.id), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert error_reason(error) == "PLAN_ANSWER_INVALID"


class TestRefineValidateApprove:
    async def test_a_refined_plan_is_approved_into_tasks(
        self, planner: PlanningServiceStub, provider: LocalProvider, token: TokenFactory, org: str
    ) -> None:
        member = token(org, ("member",), "member-1")
        project = await create_project(planner, member)
        provider.script(MODEL, Reply(text=plan_answer(task("api", 5), task("ui", 0, "api"))))
        plan = await generate(planner, member, project.id)

        validated = await planner.ValidatePlan(
            api.ValidatePlanRequest(project_id=project.id, plan_id=plan.id), metadata=auth(member)
        )
        assert not validated.valid
        assert [(p.task_key, p.problem) for p in validated.problems] == [
            ("ui", "it has no estimate")
        ]
        approve = api.ApprovePlanRequest(project_id=project.id, plan_id=plan.id)
        error = await rpc_error(
            planner.ApprovePlan(approve, metadata=auth(member)), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert error_reason(error) == "PLAN_INVALID"

        before = len(provider.seen(MODEL))
        provider.script(
            MODEL,
            Reply(
                text=plan_answer(
                    task("api", 5),
                    task("ui", 3, "api"),
                    task("docs", 1, "ui", module="help"),
                    modules=("core", "help"),
                )
            ),
        )
        refined = (
            await planner.RefinePlan(
                api.RefinePlanRequest(
                    project_id=project.id,
                    plan_id=plan.id,
                    instruction="Estimate the UI at 3 hours and add docs",
                    etag=plan.etag,
                    model=MODEL,
                ),
                metadata=auth(member),
            )
        ).plan
        assert refined.revision == 2
        asked = provider.seen(MODEL)[before]
        assert "add docs" in asked.body["messages"][-1]["content"]
        assert asked.body["messages"][-2]["role"] == "assistant"

        approved = await planner.ApprovePlan(
            api.ApprovePlanRequest(project_id=project.id, plan_id=plan.id, etag=refined.etag),
            metadata=auth(member),
        )
        assert approved.plan.state == plan_pb2.PLAN_STATE_APPROVED
        by_key = dict(approved.plan.task_ids)
        assert [t.id for t in approved.tasks] == [by_key["api"], by_key["ui"], by_key["docs"]]
        api_task, ui_task, docs_task = approved.tasks
        assert list(ui_task.depends_on_task_ids) == [api_task.id]
        assert list(docs_task.depends_on_task_ids) == [ui_task.id]
        assert ui_task.estimate.seconds == 3 * 3600
        assert "- [ ] ui is reviewed" in ui_task.description
        assert list(docs_task.labels) == ["module:help"]

        again = await rpc_error(
            planner.ApprovePlan(approve, metadata=auth(member)), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert error_reason(again) == "PLAN_APPROVED"
        listed = await planner.ListTasks(
            api.ListTasksRequest(project_id=project.id), metadata=auth(member)
        )
        assert len(listed.tasks) == 3
        graph = await planner.GetProjectGraph(
            api.GetProjectGraphRequest(project_id=project.id), metadata=auth(member)
        )
        assert list(graph.critical_path) == [api_task.id, ui_task.id, docs_task.id]

    async def test_another_organizations_plan_is_not_found(
        self, planner: PlanningServiceStub, provider: LocalProvider, token: TokenFactory, org: str
    ) -> None:
        member = token(org, ("member",), "member-1")
        project = await create_project(planner, member)
        provider.script(MODEL, Reply(text=plan_answer(task("api", 5))))
        plan = await generate(planner, member, project.id)
        other = auth(token(org + "-b", ("member",), "member-2"))
        await rpc_error(
            planner.GetPlan(
                api.GetPlanRequest(project_id=project.id, plan_id=plan.id), metadata=other
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        await rpc_error(
            planner.ApprovePlan(
                api.ApprovePlanRequest(project_id=project.id, plan_id=plan.id), metadata=other
            ),
            grpc.StatusCode.NOT_FOUND,
        )


class TestPlanRules:
    def test_a_cycle_and_orphans_are_problems(self) -> None:
        from services.planning._plans import PlanAnswerInvalid, parse_plan, plan_problems

        draft = plan_pb2.PlanDraft(
            modules=[plan_pb2.PlanModule(key="lonely", name="Lonely")],
            tasks=[
                plan_pb2.PlanTask(key="a", title="a", estimate_hours=1, depends_on=["b"]),
                plan_pb2.PlanTask(key="b", title="b", estimate_hours=1, depends_on=["a"]),
            ],
        )
        problems = [p.problem for p in plan_problems(draft)]
        assert problems == [
            "module lonely has no tasks",
            "the dependencies form a cycle through a, b",
        ]
        with pytest.raises(PlanAnswerInvalid, match="schema"):
            parse_plan(json.dumps({"tasks": [{"key": "a", "title": "a", "extra": 1}]}))
        with pytest.raises(PlanAnswerInvalid, match="tasks"):
            parse_plan(json.dumps({"modules": [], "tasks": []}))
