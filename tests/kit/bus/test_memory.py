"""What only the in-process bus has: its topic matcher and its inspection helpers."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import struct_pb2

from coder.events.v1 import event_pb2
from services.kit._errors import Unavailable
from services.kit.bus import MemoryBus, Subscription, make_event, topic_matches
from tests.kit.bus.conftest import Recorder, eventually


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("planning.task.created", "planning.task.created", True),
        ("planning.task.created", "planning.task.updated", False),
        ("planning.task.*", "planning.task.created", True),
        ("planning.task.*", "planning.task.comment.added", False),
        ("planning.*", "planning.task.created", False),
        ("*.task.*", "planning.task.created", True),
        ("#", "planning.task.created", True),
        ("planning.#", "planning", True),
        ("planning.#", "planning.task.comment.added", True),
        ("planning.#.added", "planning.task.comment.added", True),
        ("planning.#.added", "planning.task.created", False),
        ("#.created", "planning.task.created", True),
        ("#.created", "created", True),
        ("*", "planning.task", False),
    ],
)
def test_topic_matching(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches


def an_event() -> event_pb2.Event:
    return make_event("planning.task.created", "org-1", "t", struct_pb2.Struct())


class TestMemoryBus:
    async def test_refuses_work_before_start_and_after_close(self) -> None:
        bus = MemoryBus()
        with pytest.raises(Unavailable):
            await bus.publish([an_event()])
        await bus.start()
        await bus.ping()
        await bus.close()

        with pytest.raises(Unavailable):
            await bus.ping()

    async def test_stopping_mid_delivery_puts_the_event_back(self) -> None:
        bus = MemoryBus()
        await bus.start()
        started = asyncio.Event()

        async def slow(_: event_pb2.Event) -> None:
            started.set()
            await asyncio.sleep(60)

        consumer = await bus.subscribe(Subscription("slow", "planning", ("#",), slow))
        await bus.publish([an_event()])
        await started.wait()

        await consumer.stop()

        assert bus.pending("slow") == 1
        recorder = Recorder()
        await bus.subscribe(Subscription("slow", "planning", ("#",), recorder))
        await eventually(lambda: len(recorder.events) == 1)
        assert bus.pending("slow") == 0
        await bus.close()

    async def test_dead_letters_keep_the_last_error(self) -> None:
        bus = MemoryBus(max_retries=2, retry_delay=0.01)
        await bus.start()
        await bus.subscribe(Subscription("broken", "planning", ("#",), Recorder(fail_times=9)))
        event = an_event()

        await bus.publish([event])

        await eventually(lambda: len(bus.dead_letters("broken")) == 1)
        dead = bus.dead_letters("broken")[0]
        assert dead.event == event
        assert dead.attempts == 2
        assert "handler failure #2" in dead.error
        await bus.close()
