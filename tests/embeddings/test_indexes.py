"""The in-process index is rebuilt from the store when a process starts: a new process on the
same embedded store finds what the last one indexed, and the chunks of a generation its
document no longer names stay out of it."""

from __future__ import annotations

from pathlib import Path

from coder.embeddings.v1 import embeddings_service_pb2_grpc
from services.embeddings import SERVICE
from services.embeddings.repository import CHUNKS
from services.kit.store import Query
from tests.conftest import HostFactory
from tests.embeddings.factories import create_collection, document, ids_of, search, upsert
from tests.fixtures.hosts import host_settings
from tests.fixtures.tokens import TokenFactory


async def test_a_restarted_process_searches_what_was_indexed_before(
    service_host: HostFactory, token: TokenFactory, org: str, tmp_path: Path
) -> None:
    settings = host_settings(tmp_path)
    member = token(org)
    async with service_host([SERVICE], settings=settings) as first:
        stub = embeddings_service_pb2_grpc.EmbeddingsServiceStub(first.channel)
        collection = await create_collection(stub, member)
        await upsert(
            stub,
            member,
            collection.id,
            document("bees", "Bees dance to tell the hive where flowers are."),
            document("tides", "The moon's pull raises the tides twice a day."),
        )
        await upsert(stub, member, collection.id, document("tides", "Ocean tides follow the moon."))
        # A generation a crash left behind: a chunk no document names.
        chunks = first.resources.store.container(CHUNKS)
        orphan = dict((await chunks.query(Query().limit(1), partition=org)).items[0])
        orphan.update(id=f"{collection.id}~bees~old~0", generation="old", text="orphan")
        await chunks.upsert(org, orphan)
    async with service_host([SERVICE], settings=settings) as second:
        stub = embeddings_service_pb2_grpc.EmbeddingsServiceStub(second.channel)
        found = await search(stub, member, collection.id, "honeybee waggle dance", k=5)
        assert ids_of(found)[0] == "bees"
        assert sorted(hit.chunk.text for hit in found.hits) == [
            "Bees dance to tell the hive where flowers are.",
            "Ocean tides follow the moon.",
        ]
