"""Collections: defaults from the model, settings checked against it, names unique in an
organization, delete takes the documents with it."""

from __future__ import annotations

import grpc

from coder.embeddings.v1 import embeddings_service_pb2 as api
from coder.embeddings.v1 import resources_pb2
from tests.embeddings.factories import Stub, create_collection, document, ids_of, search, upsert
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth


class TestCreate:
    async def test_defaults_come_from_the_local_model(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        collection = await create_collection(stub, token(org))
        assert collection.provider == resources_pb2.PROVIDER_LOCAL
        assert collection.metric == resources_pb2.METRIC_COSINE
        assert (collection.dimensions, collection.chunking.max_tokens) == (384, 254)

    async def test_settings_the_model_cannot_take_are_refused(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            create_collection(
                stub,
                token(org),
                dimensions=512,
                chunking={"max_tokens": 300, "overlap_tokens": 300},
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {
            "collection.dimensions",
            "collection.chunking.max_tokens",
            "collection.chunking.overlap_tokens",
        }
        error = await rpc_error(
            create_collection(stub, token(org), model="no-such-model"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "MODEL_UNKNOWN"

    async def test_an_ai_service_collection_names_its_model_and_dimensions(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        error = await rpc_error(
            create_collection(stub, token(org), provider=resources_pb2.PROVIDER_AI_SERVICE),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"collection.model", "collection.dimensions"}
        made = await create_collection(
            stub,
            token(org),
            "remote",
            provider=resources_pb2.PROVIDER_AI_SERVICE,
            model="text-embedding-3-small",
            dimensions=1536,
        )
        assert made.chunking.max_tokens == 512

    async def test_names_are_unique_in_an_organization(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        await create_collection(stub, token(org), "same")
        error = await rpc_error(
            create_collection(stub, token(org), "same"), grpc.StatusCode.ALREADY_EXISTS
        )
        assert error_reason(error) == "COLLECTION_NAME_TAKEN"
        other = await create_collection(stub, token(f"{org}-other"), "same")
        assert other.name == "same"


class TestReadAndDelete:
    async def test_get_and_list_count_documents(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        first = await create_collection(stub, member, "b-second")
        await create_collection(stub, member, "a-first")
        await upsert(stub, member, first.id, document("x", "one"), document("y", "two"))
        got = await stub.GetCollection(
            api.GetCollectionRequest(collection_id=first.id), metadata=auth(member)
        )
        assert got.collection.document_count == 2
        listed = await stub.ListCollections(api.ListCollectionsRequest(), metadata=auth(member))
        assert [c.name for c in listed.collections] == ["a-first", "b-second"]
        documents = await stub.ListDocuments(
            api.ListDocumentsRequest(collection_id=first.id, page_size=1), metadata=auth(member)
        )
        assert [d.id for d in documents.documents] == ["x"] and documents.next_page_token

    async def test_deleting_a_collection_deletes_its_documents(
        self, stub: Stub, token: TokenFactory, org: str
    ) -> None:
        member = token(org)
        collection = await create_collection(stub, member, "doomed")
        await upsert(stub, member, collection.id, document("x", "Hedgehogs eat beetles."))
        await stub.DeleteCollection(
            api.DeleteCollectionRequest(collection_id=collection.id), metadata=auth(member)
        )
        error = await rpc_error(search(stub, member, collection.id, "x"), grpc.StatusCode.NOT_FOUND)
        assert error_reason(error) == "COLLECTION_NOT_FOUND"
        again = await create_collection(stub, member, "doomed")
        await upsert(stub, member, again.id, document("y", "Foxes eat berries."))
        assert ids_of(await search(stub, member, again.id, "hedgehogs")) == ["y"]
