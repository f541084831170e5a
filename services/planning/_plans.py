"""Plans: an intent turned into a draft plan by the AI Service, refined by instructions,
validated, and approved into the project's tasks in one atomic write.

Generation reads the named knowledge pages (Knowledge, as a peer with the caller's token),
renders the shared prompt `coder/plan-from-intent` (Prompt Management, the platform's library
prompt an organization may override), and asks the AI Service for a chat completion whose
answer must follow `PLAN_SCHEMA` (structured output). The answer is parsed into a `PlanDraft`
and checked against its protovalidate rules and the plan's own rules (unique keys, known
dependencies and modules, no cycle); an answer that fails is sent back with what was wrong,
up to `ATTEMPTS` tries in all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import grpc
import protovalidate
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct, Value

from coder.ai.v1 import ai_service_pb2, ai_service_pb2_grpc, resources_pb2
from coder.knowledge.v1 import knowledge_service_pb2, knowledge_service_pb2_grpc
from coder.planning.v1 import plan_pb2, planning_service_pb2, task_pb2
from coder.prompt.v1 import prompt_pb2, prompt_service_pb2, prompt_service_pb2_grpc
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Peers,
    check_etag,
    current_principal,
    domain_error,
    new_id,
)
from services.kit.cache import LockManager
from services.planning._context import PlanningScope
from services.planning._graph import CycleFound, schedule
from services.planning.repository import PlanningRepository

PROMPT = "coder/plan-from-intent"
ATTEMPTS = 3
"""Tries of one generation or refinement: the first answer and two corrections."""
MAX_TASKS = 50
CONTEXT_CHARACTERS = 100_000
"""Most characters of knowledge pages the prompt takes (its `context` variable's limit)."""

_KEY = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,15}$"}
PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["modules", "tasks"],
    "properties": {
        "modules": {
            "type": "array",
            "maxItems": 20,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "name", "description"],
                "properties": {
                    "key": _KEY,
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": {"type": "string", "maxLength": 2000},
                },
            },
        },
        "tasks": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_TASKS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "key",
                    "title",
                    "description",
                    "module",
                    "estimateHours",
                    "dependsOn",
                    "acceptanceCriteria",
                ],
                "properties": {
                    "key": _KEY,
                    "title": {"type": "string", "minLength": 1, "maxLength": 500},
                    "description": {"type": "string", "maxLength": 20000},
                    "module": {"type": "string", "maxLength": 16},
                    "estimateHours": {"type": "number", "minimum": 0, "maximum": 1000},
                    "dependsOn": {"type": "array", "items": _KEY},
                    "acceptanceCriteria": {
                        "type": "array",
                        "maxItems": 20,
                        "items": {"type": "string", "minLength": 1, "maxLength": 1000},
                    },
                },
            },
        },
    },
}
"""The JSON Schema the model's answer must follow: `PlanDraft` in proto3 JSON."""

_ROLES = {
    prompt_pb2.MESSAGE_ROLE_SYSTEM: resources_pb2.ROLE_SYSTEM,
    prompt_pb2.MESSAGE_ROLE_USER: resources_pb2.ROLE_USER,
    prompt_pb2.MESSAGE_ROLE_ASSISTANT: resources_pb2.ROLE_ASSISTANT,
}

T = TypeVar("T")


class PlanAnswerInvalid(ValueError):
    """The model's answer is no valid plan; the message says why, for the model to fix."""


