"""Documents are upserted by source id: new or changed content is chunked and embedded,
unchanged content is not embedded again, a metadata-only change re-labels without embedding,
and a delete (idempotent) takes the document out of search."""

from __future__ import annotations

import grpc

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import events_pb2, resources_pb2
from tests.embeddings.factories import (
    Stub,
    create_collection,
    document,
    equals,
    ids_of,
    search,
    upsert,
)
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth


class TestUpsert:
    async def test_new_documents_are_chunked_embedded_and_found(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        assert (collection.model, collection.dimensions) == ("all-MiniLM-L6-v2", 384)
        reply = await upsert(
            stub,
            member,
            collection.id,
            document("cats", "Cats purr and sleep in the sun all afternoon.", title="Cats"),
            document("rust", "Rust's borrow checker enforces memory safety at compile time."),
        )
        assert [r.outcome for r in reply.results] == [api.UPSERT_OUTCOME_INDEXED] * 2
        assert reply.embedded_tokens > 0
        assert all(r.document.chunk_count == 1 for r in reply.results)
        found = await search(stub, member, collection.id, "kittens napping", k=1)
        assert ids_of(found) == ["cats"]
        found = await search(stub, member, collection.id, "ownership and lifetimes in a compiler")
        assert ids_of(found)[0] == "rust"

    async def test_unchanged_content_is_not_embedded_again(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        page = document("page:1", "Deploys run every Tuesday.", metadata={"team": "ops"})
        first = await upsert(stub, member, collection.id, page)
        again = await upsert(stub, member, collection.id, page)
        assert again.results[0].outcome == api.UPSERT_OUTCOME_UNCHANGED
        assert again.embedded_tokens == 0
        assert again.results[0].document.etag == first.results[0].document.etag

    async def test_a_metadata_change_relabels_without_embedding(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        text = "Incident review: the cache stampede of March."
        await upsert(stub, member, collection.id, document("p", text, metadata={"team": "ops"}))
        reply = await upsert(
            stub, member, collection.id, document("p", text, metadata={"team": "web"})
        )
        assert reply.results[0].outcome == api.UPSERT_OUTCOME_METADATA_UPDATED
        assert reply.embedded_tokens == 0
        filter = resources_pb2.Filter(conditions=[equals("team", "web")])
        assert ids_of(await search(stub, member, collection.id, "cache", filter=filter)) == ["p"]
        filter = resources_pb2.Filter(conditions=[equals("team", "ops")])
        assert ids_of(await search(stub, member, collection.id, "cache", filter=filter)) == []

    async def test_changed_content_replaces_the_chunks(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member, chunking={"max_tokens": 20})
        await upsert(stub, member, collection.id, document("p", "alpha " * 100))
        reply = await upsert(stub, member, collection.id, document("p", "A short page about bees."))
        assert reply.results[0].outcome == api.UPSERT_OUTCOME_INDEXED
        got = await stub.GetDocument(
            api.GetDocumentRequest(
                collection_id=collection.id, document_id="p", include_chunks=True
            ),
            metadata=auth(member),
        )
        assert [c.text for c in got.chunks] == ["A short page about bees."]
        found = await search(stub, member, collection.id, "bees", k=5)
        assert [hit.chunk.text for hit in found.hits] == ["A short page about bees."]

    async def test_repeated_ids_and_nested_metadata_are_refused(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        error = await rpc_error(
            upsert(
                stub,
                member,
                collection.id,
                document("a", "x"),
                document("a", "y", metadata={"nested": {"no": 1}}),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"documents[1].id", "documents[1].metadata.nested"}

    async def test_indexing_publishes_an_event_and_local_usage(
        self, stub: Stub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        member = token(org, sub="indexer")
        collection = await create_collection(stub, member)
        reply = await upsert(
            stub, member, collection.id, document("e", "Events leave by the outbox.")
        )
        seen = await events.settle(org, 2)
        by_type = {e.type: e for e in seen}
        indexed = events_pb2.DocumentIndexed()
        by_type["embeddings.document.indexed"].data.Unpack(indexed)
        assert (indexed.document.id, indexed.document.collection_id) == ("e", collection.id)
        from coder.usage.v1 import events_pb2 as usage_events

        usage = usage_events.UsageRecorded()
        by_type["embeddings.embedding.completed"].data.Unpack(usage)
        assert usage.user_id == "indexer"
        assert usage.quantities["input_tokens"] == str(reply.embedded_tokens)
        assert (usage.provider, usage.model) == ("local", "all-MiniLM-L6-v2")


class TestDelete:
    async def test_a_deleted_document_leaves_search_and_deleting_again_succeeds(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member)
        await upsert(stub, member, collection.id, document("gone", "Temporary page about owls."))
        request = api.DeleteDocumentRequest(collection_id=collection.id, document_id="gone")
        assert (await stub.DeleteDocument(request, metadata=auth(member))).deleted
        assert not (await stub.DeleteDocument(request, metadata=auth(member))).deleted
        assert ids_of(await search(stub, member, collection.id, "owls")) == []
        error = await rpc_error(
            stub.GetDocument(
                api.GetDocumentRequest(collection_id=collection.id, document_id="gone"),
                metadata=auth(member),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "DOCUMENT_NOT_FOUND"
