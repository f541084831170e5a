"""Pages: nested in a space, rendered to sanitized HTML, moved without cycles, updated into
revisions, linked (backlinks), tagged, and kept apart per organization."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space


class TestCreate:
    async def test_a_page_starts_at_revision_one_with_sanitized_html(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        markdown = "# Deploy\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **bold**"
        page = await create_page(stub, token(org, sub="ana"), space.id, "Deploy", markdown)
        assert page.revision == 1
        assert page.space_id == space.id
        assert page.created_by == page.updated_by == "ana"
        assert "<h1>Deploy</h1>" in page.html
        assert "<strong>bold</strong>" in page.html
        assert "<script>" not in page.html
        assert 'href="javascript' not in page.html
        got = await stub.GetPage(api.GetPageRequest(page_id=page.id), metadata=auth(token(org)))
        assert got.page == page

    async def test_pages_nest_and_list_one_level_by_title(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        top = await create_page(stub, token(org), space.id, "Ops")
        await create_page(stub, token(org), space.id, "b child", parent_id=top.id)
        await create_page(stub, token(org), space.id, "A child", parent_id=top.id)
        await create_page(stub, token(org), space.id, "Other top")
        below = await stub.ListPages(
            api.ListPagesRequest(space_id=space.id, parent_id=top.id), metadata=auth(token(org))
        )
        assert [p.title for p in below.pages] == ["A child", "b child"]
        assert all(not p.html for p in below.pages)
        tops = await stub.ListPages(
            api.ListPagesRequest(space_id=space.id), metadata=auth(token(org))
        )
        assert [p.title for p in tops.pages] == ["Ops", "Other top"]

    async def test_a_parent_must_be_a_live_page_of_the_space(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        other = await create_space(stub, token(org), "Other")
        elsewhere = await create_page(stub, token(org), other.id, "Elsewhere")
        error = await rpc_error(
            create_page(stub, token(org), space.id, "Child", parent_id=elsewhere.id),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"page.parent_id"}

    async def test_another_organization_finds_nothing(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Private")
        error = await rpc_error(
            stub.GetPage(api.GetPageRequest(page_id=page.id), metadata=auth(token(f"{org}-b"))),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "PAGE_NOT_FOUND"


class TestUpdate:
    async def test_a_content_change_makes_a_revision_and_a_move_does_not(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide", "one\ntwo\n")
        parent = await create_page(stub, token(org), space.id, "Parent")
        edited = await stub.UpdatePage(
            api.UpdatePageRequest(
                page=kb.Page(id=page.id, markdown="one\nthree\n", etag=page.etag),
                update_mask=FieldMask(paths=["markdown"]),
                summary="fix",
            ),
            metadata=auth(token(org)),
        )
        assert edited.page.revision == 2
        moved = await stub.UpdatePage(
            api.UpdatePageRequest(
                page=kb.Page(id=page.id, parent_id=parent.id),
                update_mask=FieldMask(paths=["parent_id"]),
            ),
            metadata=auth(token(org)),
        )
        assert (moved.page.revision, moved.page.parent_id) == (2, parent.id)
        revisions = await stub.ListPageRevisions(
            api.ListPageRevisionsRequest(page_id=page.id), metadata=auth(token(org))
        )
        assert [(r.revision, r.summary) for r in revisions.revisions] == [(2, "fix"), (1, "")]

    async def test_a_stale_etag_is_refused(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide")
        await stub.UpdatePage(
            api.UpdatePageRequest(page=kb.Page(id=page.id, title="Guide 2")),
            metadata=auth(token(org)),
        )
        await rpc_error(
            stub.UpdatePage(
                api.UpdatePageRequest(page=kb.Page(id=page.id, title="Guide 3", etag=page.etag)),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.ABORTED,
        )

    async def test_a_page_cannot_move_below_itself(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        top = await create_page(stub, token(org), space.id, "Top")
        child = await create_page(stub, token(org), space.id, "Child", parent_id=top.id)
        error = await rpc_error(
            stub.UpdatePage(
                api.UpdatePageRequest(
                    page=kb.Page(id=top.id, parent_id=child.id),
                    update_mask=FieldMask(paths=["parent_id"]),
                ),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "PARENT_INVALID"


class TestBacklinks:
    async def test_a_page_lists_the_live_pages_linking_to_it(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        target = await create_page(stub, token(org), space.id, "Target")
        linking = await create_page(
            stub, token(org), space.id, "Linking", f"See [the target](page:{target.id})."
        )
        assert list(linking.links) == [target.id]
        assert f'href="/knowledge/pages/{target.id}"' in linking.html
        await create_page(stub, token(org), space.id, "Unrelated", "no links")
        found = await stub.ListBacklinks(
            api.ListBacklinksRequest(page_id=target.id), metadata=auth(token(org))
        )
        assert [p.title for p in found.pages] == ["Linking"]
        await stub.DeletePage(api.DeletePageRequest(page_id=linking.id), metadata=auth(token(org)))
        found = await stub.ListBacklinks(
            api.ListBacklinksRequest(page_id=target.id), metadata=auth(token(org))
        )
        assert list(found.pages) == []


class TestRunbooks:
    async def test_steps_are_checked_off_in_order_and_reset(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        runbook = await create_page(
            stub, token(org), space.id, "Release", steps=("Tag", "Build", "Ship")
        )
        assert [s.text for s in runbook.steps] == ["Tag", "Build", "Ship"]
        first = runbook.steps[0].id
        checked = await stub.CheckRunbookStep(
            api.CheckRunbookStepRequest(page_id=runbook.id, step_id=first, checked=True),
            metadata=auth(token(org, sub="ana")),
        )
        step = checked.page.steps[0]
        assert (step.checked, step.checked_by) == (True, "ana")
        assert checked.page.revision == 1
        edited = await stub.UpdatePage(
            api.UpdatePageRequest(
                page=kb.Page(
                    id=runbook.id, steps=[*checked.page.steps, kb.RunbookStep(text="Announce")]
                ),
                update_mask=FieldMask(paths=["steps"]),
            ),
            metadata=auth(token(org)),
        )
        assert [s.checked for s in edited.page.steps] == [True, False, False, False]
        reset = await stub.ResetRunbook(
            api.ResetRunbookRequest(page_id=runbook.id), metadata=auth(token(org))
        )
        assert not any(s.checked for s in reset.page.steps)

    async def test_a_plain_page_has_no_steps(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        error = await rpc_error(
            stub.CreatePage(
                api.CreatePageRequest(
                    space_id=space.id,
                    page=kb.Page(
                        title="Plain",
                        kind=kb.PAGE_KIND_PAGE,
                        steps=[kb.RunbookStep(text="x")],
                    ),
                ),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"page.steps"}
