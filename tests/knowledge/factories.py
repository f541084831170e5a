"""Building spaces and pages through the real service."""

from __future__ import annotations

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.tokens import auth


async def create_space(stub: KnowledgeServiceStub, token: str, name: str = "Docs") -> kb.Space:
    answer: api.CreateSpaceResponse = await stub.CreateSpace(
        api.CreateSpaceRequest(space=kb.Space(name=name)), metadata=auth(token)
    )
    return answer.space


async def create_page(
    stub: KnowledgeServiceStub,
    token: str,
    space_id: str,
    title: str,
    markdown: str = "",
    *,
    parent_id: str = "",
    tags: dict[str, str] | None = None,
    steps: tuple[str, ...] = (),
    page_template_id: str = "",
) -> kb.Page:
    page = kb.Page(
        title=title,
        markdown=markdown,
        parent_id=parent_id,
        tags=[kb.Tag(name=n, value=v) for n, v in (tags or {}).items()],
    )
    if steps:
        page.kind = kb.PAGE_KIND_RUNBOOK
        page.steps.extend(kb.RunbookStep(text=text) for text in steps)
    answer: api.CreatePageResponse = await stub.CreatePage(
        api.CreatePageRequest(space_id=space_id, page=page, page_template_id=page_template_id),
        metadata=auth(token),
    )
    return answer.page


async def search(stub: KnowledgeServiceStub, token: str, query: str, **fields: object) -> list[str]:
    """The titles of the hits, best first."""
    answer = await stub.SearchPages(
        api.SearchPagesRequest(query=query, **fields),  # type: ignore[arg-type]
        metadata=auth(token),
    )
    return [hit.title for hit in answer.hits]
