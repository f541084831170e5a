"""The repository base: entity reads never see the bus's documents, and a commit stores the
state change and its events atomically and wakes the relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf import struct_pb2

from coder.events.v1 import event_pb2
from services.kit import DocumentExists, Entities, Repository
from services.kit.bus import DOC_TYPE_FIELD, EventBus, MemoryBus, OutboxRelay, make_event
from services.kit.store import BatchOp, ContainerSpec, DocumentStore, F, Query, open_store

ITEMS = ContainerSpec("items", indexes=("/color",), outbox=True)
PLAIN = ContainerSpec("plain", indexes=("/color",))


class Items(Repository):
    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self.items = self.entities("items")
        self.plain = self.entities("plain")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DocumentStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    await opened.open([ITEMS, PLAIN])
    yield opened
    await opened.close()


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    opened = MemoryBus()
    await opened.start()
    yield opened
    await opened.close()


def event(organization: str, subject: str) -> event_pb2.Event:
    return make_event("shop.item.created", organization, subject, struct_pb2.Struct())


class TestContainerSpec:
    def test_an_outbox_container_indexes_the_bus_marker(self) -> None:
        assert f"/{DOC_TYPE_FIELD}" in ITEMS.indexes
        assert f"/{DOC_TYPE_FIELD}" not in PLAIN.indexes


class TestEntities:
    async def test_commit_stores_state_and_events_together(
        self, store: DocumentStore, bus: EventBus
    ) -> None:
        relay = OutboxRelay(store, bus, ["items"], poll_seconds=3600)
        items = Items(store, relay).items
        written = await items.commit(
            "org-1",
            [BatchOp.create({"id": "a", "color": "red"})],
            [event("org-1", "a"), event("org-1", "a")],
        )
        assert [d["id"] for d in written] == ["a"]
        raw = await store.container("items").query(Query(), partition="org-1")
        assert len(raw.items) == 3  # the entity and its two outbox documents
        assert await relay.relay_pending() == 2

    async def test_a_failed_commit_stores_no_event(self, store: DocumentStore) -> None:
        items = Items(store, None).items
        await items.commit("org-1", [BatchOp.create({"id": "a"})])
        with pytest.raises(DocumentExists):
            await items.commit("org-1", [BatchOp.create({"id": "a"})], [event("org-1", "a")])
        raw = await store.container("items").query(Query(), partition="org-1")
        assert [d["id"] for d in raw.items] == ["a"]

    async def test_reads_skip_bus_documents(self, store: DocumentStore) -> None:
        items = Items(store, None).items
        outbox_event = event("org-1", "a")
        await items.commit(
            "org-1",
            [BatchOp.create({"id": "a", "color": "red"}), BatchOp.create({"id": "b"})],
            [outbox_event],
        )
        assert await items.get("org-1", outbox_event.id) is None
        assert await items.get("org-1", "a") is not None
        assert [d["id"] for d in (await items.page(Query(), "org-1")).items] == ["a", "b"]
        assert [d["id"] for d in await items.every(Query().limit(1), "org-1")] == ["a", "b"]
        assert await items.count(Query(), "org-1") == 2
        assert await items.exists("org-1", F("color") == "red")
        assert not await items.exists("org-1", F("color") == "blue")

    @pytest.mark.parametrize("id", ["a/b", "a\\b", "a?b", "a#b", "", "x" * 256])
    async def test_an_id_no_document_can_have_names_none(
        self, store: DocumentStore, id: str
    ) -> None:
        """A caller's path parameter (`/models/a%2Fb`) is not found, not refused by the store."""
        items = Items(store, None).items
        assert await items.get("org-1", id) is None

    async def test_events_need_an_outbox_container(self, store: DocumentStore) -> None:
        plain: Entities = Items(store, None).plain
        with pytest.raises(ValueError, match="outbox=True"):
            await plain.commit("org-1", [BatchOp.create({"id": "a"})], [event("org-1", "a")])
        assert await plain.get("org-1", "a") is None
