"""The in-process event bus of embedded mode, with the broker's delivery semantics.

It behaves like the RabbitMQ topology of `_amqp.py` so code and tests written against one work
against the other: topic matching (`*` one word, `#` zero or more), one queue per consumer that
outlives the consumer (events routed while it is stopped wait for the next `subscribe`),
at-least-once delivery with delayed retries, and a dead-letter list after the last failed
delivery. Events are serialized on publish and parsed on delivery, as on the wire, so a handler
never shares a message object with the publisher. Nothing survives the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from coder.events.v1 import event_pb2
from services.kit._errors import Unavailable
from services.kit._observability import get_logger
from services.kit.bus._api import (
    Consumer,
    Subscription,
    dispatch,
    event_domain,
    validate_event_type,
)

_log = get_logger("coder.bus")


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: words split on `.`, `*` is exactly one word, `#` zero or more."""
    return _match(pattern.split("."), routing_key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # `#` may swallow any number of words, including none.
        return any(_match(rest, words[skip:]) for skip in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a consumer gave up on, with how many deliveries failed and the last error."""

    event: event_pb2.Event
    attempts: int
    error: str


@dataclass(slots=True)
class _Delivery:
    body: bytes
    failures: int = 0


@dataclass(slots=True)
class _Queue:
    """One consumer's queue and what is bound to it."""

    items: asyncio.Queue[_Delivery] = field(default_factory=asyncio.Queue)
    bindings: dict[str, set[str]] = field(default_factory=dict)  # domain -> patterns
    dead: list[DeadLetter] = field(default_factory=list)


class _MemoryConsumer:
    def __init__(self, bus: MemoryBus, subscription: Subscription, queue: _Queue) -> None:
        self._bus = bus
        self._subscription = subscription
        self._queue = queue
        self._workers = [
            asyncio.create_task(self._work(), name=f"bus:{subscription.consumer}:{n}")
            for n in range(bus.concurrency)
        ]

    @property
    def subscription(self) -> Subscription:
        return self._subscription

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self._bus._forget(self)
        if self._subscription.transient:
            self._bus._drop_queue(self._subscription.consumer)

    async def _work(self) -> None:
        while True:
            delivery = await self._queue.items.get()
            try:
                await self._deliver(delivery)
            except asyncio.CancelledError:
                # Stopped mid-delivery: the message was never acknowledged, so it goes back
                # to the queue, as the broker does with unacked messages of a closed channel.
                self._queue.items.put_nowait(delivery)
                raise

    async def _deliver(self, delivery: _Delivery) -> None:
        event = event_pb2.Event.FromString(delivery.body)
        try:
            await dispatch(self._subscription.handler, event)
        except Exception as exc:
            if self._subscription.transient:
                _log.error(
                    "bus.transient_dropped",
                    consumer=self._subscription.consumer,
                    event_id=event.id,
                    event_type=event.type,
                    error=repr(exc),
                )
                return
            self._bus._failed(self._queue, self._subscription.consumer, delivery, event, exc)


class MemoryBus:
    """An `EventBus` inside the process. `max_retries` is the number of failed deliveries
    after which an event is dead-lettered; `concurrency` bounds how many handlers of one
    consumer run at once (the broker's prefetch)."""

    def __init__(
        self, *, max_retries: int = 5, retry_delay: float = 1.0, concurrency: int = 16
    ) -> None:
        self.max_retries = max(1, max_retries)
        self.retry_delay = retry_delay
        self.concurrency = max(1, concurrency)
        self._queues: dict[str, _Queue] = {}
        self._consumers: list[_MemoryConsumer] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._running = False

    async def start(self) -> None:
        self._running = True

    async def publish(self, events: Sequence[event_pb2.Event]) -> None:
        if not self._running:
            raise Unavailable("the in-process bus is not running")
        for event in events:
            validate_event_type(event.type)
        for event in events:
            body = event.SerializeToString()
            domain = event_domain(event.type)
            for queue in self._queues.values():
                patterns = queue.bindings.get(domain, ())
                if any(topic_matches(pattern, event.type) for pattern in patterns):
                    queue.items.put_nowait(_Delivery(body))

    async def subscribe(self, subscription: Subscription) -> Consumer:
        if not self._running:
            raise Unavailable("the in-process bus is not running")
        queue = self._queues.setdefault(subscription.consumer, _Queue())
        queue.bindings.setdefault(subscription.domain, set()).update(subscription.patterns)
        consumer = _MemoryConsumer(self, subscription, queue)
        self._consumers.append(consumer)
        return consumer

    async def ping(self) -> None:
        if not self._running:
            raise Unavailable("the in-process bus is not running")

    async def close(self) -> None:
        self._running = False
        for consumer in list(self._consumers):
            await consumer.stop()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def dead_letters(self, consumer: str) -> list[DeadLetter]:
        """The events `consumer` gave up on, oldest first."""
        queue = self._queues.get(consumer)
        return list(queue.dead) if queue else []

    def pending(self, consumer: str) -> int:
        """How many events wait in `consumer`'s queue (not counting scheduled retries)."""
        queue = self._queues.get(consumer)
        return queue.items.qsize() if queue else 0

    def queue_names(self) -> list[str]:
        """The consumers' queues that exist now (a transient one only while it runs)."""
        return list(self._queues)

    def _forget(self, consumer: _MemoryConsumer) -> None:
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    def _drop_queue(self, consumer: str) -> None:
        if not any(c.subscription.consumer == consumer for c in self._consumers):
            self._queues.pop(consumer, None)

    def _failed(
        self,
        queue: _Queue,
        consumer: str,
        delivery: _Delivery,
        event: event_pb2.Event,
        error: Exception,
    ) -> None:
        failures = delivery.failures + 1
        if failures >= self.max_retries:
            _log.error(
                "bus.dead_lettered",
                consumer=consumer,
                event_id=event.id,
                event_type=event.type,
                attempts=failures,
                error=repr(error),
            )
            queue.dead.append(DeadLetter(event, failures, repr(error)))
            return
        _log.warning(
            "bus.retry",
            consumer=consumer,
            event_id=event.id,
            event_type=event.type,
            attempt=failures,
            max_retries=self.max_retries,
            error=repr(error),
        )
        retry = _Delivery(delivery.body, failures)

        def redeliver() -> None:
            self._timers.discard(timer)
            queue.items.put_nowait(retry)

        timer = asyncio.get_running_loop().call_later(self.retry_delay, redeliver)
        self._timers.add(timer)
