"""The event bus conformance suite: every case runs on the in-process bus and on RabbitMQ."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import struct_pb2
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from services.kit._clock import ManualClock
from services.kit.bus import Subscription, make_event
from tests.kit.bus.conftest import (
    AMQP_URL,
    MAX_RETRIES,
    Harness,
    Recorder,
    delete_topology,
    eventually,
)


def event(harness: Harness, rest: str, subject: str = "s1") -> event_pb2.Event:
    return make_event(harness.event_type(rest), "org-1", subject, struct_pb2.Struct(fields={}))


class TestRouting:
    async def test_star_matches_one_word_and_hash_any_number(self, backend: Harness) -> None:
        tasks, everything = Recorder(), Recorder()
        await backend.subscribe("tasks", ["*.task.*"], tasks)
        await backend.subscribe("all", ["#"], everything)

        published = [
            event(backend, "task.created"),
            event(backend, "task.comment.added"),
            event(backend, "project.created"),
            event(backend, "task.deleted"),  # last, so its arrival means the others were seen
        ]
        await backend.bus.publish(published)

        await eventually(lambda: len(everything.events) == 4 and len(tasks.events) == 2)
        assert sorted(everything.ids) == sorted(e.id for e in published)
        assert sorted(tasks.types) == sorted(
            [backend.event_type("task.created"), backend.event_type("task.deleted")]
        )

    async def test_literal_pattern_and_several_patterns(self, backend: Harness) -> None:
        recorder = Recorder()
        created = backend.event_type("task.created")
        await backend.subscribe("two", [created, "*.project.#"], recorder)

        await backend.bus.publish(
            [
                event(backend, "task.updated"),
                event(backend, "project.archived"),
                event(backend, "project.member.added"),
                event(backend, "task.created"),
            ]
        )

        await eventually(lambda: len(recorder.events) == 3)
        assert sorted(recorder.types) == sorted(
            [
                backend.event_type("project.archived"),
                backend.event_type("project.member.added"),
                created,
            ]
        )

    async def test_events_of_another_domain_are_not_delivered(self, backend: Harness) -> None:
        recorder = Recorder()
        await backend.subscribe("mine", ["#"], recorder)
        other_domain = f"{backend.domain}x"
        foreign = make_event(f"{other_domain}.task.created", "org-1", "s", struct_pb2.Struct())
        own = event(backend, "task.created")

        try:
            await backend.bus.publish([foreign, own])
            await eventually(lambda: len(recorder.events) == 1)
            assert recorder.ids == [own.id]
        finally:
            if backend.kind == "amqp":
                await delete_topology(AMQP_URL, other_domain, [])


class TestFanOut:
    async def test_every_consumer_gets_its_own_copy(self, backend: Harness) -> None:
        first, second = Recorder(), Recorder()
        await backend.subscribe("first", ["#"], first)
        await backend.subscribe("second", ["#"], second)
        published = [event(backend, "task.created", f"s{n}") for n in range(5)]

        await backend.bus.publish(published)

        await eventually(lambda: len(first.events) == 5 and len(second.events) == 5)
        assert sorted(first.ids) == sorted(second.ids) == sorted(e.id for e in published)

    async def test_replicas_of_one_consumer_share_its_queue(self, backend: Harness) -> None:
        replica_a, replica_b = Recorder(), Recorder()
        name = backend.consumer_name("shared")

        for recorder in (replica_a, replica_b):
            await backend.bus.subscribe(Subscription(name, backend.domain, ("#",), recorder))
        published = [event(backend, "task.created", f"s{n}") for n in range(20)]

        await backend.bus.publish(published)

        await eventually(lambda: len(replica_a.events) + len(replica_b.events) == 20)
        assert sorted(replica_a.ids + replica_b.ids) == sorted(e.id for e in published)


class TestTransient:
    """A transient subscription is one process's own copy of the stream."""

    def transient(self, backend: Harness, name: str, handler: Recorder) -> Subscription:
        return Subscription(
            backend.consumer_name(name), backend.domain, ("#",), handler, transient=True
        )

    async def test_every_process_gets_every_event(self, backend: Harness) -> None:
        first, second = Recorder(), Recorder()
        one, other = await backend.open_extra_bus(), await backend.open_extra_bus()
        await one.subscribe(self.transient(backend, "process-1", first))
        await other.subscribe(self.transient(backend, "process-2", second))
        published = [event(backend, "session.revoked", f"s{n}") for n in range(5)]

        await backend.bus.publish(published)

        await eventually(lambda: len(first.events) == 5 and len(second.events) == 5)
        assert sorted(first.ids) == sorted(second.ids) == sorted(e.id for e in published)

    async def test_nothing_is_kept_for_a_stopped_consumer(self, backend: Harness) -> None:
        before, after = Recorder(), Recorder()
        subscription = self.transient(backend, "stopped", before)
        running = await backend.bus.subscribe(subscription)
        await running.stop()

        await backend.bus.publish([event(backend, "session.revoked", "while-stopped")])
        marker = event(backend, "session.revoked", "marker")
        again = Subscription(subscription.consumer, backend.domain, ("#",), after, transient=True)
        await backend.bus.subscribe(again)
        await backend.bus.publish([marker])

        await eventually(lambda: len(after.events) == 1)
        assert after.ids == [marker.id]

    async def test_a_failed_delivery_is_dropped_and_the_next_ones_arrive(
        self, backend: Harness
    ) -> None:
        recorder = Recorder(fail_times=1)
        subscription = self.transient(backend, "failing", recorder)
        await backend.bus.subscribe(subscription)
        first = event(backend, "session.revoked", "first")
        await backend.bus.publish([first])
        await eventually(lambda: recorder.calls == 1)
        second = event(backend, "session.revoked", "second")

        await backend.bus.publish([second])

        await eventually(lambda: len(recorder.events) == 1)
        assert recorder.ids == [second.id]
        assert await backend.dead_letters(subscription.consumer) == []


