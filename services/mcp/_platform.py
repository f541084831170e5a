"""The platform's own tools: each is one RPC of a suite service, called for the caller with
its own token. Its arguments are the RPC's request as proto3 JSON and its structured result
the response, so the schemas come from the descriptors and a tool is one entry of `TOOLS`.

A tool is offered to a caller who holds the RPC's permission (read from the same proto
option the callee enforces), and the callee checks it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from coder.ai.v1 import ai_service_pb2_grpc
from coder.knowledge.v1 import knowledge_service_pb2_grpc
from coder.mcp.v1 import resources_pb2
from coder.planning.v1 import planning_service_pb2_grpc
from coder.prompt.v1 import prompt_service_pb2_grpc
from coder.usage.v1 import usage_service_pb2_grpc
from services.kit import AccessRule, Principal, rule_of
from services.mcp._schemas import message_schema

StubFactory = Callable[[grpc.aio.Channel], Any]


@dataclass(frozen=True, slots=True)
class PlatformTool:
    """One platform tool: `name` calls `service`'s RPC `method` through the `stub` factory."""

    name: str
    title: str
    description: str
    stub: StubFactory
    service: str
    method: str
    read_only: bool

    @property
    def descriptor(self) -> MethodDescriptor:
        found: MethodDescriptor = descriptor_pool.Default().FindMethodByName(
            f"{self.service}.{self.method}"
        )
        return found

    @property
    def rule(self) -> AccessRule:
        return rule_of(self.descriptor)

    def offered_to(self, principal: Principal) -> bool:
        """Whether the caller holds the RPC's permission (the callee enforces it again)."""
        rule = self.rule
        return rule.public or principal.can(rule.permission, rule.policy)

    def request(self) -> Message:
        message: Message = message_factory.GetMessageClass(self.descriptor.input_type)()
        return message

    def proto(self) -> resources_pb2.Tool:
        tool = resources_pb2.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            source=resources_pb2.TOOL_SOURCE_PLATFORM,
            read_only=self.read_only,
        )
        tool.input_schema.update(message_schema(self.descriptor.input_type, writable=True))
        tool.output_schema.update(message_schema(self.descriptor.output_type))
        return tool


PLANNING = "coder.planning.v1.PlanningService"
PROMPT = "coder.prompt.v1.PromptService"
USAGE = "coder.usage.v1.UsageService"
AI = "coder.ai.v1.AiService"
KNOWLEDGE = "coder.knowledge.v1.KnowledgeService"

_planning = planning_service_pb2_grpc.PlanningServiceStub
_prompt = prompt_service_pb2_grpc.PromptServiceStub
_usage = usage_service_pb2_grpc.UsageServiceStub
_ai = ai_service_pb2_grpc.AiServiceStub
_knowledge = knowledge_service_pb2_grpc.KnowledgeServiceStub

TOOLS: tuple[PlatformTool, ...] = (
    PlatformTool(
        "knowledge.search",
        "Search knowledge",
        'Search the Knowledge Base by words ("exact phrase", [tag=value], {in_name:…}) and by '
        "meaning, fused; hits carry highlights.",
        _knowledge,
        KNOWLEDGE,
        "SearchPages",
        read_only=True,
    ),
    PlatformTool(
        "knowledge.read_page",
        "Read a page",
        "Read one Knowledge Base page: its Markdown, tags and where it sits.",
        _knowledge,
        KNOWLEDGE,
        "GetPage",
        read_only=True,
    ),
    PlatformTool(
        "planning.list_projects",
        "List projects",
        "Page through the organization's projects.",
        _planning,
        PLANNING,
        "ListProjects",
        read_only=True,
    ),
    PlatformTool(
        "planning.create_project",
        "Create a project",
        "Create a project in the organization.",
        _planning,
        PLANNING,
        "CreateProject",
        read_only=False,
    ),
    PlatformTool(
        "planning.list_tasks",
        "List tasks",
        "Page through a project's tasks (filter by status, assignee and more).",
        _planning,
        PLANNING,
        "ListTasks",
        read_only=True,
    ),
    PlatformTool(
        "planning.get_task",
        "Read a task",
        "Read one task of a project.",
        _planning,
        PLANNING,
        "GetTask",
        read_only=True,
    ),
    PlatformTool(
        "planning.create_task",
        "Create a task",
        "Create a task in a project.",
        _planning,
        PLANNING,
        "CreateTask",
        read_only=False,
    ),
    PlatformTool(
        "prompt.list_prompts",
        "List prompts",
        "Page through the organization's prompt templates.",
        _prompt,
        PROMPT,
        "ListPrompts",
        read_only=True,
    ),
    PlatformTool(
        "prompt.render_prompt",
        "Render a prompt",
        "Render a prompt template (a label or version of it) with variables.",
        _prompt,
        PROMPT,
        "RenderPrompt",
        read_only=True,
    ),
    PlatformTool(
        "usage.query_usage",
        "Query usage",
        "Aggregate the organization's metered usage over a time range, grouped by dimensions.",
        _usage,
        USAGE,
        "QueryUsage",
        read_only=True,
    ),
    PlatformTool(
        "ai.chat_completion",
        "Chat completion",
        "Ask one of the organization's configured models for a chat completion.",
        _ai,
        AI,
        "CreateChatCompletion",
        read_only=False,
    ),
)

BY_NAME: dict[str, PlatformTool] = {tool.name: tool for tool in TOOLS}
PLATFORM_DOMAINS: frozenset[str] = frozenset(tool.name.split(".")[0] for tool in TOOLS)
