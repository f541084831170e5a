"""Revisions: a unified diff between two, and a restore that makes an old content current as
a new revision."""

from __future__ import annotations

import grpc

from coder.knowledge.v1 import knowledge_pb2 as kb
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space


async def edit(stub: KnowledgeServiceStub, token: str, page_id: str, markdown: str) -> kb.Page:
    answer: api.UpdatePageResponse = await stub.UpdatePage(
        api.UpdatePageRequest(page=kb.Page(id=page_id, markdown=markdown)), metadata=auth(token)
    )
    return answer.page


class TestDiff:
    async def test_the_diff_names_the_revisions_and_shows_the_changed_lines(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide", "alpha\nbeta\ngamma\n")
        await edit(stub, token(org), page.id, "alpha\nBETA\ngamma\n")
        diff = await stub.DiffPageRevisions(
            api.DiffPageRevisionsRequest(page_id=page.id, from_revision=1),
            metadata=auth(token(org)),
        )
        assert diff.unified_diff.splitlines() == [
            "--- r1",
            "+++ r2",
            "@@ -1,3 +1,3 @@",
            " alpha",
            "-beta",
            "+BETA",
            " gamma",
        ]
        assert not diff.title_changed
        latest = await stub.DiffPageRevisions(
            api.DiffPageRevisionsRequest(page_id=page.id), metadata=auth(token(org))
        )
        assert latest.unified_diff == diff.unified_diff

    async def test_an_unknown_revision_is_not_found(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide")
        error = await rpc_error(
            stub.GetPageRevision(
                api.GetPageRevisionRequest(page_id=page.id, revision=7), metadata=auth(token(org))
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "REVISION_NOT_FOUND"


class TestRestore:
    async def test_restoring_makes_a_new_revision_with_the_old_content(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org), space.id, "Guide", "first")
        await edit(stub, token(org), page.id, "second")
        restored = await stub.RestorePageRevision(
            api.RestorePageRevisionRequest(page_id=page.id, revision=1),
            metadata=auth(token(org)),
        )
        assert (restored.page.revision, restored.page.markdown) == (3, "first")
        newest = await stub.GetPageRevision(
            api.GetPageRevisionRequest(page_id=page.id, revision=3), metadata=auth(token(org))
        )
        assert (newest.revision.markdown, newest.revision.summary) == (
            "first",
            "Restored revision 1",
        )