class TestDurableQueue:
    async def test_events_published_while_stopped_arrive_after_restart(
        self, backend: Harness
    ) -> None:
        consumer_bus = await backend.open_extra_bus()
        before, after = Recorder(), Recorder()
        name = backend.consumer_name("durable")

        running = await consumer_bus.subscribe(Subscription(name, backend.domain, ("#",), before))
        await running.stop()
        consumer_bus = await backend.reopen(consumer_bus)

        published = [event(backend, "task.created", f"s{n}") for n in range(3)]
        await backend.bus.publish(published)

        await consumer_bus.subscribe(Subscription(name, backend.domain, ("#",), after))
        await eventually(lambda: len(after.events) == 3)
        assert sorted(after.ids) == sorted(e.id for e in published)


class TestTransientFeed:
    async def test_a_stopped_transient_feed_keeps_nothing_for_later(self, backend: Harness) -> None:
        first, second = Recorder(), Recorder()
        name = backend.consumer_name("feed")
        feed = await backend.bus.subscribe(
            Subscription(name, backend.domain, ("#",), first, transient=True)
        )
        seen = event(backend, "task.created", "seen")
        await backend.bus.publish([seen])
        await eventually(lambda: first.ids == [seen.id])
        await feed.stop()

        await backend.bus.publish([event(backend, "task.created", "while-stopped")])
        await backend.bus.subscribe(
            Subscription(name, backend.domain, ("#",), second, transient=True)
        )
        marker = event(backend, "task.created", "marker")
        await backend.bus.publish([marker])

        await eventually(lambda: marker.id in second.ids)
        assert second.ids == [marker.id]

    async def test_a_failed_delivery_is_dropped_not_retried(self, backend: Harness) -> None:
        flaky = Recorder(fail_times=1)
        name = backend.consumer_name("flaky-feed")
        await backend.bus.subscribe(
            Subscription(name, backend.domain, ("#",), flaky, transient=True)
        )
        dropped, delivered = event(backend, "task.created"), event(backend, "task.updated")

        await backend.bus.publish([dropped])
        await eventually(lambda: flaky.calls == 1)
        await backend.bus.publish([delivered])

        await eventually(lambda: flaky.ids == [delivered.id])
        await asyncio.sleep(0.2)  # a retry of the first would have come by now
        assert flaky.calls == 2
        assert flaky.ids == [delivered.id]