class PlanRules(PlanningScope):
    """Plans of the caller's organization's projects."""

    def __init__(
        self, repository: PlanningRepository, clock: Clock, locks: LockManager, peers: Peers
    ) -> None:
        super().__init__(repository, clock, locks)
        self._peers = peers

    async def generate_plan(
        self, request: planning_service_pb2.GeneratePlanRequest
    ) -> plan_pb2.Plan:
        """Draft a plan from the intent, store it as revision 1."""
        principal = current_principal()
        await self._project(principal.organization_id, request.project_id)
        context = await self._knowledge(request.knowledge_page_ids)
        conversation = await self._render(request.intent, context)
        draft = await self._ask(conversation, request.model, request.project_id)
        plan = plan_pb2.Plan(
            id=new_id(),
            project_id=request.project_id,
            organization_id=principal.organization_id,
            intent=request.intent,
            knowledge_page_ids=request.knowledge_page_ids,
            draft=draft,
            state=plan_pb2.PLAN_STATE_DRAFT,
            revision=1,
            created_by=principal.subject,
        )
        plan.create_time.FromDatetime(self._clock.now())
        plan.update_time.CopyFrom(plan.create_time)
        event = self._events(principal).plan("generated", plan)
        return await self._repository.plans.create(plan, event)

    async def get_plan(self, project_id: str, plan_id: str) -> plan_pb2.Plan:
        return await self._plan(current_principal().organization_id, project_id, plan_id)

    async def refine_plan(self, request: planning_service_pb2.RefinePlanRequest) -> plan_pb2.Plan:
        """Change a draft as the instruction says; the plan gets the next revision."""
        principal = current_principal()
        plan = await self._draft(principal.organization_id, request.project_id, request.plan_id)
        check_etag(request.etag, plan.etag, "plan")
        conversation = await self._render(plan.intent, "")
        conversation.append(
            resources_pb2.Message(role=resources_pb2.ROLE_ASSISTANT, content=_plan_json(plan.draft))
        )
        conversation.append(
            resources_pb2.Message(
                role=resources_pb2.ROLE_USER,
                content=f"Change the plan as follows, and answer with the whole plan again:\n"
                f"{request.instruction}",
            )
        )
        draft = await self._ask(conversation, request.model, request.project_id)
        refined = plan_pb2.Plan()
        refined.CopyFrom(plan)
        refined.draft.CopyFrom(draft)
        refined.revision += 1
        refined.ClearField("etag")
        refined.update_time.FromDatetime(self._clock.now())
        event = self._events(principal).plan("refined", refined)
        return await self._repository.plans.replace(refined, plan.etag, [event])

    async def validate_plan(self, project_id: str, plan_id: str) -> list[plan_pb2.PlanProblem]:
        plan = await self._plan(current_principal().organization_id, project_id, plan_id)
        return plan_problems(plan.draft)

    async def approve_plan(
        self, project_id: str, plan_id: str, etag: str
    ) -> tuple[plan_pb2.Plan, list[task_pb2.Task]]:
        """Create a valid draft's tasks in one atomic write, then mark the plan approved.

        Task ids are the plan's id and the task's key, so an approval interrupted between the
        two writes is finished by the next one: its tasks are already there, all or none."""
        principal = current_principal()
        organization_id = principal.organization_id
        plan = await self._draft(organization_id, project_id, plan_id)
        check_etag(etag, plan.etag, "plan")
        problems = plan_problems(plan.draft)
        if problems:
            raise FailedPrecondition(
                f"the plan cannot be approved: {problems[0].problem}",
                reason="PLAN_INVALID",
                metadata={"problems": str(len(problems))},
            )
        await self._project(organization_id, project_id)
        events = self._events(principal)
        tasks = plan_tasks(plan, principal.subject, self._clock.now())
        await self._repository.create_plan_tasks(
            organization_id, tasks, [events.task_created(task) for task in tasks]
        )
        approved = plan_pb2.Plan()
        approved.CopyFrom(plan)
        approved.state = plan_pb2.PLAN_STATE_APPROVED
        for key, task in zip((t.key for t in plan.draft.tasks), tasks, strict=True):
            approved.task_ids[key] = task.id
        approved.ClearField("etag")
        approved.update_time.FromDatetime(self._clock.now())
        stored = await self._repository.plans.replace(
            approved, plan.etag, [events.plan("approved", approved)]
        )
        created = await self._repository.tasks_by_id(
            organization_id, project_id, [task.id for task in tasks]
        )
        return stored, created

    # --- steps ---------------------------------------------------------------------------------

    async def _knowledge(self, page_ids: Sequence[str]) -> str:
        """The named knowledge pages as Markdown, read with the caller's token."""
        if not page_ids:
            return ""
        knowledge = await self._peers.stub(knowledge_service_pb2_grpc.KnowledgeServiceStub)
        parts = []
        for index, page_id in enumerate(page_ids):
            call = knowledge.GetPage(knowledge_service_pb2.GetPageRequest(page_id=page_id))
            try:
                reply = await _peer(call)
            except NotFound:
                # The project exists; what is missing is a page the request names.
                raise InvalidArgument(
                    f"knowledge page {page_id} not found",
                    reason="KNOWLEDGE_PAGE_NOT_FOUND",
                    violations=[
                        FieldViolation(f"knowledge_page_ids[{index}]", "no such knowledge page")
                    ],
                ) from None
            parts.append(f"# {reply.page.title}\n\n{reply.page.markdown}")
        return "\n\n".join(parts)[:CONTEXT_CHARACTERS]

    async def _render(self, intent: str, context: str) -> list[resources_pb2.Message]:
        """The planning prompt's production version, rendered for this intent."""
        prompts = await self._peers.stub(prompt_service_pb2_grpc.PromptServiceStub)
        request = prompt_service_pb2.RenderPromptRequest(
            name=PROMPT,
            variables={
                "intent": Value(string_value=intent),
                "context": Value(string_value=context),
                "max_tasks": Value(number_value=MAX_TASKS),
            },
        )
        rendered = await _peer(prompts.RenderPrompt(request))
        return [
            resources_pb2.Message(role=_ROLES[message.role], content=message.content)
            for message in rendered.messages
        ]

    async def _ask(
        self, conversation: list[resources_pb2.Message], model: str, project_id: str
    ) -> plan_pb2.PlanDraft:
        """The model's plan for the conversation, asked again with the reason while its
        answer is no valid plan."""
        ai = await self._peers.stub(ai_service_pb2_grpc.AiServiceStub)
        schema = Struct()
        schema.update(PLAN_SCHEMA)
        options = ai_service_pb2.ChatOptions(
            response_format=resources_pb2.RESPONSE_FORMAT_JSON_SCHEMA, json_schema=schema
        )
        messages = list(conversation)
        problem = ""
        for _ in range(ATTEMPTS):
            request = ai_service_pb2.CreateChatCompletionRequest(
                model=model, messages=messages, options=options, project_id=project_id
            )
            try:
                reply = await _peer(ai.CreateChatCompletion(request))
            except NotFound as missing:
                # The plan's project exists; the model the AI Service lacks is a precondition.
                raise FailedPrecondition(
                    f"the AI Service cannot answer: {missing}", reason=missing.reason
                ) from None
            answer = reply.message.content
            try:
                return parse_plan(answer)
            except PlanAnswerInvalid as invalid:
                problem = str(invalid)
            messages.append(
                resources_pb2.Message(role=resources_pb2.ROLE_ASSISTANT, content=answer)
            )
            messages.append(
                resources_pb2.Message(
                    role=resources_pb2.ROLE_USER,
                    content=f"That answer is not a valid plan: {problem}. Answer again with the "
                    "whole plan as one JSON object following the schema.",
                )
            )
        raise FailedPrecondition(
            f"the model gave no valid plan in {ATTEMPTS} tries; the last: {problem}",
            reason="PLAN_ANSWER_INVALID",
        )

    async def _plan(self, organization_id: str, project_id: str, plan_id: str) -> plan_pb2.Plan:
        plan = await self._repository.plans.get(organization_id, project_id, plan_id)
        if plan is None:
            raise NotFound(f"plan {plan_id} not found", reason="PLAN_NOT_FOUND")
        return plan

    async def _draft(self, organization_id: str, project_id: str, plan_id: str) -> plan_pb2.Plan:
        plan = await self._plan(organization_id, project_id, plan_id)
        if plan.state != plan_pb2.PLAN_STATE_DRAFT:
            raise FailedPrecondition(
                f"plan {plan_id} is approved; it no longer changes", reason="PLAN_APPROVED"
            )
        return plan


