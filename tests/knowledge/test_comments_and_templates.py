"""Comment threads on a page, and templates new pages start from."""

from __future__ import annotations

import grpc

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space


async def comment(
    stub: KnowledgeServiceStub, token: str, page_id: str, text: str, parent_id: str = ""
) -> kb.Comment:
    answer: api.CreateCommentResponse = await stub.CreateComment(
        api.CreateCommentRequest(
            page_id=page_id, comment=kb.Comment(markdown=text, parent_id=parent_id)
        ),
        metadata=auth(token),
    )
    return answer.comment


class TestComments:
    async def test_replies_join_the_thread_and_go_with_their_parent(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide")
        start = await comment(stub, token(org, sub="ana"), page.id, "Is *this* right?")
        reply = await comment(stub, token(org, sub="bo"), page.id, "Yes", start.id)
        deeper = await comment(stub, token(org, sub="ana"), page.id, "Thanks", reply.id)
        other = await comment(stub, token(org, sub="bo"), page.id, "Another thread")
        assert start.thread_id == start.id
        assert reply.thread_id == deeper.thread_id == start.id
        assert "<em>this</em>" in start.html
        listed = await stub.ListComments(
            api.ListCommentsRequest(page_id=page.id), metadata=auth(token(org))
        )
        assert [c.markdown for c in listed.comments] == [
            "Is *this* right?",
            "Yes",
            "Thanks",
            "Another thread",
        ]
        deleted = await stub.DeleteComment(
            api.DeleteCommentRequest(page_id=page.id, comment_id=reply.id),
            metadata=auth(token(org, sub="bo")),
        )
        assert deleted.deleted_comments == 2
        listed = await stub.ListComments(
            api.ListCommentsRequest(page_id=page.id), metadata=auth(token(org))
        )
        assert [c.id for c in listed.comments] == [start.id, other.id]

    async def test_only_the_writer_changes_a_comment(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide")
        mine = await comment(stub, token(org, sub="ana"), page.id, "draft")
        error = await rpc_error(
            stub.UpdateComment(
                api.UpdateCommentRequest(
                    page_id=page.id, comment=kb.Comment(id=mine.id, markdown="hijacked")
                ),
                metadata=auth(token(org, sub="bo")),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "NOT_COMMENT_AUTHOR"
        changed = await stub.UpdateComment(
            api.UpdateCommentRequest(
                page_id=page.id, comment=kb.Comment(id=mine.id, markdown="final")
            ),
            metadata=auth(token(org, sub="ana")),
        )
        assert changed.comment.markdown == "final"


class TestTemplates:
    async def test_a_page_from_a_template_takes_what_it_leaves_empty(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        template = await stub.CreatePageTemplate(
            api.CreatePageTemplateRequest(
                page_template=kb.PageTemplate(
                    name="Incident",
                    kind=kb.PAGE_KIND_RUNBOOK,
                    markdown="## Impact\n",
                    tags=[kb.Tag(name="type", value="incident")],
                    steps=[kb.RunbookStep(text="Page on-call"), kb.RunbookStep(text="Mitigate")],
                )
            ),
            metadata=auth(token(org)),
        )
        space = await create_space(stub, token(org))
        page = await create_page(
            stub, token(org), space.id, "Outage 12", page_template_id=template.page_template.id
        )
        assert page.kind == kb.PAGE_KIND_RUNBOOK
        assert page.markdown == "## Impact\n"
        assert [(t.name, t.value) for t in page.tags] == [("type", "incident")]
        assert [s.text for s in page.steps] == ["Page on-call", "Mitigate"]
        listed = await stub.ListPageTemplates(
            api.ListPageTemplatesRequest(), metadata=auth(token(org))
        )
        assert [t.name for t in listed.page_templates] == ["Incident"]

    async def test_an_unknown_template_is_not_found(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        error = await rpc_error(
            create_page(stub, token(org), space.id, "X", page_template_id="nope"),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "TEMPLATE_NOT_FOUND"
