"""The recycle bin: a deleted page goes there with its subtree, is restored with it (at the
top when its parent is gone), or purged for good."""

from __future__ import annotations

import grpc

from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space


class TestTrash:
    async def test_deleting_trashes_the_subtree_and_restoring_brings_it_back(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        top = await create_page(stub, token(org), space.id, "Top")
        child = await create_page(stub, token(org), space.id, "Child", parent_id=top.id)
        await create_page(stub, token(org), space.id, "Grandchild", parent_id=child.id)
        trashed = await stub.DeletePage(
            api.DeletePageRequest(page_id=top.id), metadata=auth(token(org))
        )
        assert trashed.trashed_pages == 3
        await rpc_error(
            stub.GetPage(api.GetPageRequest(page_id=child.id), metadata=auth(token(org))),
            grpc.StatusCode.NOT_FOUND,
        )
        binned = await stub.ListRecycleBin(api.ListRecycleBinRequest(), metadata=auth(token(org)))
        assert [p.title for p in binned.pages] == ["Top"]
        assert binned.pages[0].HasField("trash_time")
        back = await stub.RestorePage(
            api.RestorePageRequest(page_id=top.id), metadata=auth(token(org))
        )
        assert back.restored_pages == 3
        assert not back.page.HasField("trash_time")
        below = await stub.ListPages(
            api.ListPagesRequest(space_id=space.id, parent_id=child.id), metadata=auth(token(org))
        )
        assert [p.title for p in below.pages] == ["Grandchild"]

    async def test_a_page_whose_parent_is_gone_comes_back_at_the_top(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        top = await create_page(stub, token(org), space.id, "Top")
        child = await create_page(stub, token(org), space.id, "Child", parent_id=top.id)
        await stub.DeletePage(api.DeletePageRequest(page_id=child.id), metadata=auth(token(org)))
        await stub.DeletePage(api.DeletePageRequest(page_id=top.id), metadata=auth(token(org)))
        back = await stub.RestorePage(
            api.RestorePageRequest(page_id=child.id), metadata=auth(token(org))
        )
        assert (back.restored_pages, back.page.parent_id) == (1, "")

    async def test_purging_deletes_for_good_and_empties_the_space(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        top = await create_page(stub, token(org), space.id, "Top")
        await create_page(stub, token(org), space.id, "Child", parent_id=top.id)
        await stub.DeletePage(api.DeletePageRequest(page_id=top.id), metadata=auth(token(org)))
        error = await rpc_error(
            stub.DeleteSpace(api.DeleteSpaceRequest(space_id=space.id), metadata=auth(token(org))),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "SPACE_NOT_EMPTY"
        purged = await stub.PurgePage(
            api.PurgePageRequest(page_id=top.id), metadata=auth(token(org))
        )
        assert purged.purged_pages == 2
        await rpc_error(
            stub.RestorePage(api.RestorePageRequest(page_id=top.id), metadata=auth(token(org))),
            grpc.StatusCode.NOT_FOUND,
        )
        await stub.DeleteSpace(api.DeleteSpaceRequest(space_id=space.id), metadata=auth(token(org)))

    async def test_only_the_deleted_page_is_restored_or_purged_by_its_id(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str
    ) -> None:
        space = await create_space(stub, token(org))
        top = await create_page(stub, token(org), space.id, "Top")
        child = await create_page(stub, token(org), space.id, "Child", parent_id=top.id)
        await stub.DeletePage(api.DeletePageRequest(page_id=top.id), metadata=auth(token(org)))
        await rpc_error(
            stub.RestorePage(api.RestorePageRequest(page_id=child.id), metadata=auth(token(org))),
            grpc.StatusCode.NOT_FOUND,
        )