async def _peer(call: Awaitable[T]) -> T:
    """A peer's answer, or its refusal as the kit's error (its code and reason kept)."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        raise domain_error(error) from None


# --- the plan's rules --------------------------------------------------------------------------


def parse_plan(answer: str) -> plan_pb2.PlanDraft:
    """The draft an answer holds; PlanAnswerInvalid says what is wrong with it."""
    try:
        document = json.loads(answer)
    except json.JSONDecodeError as error:
        raise PlanAnswerInvalid(f"it is not JSON ({error.msg})") from None
    draft = plan_pb2.PlanDraft()
    try:
        json_format.ParseDict(document, draft)
    except json_format.ParseError as error:
        raise PlanAnswerInvalid(f"it does not follow the schema ({error})") from None
    violations = protovalidate.collect_violations(draft)
    if violations:
        first = violations[0].proto
        path = first.field.elements if first.field is not None else []
        where = ".".join(element.field_name for element in path) or "the plan"
        raise PlanAnswerInvalid(f"{where}: {first.message}")
    structural = [p for p in plan_problems(draft) if "estimate" not in p.problem]
    if structural:
        raise PlanAnswerInvalid("; ".join(_described(p) for p in structural))
    return draft


def plan_problems(draft: plan_pb2.PlanDraft) -> list[plan_pb2.PlanProblem]:
    """What keeps a draft from being approved: repeated keys, a dependency or module not in
    the plan, a module no task belongs to, a task without an estimate, a cycle."""
    problems: list[plan_pb2.PlanProblem] = []
    keys = [task.key for task in draft.tasks]
    modules = {module.key for module in draft.modules}
    used_modules: set[str] = set()
    seen: set[str] = set()
    for task in draft.tasks:
        if task.key in seen:
            problems.append(plan_pb2.PlanProblem(task_key=task.key, problem="the key repeats"))
        seen.add(task.key)
        for earlier in task.depends_on:
            if earlier == task.key:
                problems.append(
                    plan_pb2.PlanProblem(task_key=task.key, problem="it depends on itself")
                )
            elif earlier not in keys:
                problems.append(
                    plan_pb2.PlanProblem(
                        task_key=task.key, problem=f"it depends on {earlier}, not in the plan"
                    )
                )
        if task.module and task.module not in modules:
            problems.append(
                plan_pb2.PlanProblem(
                    task_key=task.key, problem=f"its module {task.module} is not in the plan"
                )
            )
        used_modules.add(task.module)
        if task.estimate_hours <= 0:
            problems.append(plan_pb2.PlanProblem(task_key=task.key, problem="it has no estimate"))
    for module in draft.modules:
        if module.key not in used_modules:
            problems.append(plan_pb2.PlanProblem(problem=f"module {module.key} has no tasks"))
    try:
        schedule(dict.fromkeys(keys, 0), {task.key: task.depends_on for task in draft.tasks})
    except CycleFound as cycle:
        problems.append(
            plan_pb2.PlanProblem(
                problem=f"the dependencies form a cycle through {', '.join(sorted(cycle.tasks))}"
            )
        )
    return problems


def _described(problem: plan_pb2.PlanProblem) -> str:
    return f"task {problem.task_key}: {problem.problem}" if problem.task_key else problem.problem


def _plan_json(draft: plan_pb2.PlanDraft) -> str:
    return json.dumps(json_format.MessageToDict(draft), separators=(",", ":"))


def plan_tasks(plan: plan_pb2.Plan, creator: str, now: Any) -> list[task_pb2.Task]:
    """The project tasks a valid plan makes: ids from the plan's id and the task's key,
    dependencies turned into those ids."""
    ids = {task.key: f"{plan.id}-{task.key}" for task in plan.draft.tasks}
    tasks = []
    for draft in plan.draft.tasks:
        description = draft.description
        if draft.acceptance_criteria:
            criteria = "\n".join(f"- [ ] {line}" for line in draft.acceptance_criteria)
            description = f"{description}\n\nAcceptance criteria:\n{criteria}".strip()
        task = task_pb2.Task(
            id=ids[draft.key],
            project_id=plan.project_id,
            organization_id=plan.organization_id,
            title=draft.title,
            description=description[:20000],
            status=task_pb2.TASK_STATUS_TO_DO,
            priority=task_pb2.TASK_PRIORITY_MEDIUM,
            labels=[f"module:{draft.module}"] if draft.module else [],
            depends_on_task_ids=[ids[key] for key in draft.depends_on],
            created_by=creator,
        )
        task.estimate.FromSeconds(round(draft.estimate_hours * 3600))
        task.create_time.FromDatetime(now)
        task.update_time.FromDatetime(now)
        tasks.append(task)
    return tasks
