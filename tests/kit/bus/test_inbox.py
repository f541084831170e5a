"""Idempotent consumers: the inbox of processed-event markers, on the sqlite store."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import struct_pb2

from coder.events.v1 import event_pb2
from services.kit._errors import DocumentExists
from services.kit.bus import (
    ENTITIES_ONLY,
    INBOX_SPEC,
    INBOX_TTL_SECONDS,
    OUTBOX_INDEXES,
    Inbox,
    MemoryBus,
    Subscription,
    idempotent,
    make_event,
    marker_id,
)
from services.kit.store import BatchOp, Container, ContainerSpec, DocumentStore, PatchOp, Query
from tests.kit.bus.conftest import eventually

COUNTERS = ContainerSpec("counters", indexes=OUTBOX_INDEXES)


@pytest.fixture
async def inbox(store: DocumentStore) -> Inbox:
    await store.open([INBOX_SPEC, COUNTERS])
    return Inbox(store)


@pytest.fixture
def counters(store: DocumentStore, inbox: Inbox) -> Container:
    return store.container("counters")


def an_event(org: str = "org-1") -> event_pb2.Event:
    return make_event("planning.task.created", org, "task-1", struct_pb2.Struct())


class EffectCounter:
    def __init__(self, *, fail_times: int = 0, pause: float = 0.0) -> None:
        self.runs = 0
        self._fail_times = fail_times
        self._pause = pause

    async def __call__(self) -> None:
        self.runs += 1
        await asyncio.sleep(self._pause)
        if self.runs <= self._fail_times:
            raise RuntimeError("effect failed")


class TestRunOnce:
    async def test_second_delivery_is_skipped(self, inbox: Inbox) -> None:
        event, effect = an_event(), EffectCounter()

        assert await inbox.run_once("mailer", event, effect) is True
        assert await inbox.run_once("mailer", event, effect) is False

        assert effect.runs == 1
        assert await inbox.seen("mailer", event)

    async def test_consumers_are_independent(self, inbox: Inbox) -> None:
        event, effect = an_event(), EffectCounter()

        await inbox.run_once("mailer", event, effect)
        await inbox.run_once("indexer", event, effect)

        assert effect.runs == 2

    async def test_concurrent_duplicates_run_the_effect_once(self, inbox: Inbox) -> None:
        event, effect = an_event(), EffectCounter(pause=0.05)

        ran = await asyncio.gather(*(inbox.run_once("mailer", event, effect) for _ in range(5)))

        assert effect.runs == 1
        assert sorted(ran) == [False, False, False, False, True]

    async def test_failed_effect_leaves_no_marker_so_the_retry_runs(self, inbox: Inbox) -> None:
        event, effect = an_event(), EffectCounter(fail_times=1)

        with pytest.raises(RuntimeError, match="effect failed"):
            await inbox.run_once("mailer", event, effect)
        assert not await inbox.seen("mailer", event)
        assert await inbox.run_once("mailer", event, effect) is True

        assert effect.runs == 2

    async def test_marker_lives_in_the_event_partition_with_a_ttl(
        self, store: DocumentStore, inbox: Inbox
    ) -> None:
        event = an_event("org-9")

        await inbox.run_once("mailer", event, EffectCounter())

        marker = await store.container("inbox").get("org-9", marker_id("mailer", event))
        assert marker is not None
        assert marker["eventId"] == event.id
        assert marker["consumer"] == "mailer"
        assert marker["ttl"] == INBOX_TTL_SECONDS
        assert INBOX_SPEC.default_ttl == INBOX_TTL_SECONDS


class TestCommitOnce:
    async def test_effect_and_marker_are_one_batch(self, inbox: Inbox, counters: Container) -> None:
        await counters.create("org-1", {"id": "tasks", "value": 0})
        event = an_event()
        bump = [BatchOp.patch_doc("tasks", [PatchOp("incr", "/value", 1)])]

        assert await inbox.commit_once(counters, "counter", event, bump) is True
        assert await inbox.commit_once(counters, "counter", event, bump) is False

        counter = await counters.get("org-1", "tasks")
        assert counter is not None
        assert counter["value"] == 1
        entities = await counters.query(Query().where(ENTITIES_ONLY), partition="org-1")
        assert [doc["id"] for doc in entities.items] == ["tasks"]

    async def test_other_conflicts_are_raised(self, inbox: Inbox, counters: Container) -> None:
        await counters.create("org-1", {"id": "taken"})

        with pytest.raises(DocumentExists):
            await inbox.commit_once(
                counters, "counter", an_event(), [BatchOp.create({"id": "taken"})]
            )

        assert await counters.count(Query(), partition="org-1") == 1


class TestIdempotentHandler:
    async def test_redelivered_events_reach_the_handler_once(self, inbox: Inbox) -> None:
        bus = MemoryBus()
        await bus.start()
        handled: list[str] = []

        async def handler(event: event_pb2.Event) -> None:
            handled.append(event.id)

        wrapped = idempotent("mailer", inbox, handler)
        deliveries: list[str] = []

        async def delivered(event: event_pb2.Event) -> None:
            await wrapped(event)
            deliveries.append(event.id)

        await bus.subscribe(Subscription("mailer", "planning", ("#",), delivered))
        first, second = an_event(), an_event()

        await bus.publish([first, second, first, first, second])

        await eventually(lambda: len(deliveries) == 5)
        assert sorted(handled) == sorted([first.id, second.id])
        await bus.close()
