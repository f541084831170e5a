"""The platform's MCP resources: the caller's knowledge and plans, read with the caller's
token from the services that own them.

- `coder://knowledge/spaces/{space_id}` — a space's index (text/markdown): its top pages, each
  a link to its own resource;
- `coder://knowledge/pages/{page_id}` — a page's Markdown (text/markdown);
- `coder://planning/projects/{project_id}` — a project and its tasks, the plan of work
  (application/json, proto3 JSON as the REST API answers).

`resources/list` lists the spaces, then the projects (one MCP cursor walks both lists: it
names the list and that list's own page token); `resources/templates/list` gives the three
URI templates, so a client can read any page or project it learns of from a tool.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from google.protobuf.json_format import MessageToDict

from coder.knowledge.v1 import knowledge_service_pb2 as knowledge_api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub

MARKDOWN = "text/markdown"
JSON = "application/json"
SPACE = "coder://knowledge/spaces/{space_id}"
PAGE = "coder://knowledge/pages/{page_id}"
PROJECT = "coder://planning/projects/{project_id}"
LIST_PAGE_SIZE = 50
"""Resources per `resources/list` answer."""
INDEX_PAGES = 1000
"""Top pages a space's index names; tasks a project's resource holds (the services' most)."""

TEMPLATES = [
    types.ResourceTemplate(
        name="knowledge-space",
        title="Knowledge space",
        uri_template=SPACE,
        description="A space of the Knowledge Base: its top pages, each linked as a resource.",
        mime_type=MARKDOWN,
    ),
    types.ResourceTemplate(
        name="knowledge-page",
        title="Knowledge page",
        uri_template=PAGE,
        description="A Knowledge Base page's Markdown.",
        mime_type=MARKDOWN,
    ),
    types.ResourceTemplate(
        name="planning-project",
        title="Project plan",
        uri_template=PROJECT,
        description="A project and its tasks (status, estimates, assignees) as JSON.",
        mime_type=JSON,
    ),
]

_URI = re.compile(
    r"^coder://(knowledge/spaces|knowledge/pages|planning/projects)/([0-9A-Za-z_-]{1,64})$"
)

Ask = Callable[[Callable[..., Awaitable[Any]], Any], Awaitable[Any]]
"""One RPC for the caller (the gateway's `_ask` bound to the request)."""
StubOf = Callable[[str], Any]
"""The stub of a domain's service on the gateway's channel."""


class UnknownResource(ValueError):
    """The URI names no resource of the platform."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where `resources/list` goes on: which list (`spaces`, `projects`) and its page token."""

    list: str
    token: str = ""

    def text(self) -> str:
        return json.dumps([self.list, self.token], separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls("spaces")
        try:
            kind, token = json.loads(text)
        except (ValueError, TypeError):
            raise UnknownResource("the cursor was not made by this server") from None
        if kind not in ("spaces", "projects") or not isinstance(token, str):
            raise UnknownResource("the cursor was not made by this server")
        return cls(kind, token)


async def list_resources(
    ask: Ask, stub_of: StubOf, cursor_text: str | None
) -> types.ListResourcesResult:
    """One page of the caller's spaces, then of their projects."""
    cursor = Cursor.parse(cursor_text)
    if cursor.list == "spaces":
        knowledge: KnowledgeServiceStub = stub_of("knowledge")
        request = knowledge_api.ListSpacesRequest(page_size=LIST_PAGE_SIZE, page_token=cursor.token)
        reply = await ask(knowledge.ListSpaces, request)
        resources = [
            types.Resource(
                name=f"space-{space.id}",
                title=space.name,
                uri=SPACE.format(space_id=space.id),
                description=space.description or None,
                mime_type=MARKDOWN,
            )
            for space in reply.spaces
        ]
        token = reply.next_page_token
        following = Cursor("spaces", token) if token else Cursor("projects")
        return types.ListResourcesResult(resources=resources, next_cursor=following.text())
    planning: PlanningServiceStub = stub_of("planning")
    listed = await ask(
        planning.ListProjects,
        planning_api.ListProjectsRequest(page_size=LIST_PAGE_SIZE, page_token=cursor.token),
    )
    resources = [
        types.Resource(
            name=f"project-{project.id}",
            title=project.name,
            uri=PROJECT.format(project_id=project.id),
            description=project.description or None,
            mime_type=JSON,
        )
        for project in listed.projects
    ]
    more = Cursor("projects", listed.next_page_token).text() if listed.next_page_token else None
    return types.ListResourcesResult(resources=resources, next_cursor=more)


async def read_resource(ask: Ask, stub_of: StubOf, uri: str) -> types.ReadResourceResult:
    """The contents of `uri`; `UnknownResource` when it is not one of the templates."""
    found = _URI.match(uri)
    if found is None:
        raise UnknownResource(f"{uri!r} is not a resource of this server (see the templates)")
    kind, key = found.groups()
    if kind == "knowledge/pages":
        knowledge: KnowledgeServiceStub = stub_of("knowledge")
        page = (await ask(knowledge.GetPage, knowledge_api.GetPageRequest(page_id=key))).page
        text = f"# {page.title}\n\n{page.markdown}".rstrip() + "\n"
        return _text(uri, MARKDOWN, text)
    if kind == "knowledge/spaces":
        knowledge = stub_of("knowledge")
        space = (await ask(knowledge.GetSpace, knowledge_api.GetSpaceRequest(space_id=key))).space
        pages = await ask(
            knowledge.ListPages, knowledge_api.ListPagesRequest(space_id=key, page_size=INDEX_PAGES)
        )
        lines = [f"# {space.name}", ""]
        if space.description:
            lines += [space.description, ""]
        lines += [f"- [{page.title}]({PAGE.format(page_id=page.id)})" for page in pages.pages]
        return _text(uri, MARKDOWN, "\n".join(lines).rstrip() + "\n")
    planning: PlanningServiceStub = stub_of("planning")
    got = await ask(planning.GetProject, planning_api.GetProjectRequest(project_id=key))
    project = got.project
    tasks = await ask(
        planning.ListTasks, planning_api.ListTasksRequest(project_id=key, page_size=INDEX_PAGES)
    )
    plan = {
        "project": MessageToDict(project),
        "tasks": [MessageToDict(task) for task in tasks.tasks],
        "moreTasks": bool(tasks.next_page_token),
    }
    return _text(uri, JSON, json.dumps(plan, ensure_ascii=False))


def _text(uri: str, mime_type: str, text: str) -> types.ReadResourceResult:
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, mime_type=mime_type, text=text)]
    )
