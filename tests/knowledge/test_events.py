"""The events of the knowledge service leave through the outbox with the change."""

from __future__ import annotations

from coder.knowledge.v1 import events_pb2
from coder.knowledge.v1 import knowledge_service_pb2 as api
from coder.knowledge.v1.knowledge_service_pb2_grpc import KnowledgeServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import TokenFactory, auth
from tests.knowledge.factories import create_page, create_space


class TestPageEvents:
    async def test_a_page_life_is_published(
        self, stub: KnowledgeServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        space = await create_space(stub, token(org))
        page = await create_page(stub, token(org, sub="ana"), space.id, "Guide", "text")
        await stub.DeletePage(api.DeletePageRequest(page_id=page.id), metadata=auth(token(org)))
        await stub.RestorePage(api.RestorePageRequest(page_id=page.id), metadata=auth(token(org)))
        received = await events.settle(org, 4)
        assert [e.type for e in received] == [
            "knowledge.space.created",
            "knowledge.page.created",
            "knowledge.page.trashed",
            "knowledge.page.restored",
        ]
        created = events_pb2.PageChanged()
        assert received[1].data.Unpack(created)
        assert (created.page.id, created.page.title, created.page.markdown) == (
            page.id,
            "Guide",
            "text",
        )
        assert not created.page.etag and not created.page.html
        assert received[1].actor.id == "ana"
        assert received[1].subject == page.id
