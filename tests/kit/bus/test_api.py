"""Building events and subscriptions: the parts of the port that do not need a bus."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf import struct_pb2, wrappers_pb2

from coder.common.v1 import actor_pb2
from services.kit._clock import ManualClock
from services.kit._ids import id_time_ms
from services.kit.bus import Subscription, event_domain, exchange_name, make_event, next_event_id


async def ignore(_: object) -> None:
    return None


class TestMakeEvent:
    def test_fills_the_envelope(self) -> None:
        clock = ManualClock(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
        actor = actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_SERVICE, id="svc-1")

        event = make_event(
            "planning.task.created",
            "org-1",
            "task-1",
            wrappers_pb2.StringValue(value="hello"),
            actor=actor,
            clock=clock,
        )

        assert len(event.id) == 26
        assert event.type == "planning.task.created"
        assert event.source == "coder.planning"
        assert event.organization_id == "org-1"
        assert event.subject == "task-1"
        assert event.actor == actor
        assert event.time.ToDatetime(tzinfo=UTC) == clock.now()
        payload = wrappers_pb2.StringValue()
        assert event.data.Unpack(payload)
        assert payload.value == "hello"

    def test_without_a_current_span_there_is_no_trace_context(self) -> None:
        event = make_event("planning.task.created", "org-1", "t", struct_pb2.Struct())

        assert event.traceparent == ""
        assert event.tracestate == ""
        assert not event.HasField("actor")

    def test_source_can_be_given(self) -> None:
        event = make_event(
            "planning.task.created", "org-1", "t", struct_pb2.Struct(), source="coder.worker"
        )

        assert event.source == "coder.worker"

    @pytest.mark.parametrize(
        "event_type", ["planning", "planning.task", "Planning.task.created", "planning..created"]
    )
    def test_type_must_be_domain_entity_verb(self, event_type: str) -> None:
        with pytest.raises(ValueError, match="event type"):
            make_event(event_type, "org-1", "t", struct_pb2.Struct())


class TestEventIds:
    def test_ids_made_in_one_process_strictly_increase(self) -> None:
        ids = [next_event_id() for _ in range(5_000)]

        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)

    def test_ids_keep_their_time(self) -> None:
        before = int(datetime.now(UTC).timestamp() * 1000)

        identifier = next_event_id()

        assert id_time_ms(identifier) >= before - 1


class TestNames:
    def test_domain_and_exchange_come_from_the_type(self) -> None:
        assert event_domain("planning.task.created") == "planning"
        assert exchange_name("planning") == "planning.events"


class TestSubscription:
    def test_accepts_topic_patterns(self) -> None:
        subscription = Subscription(
            "notification.planning", "planning", ("planning.task.*", "#"), ignore
        )

        assert subscription.patterns == ("planning.task.*", "#")

    @pytest.mark.parametrize(
        ("consumer", "domain", "patterns"),
        [
            ("", "planning", ("#",)),
            ("has space", "planning", ("#",)),
            ("c", "two.words", ("#",)),
            ("c", "planning", ()),
            ("c", "planning", ("planning.task*",)),
            ("c", "planning", ("planning..created",)),
        ],
    )
    def test_refuses_bad_names_and_patterns(
        self, consumer: str, domain: str, patterns: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValueError, match=r"consumer|domain|pattern"):
            Subscription(consumer, domain, patterns, ignore)