class TestRetries:
    async def test_failed_handler_is_retried_until_it_succeeds(self, backend: Harness) -> None:
        flaky = Recorder(fail_times=MAX_RETRIES - 1)
        consumer = await backend.subscribe("flaky", ["#"], flaky)
        published = event(backend, "task.created")

        await backend.bus.publish([published])

        await eventually(lambda: len(flaky.events) == 1)
        assert flaky.calls == MAX_RETRIES
        assert flaky.ids == [published.id]
        assert await backend.dead_letters(consumer.subscription.consumer) == []

    async def test_always_failing_handler_dead_letters_after_max_retries(
        self, backend: Harness
    ) -> None:
        broken = Recorder(fail_times=1_000)
        consumer = await backend.subscribe("broken", ["#"], broken)
        healthy = Recorder()
        await backend.subscribe("healthy", ["#"], healthy)
        published = event(backend, "task.created")

        await backend.bus.publish([published])

        dead = await backend.wait_dead_letters(consumer.subscription.consumer, 1)
        assert [d.event.id for d in dead] == [published.id]
        assert dead[0].attempts == MAX_RETRIES
        assert dead[0].event == published
        await asyncio.sleep(0.2)  # nothing more is delivered once it is dead-lettered
        assert broken.calls == MAX_RETRIES
        assert healthy.events[0] == published
        assert healthy.calls == 1  # one consumer's failures do not touch another's copy


class TestEnvelope:
    async def test_every_field_round_trips(self, backend: Harness) -> None:
        recorder = Recorder()
        seen_trace_ids: list[int] = []

        async def handler(received: event_pb2.Event) -> None:
            seen_trace_ids.append(trace.get_current_span().get_span_context().trace_id)
            await recorder(received)

        await backend.subscribe("envelope", ["#"], handler)
        parent = SpanContext(
            trace_id=0x0AF7651916CD43DD8448EB211C80319C,
            span_id=0xB7AD6B7169203331,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
            trace_state=TraceState([("vendor", "value")]),
        )
        payload = struct_pb2.Struct()
        payload.update({"title": "Write the spec", "estimate": 3, "tags": ["a", "b"]})
        actor = actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id="user-7", session_id="session-9")
        with trace.use_span(NonRecordingSpan(parent)):
            sent = make_event(
                backend.event_type("task.created"),
                "org-42",
                "task-1",
                payload,
                actor=actor,
                clock=ManualClock(),
            )

        await backend.bus.publish([sent])

        await eventually(lambda: len(recorder.events) == 1)
        received = recorder.events[0]
        assert received == sent
        assert received.source == f"coder.{backend.domain}"
        assert received.traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        assert received.tracestate == "vendor=value"
        assert received.time.ToDatetime().year == 2026
        unpacked = struct_pb2.Struct()
        assert received.data.Unpack(unpacked)
        assert unpacked == payload
        # The handler runs in the publisher's trace.
        assert seen_trace_ids == [parent.trace_id]

    async def test_publish_keeps_order_for_one_consumer(self, backend: Harness) -> None:
        recorder = Recorder()
        await backend.subscribe("order", ["#"], recorder)
        published = [event(backend, "task.updated", "task-1") for _ in range(50)]

        await backend.bus.publish(published)

        await eventually(lambda: len(recorder.events) == 50)
        assert recorder.ids == [e.id for e in published]
        assert recorder.ids == sorted(recorder.ids)


class TestLifecycle:
    async def test_ping_answers_while_running(self, backend: Harness) -> None:
        await backend.bus.ping()

    async def test_empty_publish_is_a_no_op(self, backend: Harness) -> None:
        await backend.bus.publish([])

    async def test_malformed_event_type_is_refused(self, backend: Harness) -> None:
        with pytest.raises(ValueError, match="event type"):
            await backend.bus.publish([event_pb2.Event(id="x", type="NotAType")])
