"""The RabbitMQ event bus (aio-pika), used in distributed mode.

Topology, all durable:
- `<domain>.events` — topic exchange a domain publishes on; routing key = event type.
- `<consumer>` — the consumer's queue, bound to one domain exchange with its patterns;
  dead-letters (rejects) to `<consumer>.dlx`.
- `<consumer>.retry` — holding queue for failed deliveries: each message carries a per-message
  TTL of the retry delay and dead-letters back to `<consumer>` through the default exchange
  when it expires. A per-message TTL (rather than `x-message-ttl`) lets the delay change
  between deployments without re-declaring the queue with different arguments, which RabbitMQ
  refuses.
- `<consumer>.dlx` (fanout) → `<consumer>.dlq` — where an event lands after `max_retries`
  failed deliveries, with the last error in its `x-coder-error` header.

A transient subscription (a live feed of one process) has none of that: one exclusive,
auto-deleted queue bound to the exchange, which the broker removes with the consumer.

Failed deliveries are counted in the `x-coder-attempts` header of the copy published to the
retry queue. Redeliveries caused by a lost connection are not counted: the handler may have
succeeded, and consumers are idempotent by event id.

Messages are persistent and published with publisher confirms, so `publish` returning means
the broker has taken responsibility for them. A consumer acknowledges only after its handler
returned. The connection and channels are robust: after the broker comes back, aio-pika
re-declares exchanges, queues and bindings and restarts the consumers, and the broker
redelivers whatever was unacknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import aio_pika
import aiormq.exceptions
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)
from google.protobuf.message import DecodeError
from yarl import URL

from coder.events.v1 import event_pb2
from services.kit._errors import Unavailable
from services.kit._observability import get_logger
from services.kit.bus._api import (
    Consumer,
    Subscription,
    dispatch,
    event_domain,
    exchange_name,
    validate_event_type,
)

_log = get_logger("coder.bus")

CONTENT_TYPE = "application/x-protobuf"
ATTEMPTS_HEADER = "x-coder-attempts"
ERROR_HEADER = "x-coder-error"

# Anything the client raises when the broker or the connection is gone or misbehaves.
_BROKER_ERRORS: tuple[type[Exception], ...] = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
)
# aio-pika also raises RuntimeError when asked for a channel while it reconnects.
_CONNECT_ERRORS: tuple[type[Exception], ...] = (*_BROKER_ERRORS, RuntimeError)


def retry_queue_name(consumer: str) -> str:
    return f"{consumer}.retry"


def dead_letter_exchange_name(consumer: str) -> str:
    return f"{consumer}.dlx"


def dead_letter_queue_name(consumer: str) -> str:
    return f"{consumer}.dlq"


class _AmqpConsumer:
    """One subscription on its own channel, so its prefetch and acknowledgements are its own."""

    def __init__(self, bus: AmqpBus, subscription: Subscription) -> None:
        self._bus = bus
        self._subscription = subscription
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._inflight: set[asyncio.Task[Any]] = set()

    @property
    def subscription(self) -> Subscription:
        return self._subscription

    async def start(self, connection: AbstractRobustConnection) -> None:
        consumer = self._subscription.consumer
        channel = connection.channel()
        self._channel = channel
        await channel.initialize()
        await channel.set_qos(prefetch_count=self._bus.prefetch)
        if self._subscription.transient:
            # Exclusive and auto-deleted: the broker removes it with the consumer or the
            # connection, so a watcher that went away leaves nothing to fill up.
            queue: AbstractQueue = await channel.declare_queue(
                consumer, durable=False, exclusive=True, auto_delete=True
            )
        else:
            queue = await self._declare_durable(channel)
        exchange = await channel.declare_exchange(
            exchange_name(self._subscription.domain), aio_pika.ExchangeType.TOPIC, durable=True
        )
        for pattern in self._subscription.patterns:
            await queue.bind(exchange, routing_key=pattern)
        self._queue = queue
        self._tag = await queue.consume(self._on_message)

    async def _declare_durable(self, channel: AbstractRobustChannel) -> AbstractQueue:
        """The consumer's queue with its retry queue and dead-letter exchange and queue."""
        consumer = self._subscription.consumer
        dlx = await channel.declare_exchange(
            dead_letter_exchange_name(consumer), aio_pika.ExchangeType.FANOUT, durable=True
        )
        dlq = await channel.declare_queue(dead_letter_queue_name(consumer), durable=True)
        await dlq.bind(dlx, routing_key="")
        await channel.declare_queue(
            retry_queue_name(consumer),
            durable=True,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": consumer},
        )
        return await channel.declare_queue(
            consumer,
            durable=True,
            arguments={"x-dead-letter-exchange": dead_letter_exchange_name(consumer)},
        )

    async def stop(self) -> None:
        channel, queue, tag = self._channel, self._queue, self._tag
        self._channel = self._queue = self._tag = None
        if queue is not None and tag is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await asyncio.wait_for(queue.cancel(tag), self._bus.operation_timeout)
        if self._inflight:
            # Let handlers that already started finish and acknowledge; whatever does not
            # finish in time is requeued by the broker when the channel closes.
            await asyncio.wait(set(self._inflight), timeout=self._bus.operation_timeout)
        if channel is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await asyncio.wait_for(channel.close(), self._bus.operation_timeout)
        self._bus._forget(self)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            await self._handle(message)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        consumer = self._subscription.consumer
        try:
            event = event_pb2.Event.FromString(message.body)
        except DecodeError:
            _log.error("bus.undecodable", consumer=consumer, message_id=message.message_id)
            await _settle(message.reject(requeue=False))
            return
        try:
            await dispatch(self._subscription.handler, event)
        except Exception as exc:
            if self._subscription.transient:
                _log.warning(
                    "bus.transient_dropped", consumer=consumer, event_id=event.id, error=repr(exc)
                )
                await _settle(message.reject(requeue=False))
                return
            await self._failed(message, event, exc)
            return
        await _settle(message.ack())

    async def _failed(
        self, message: AbstractIncomingMessage, event: event_pb2.Event, error: Exception
    ) -> None:
        consumer = self._subscription.consumer
        headers = dict(message.headers or {})
        failures = _int_header(headers.get(ATTEMPTS_HEADER)) + 1
        headers[ATTEMPTS_HEADER] = failures
        give_up = failures >= self._bus.max_retries
        if give_up:
            _log.error(
                "bus.dead_lettered",
                consumer=consumer,
                event_id=event.id,
                event_type=event.type,
                attempts=failures,
                error=repr(error),
            )
            headers[ERROR_HEADER] = repr(error)[:1000]
            target, routing_key, expiration = dead_letter_exchange_name(consumer), "", None
        else:
            _log.warning(
                "bus.retry",
                consumer=consumer,
                event_id=event.id,
                event_type=event.type,
                attempt=failures,
                max_retries=self._bus.max_retries,
                error=repr(error),
            )
            target, routing_key = "", retry_queue_name(consumer)
            expiration = self._bus.retry_delay
        copy = _message(event, body=message.body, headers=headers, expiration=expiration)
        try:
            # The copy must be confirmed before the original is acknowledged, or a broker
            # failure in between would lose the event.
            await self._bus._publish_raw(target, routing_key, copy)
        except Unavailable:
            _log.warning("bus.retry_park_failed", consumer=consumer, event_id=event.id)
            await asyncio.sleep(self._bus.retry_delay)
            await _settle(message.nack(requeue=True))
            return
        await _settle(message.ack())


async def _settle(operation: Any) -> None:
    """Acknowledge, reject or nack; when the channel is gone the broker requeues the message
    by itself, so a failure here is only logged."""
    try:
        await operation
    except _BROKER_ERRORS as exc:
        _log.info("bus.settle_failed", error=repr(exc))


def _int_header(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _message(
    event: event_pb2.Event,
    *,
    body: bytes | None = None,
    headers: dict[str, Any] | None = None,
    expiration: float | None = None,
) -> aio_pika.Message:
    return aio_pika.Message(
        body=body if body is not None else event.SerializeToString(),
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        timestamp=event.time.ToDatetime(tzinfo=UTC) if event.HasField("time") else None,
        app_id=event.source or None,
        headers=headers or {},
        expiration=expiration,
    )


class AmqpBus:
    """An `EventBus` on RabbitMQ.

    `max_retries` is the number of failed deliveries after which an event is dead-lettered;
    `retry_delay` (seconds) the wait before a failed delivery is retried; `prefetch` bounds
    the unacknowledged deliveries, hence concurrent handlers, per consumer. `publish_timeout`
    bounds a `publish` call and `operation_timeout` every other broker round trip, so a dead
    broker surfaces as `Unavailable` rather than a hang. `reconnect_interval` is how often the
    robust connection retries while the broker is away (a `reconnect_interval` in the URL's
    query wins).
    """

    def __init__(
        self,
        url: str,
        *,
        max_retries: int = 5,
        retry_delay: float = 1.0,
        prefetch: int = 16,
        publish_timeout: float = 5.0,
        operation_timeout: float = 5.0,
        reconnect_interval: float = 1.0,
        connection_name: str = "coder",
    ) -> None:
        self._url = url
        self.max_retries = max(1, max_retries)
        self.retry_delay = retry_delay
        self.prefetch = max(1, prefetch)
        self.publish_timeout = publish_timeout
        self.operation_timeout = operation_timeout
        self._reconnect_interval = reconnect_interval
        self._connection_name = connection_name
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractRobustExchange] = {}
        self._declare_lock = asyncio.Lock()
        self._consumers: list[_AmqpConsumer] = []

    async def start(self) -> None:
        if self._connection is not None:
            return
        options: dict[str, Any] = {}
        if "reconnect_interval" not in URL(self._url).query:
            options["reconnect_interval"] = self._reconnect_interval
        try:
            connection = await aio_pika.connect_robust(
                self._url,
                timeout=self.operation_timeout,
                client_properties={"connection_name": self._connection_name},
                **options,
            )
        except _CONNECT_ERRORS as exc:
            raise Unavailable(f"cannot connect to the message broker: {exc!r}") from exc
        try:
            channel = connection.channel(publisher_confirms=True)
            await asyncio.wait_for(channel.initialize(), self.operation_timeout)
        except _BROKER_ERRORS as exc:
            await connection.close()
            raise Unavailable(f"cannot open a channel on the message broker: {exc!r}") from exc
        self._connection = connection
        self._channel = channel

    async def publish(self, events: Sequence[event_pb2.Event]) -> None:
        if not events:
            return
        for event in events:
            validate_event_type(event.type)
        self._require_connected()
        try:
            async with asyncio.timeout(self.publish_timeout):
                exchanges = [await self._exchange(event_domain(e.type)) for e in events]
                # Started in order on one channel: aiormq writes the frames in call order
                # under the channel lock, so the broker sees the events in the given order,
                # while the confirms are awaited together rather than one round trip each.
                results = await asyncio.gather(
                    *(
                        exchange.publish(_message(event), routing_key=event.type, mandatory=False)
                        for exchange, event in zip(exchanges, events, strict=True)
                    ),
                    return_exceptions=True,
                )
        except _BROKER_ERRORS as exc:
            raise Unavailable(f"publishing to the message broker failed: {exc!r}") from exc
        for result in results:
            if isinstance(result, BaseException):
                message = f"publishing to the message broker failed: {result!r}"
                raise Unavailable(message) from result

    async def _exchange(self, domain: str) -> AbstractRobustExchange:
        exchange = self._exchanges.get(domain)
        if exchange is not None:
            return exchange
        _, channel = self._require_started()
        async with self._declare_lock:
            exchange = self._exchanges.get(domain)
            if exchange is None:
                exchange = await channel.declare_exchange(
                    exchange_name(domain), aio_pika.ExchangeType.TOPIC, durable=True
                )
                self._exchanges[domain] = exchange
        return exchange

    async def _publish_raw(
        self, exchange: str, routing_key: str, message: aio_pika.Message
    ) -> None:
        """Publish one message to an exchange by name ("" is the default exchange), confirmed."""
        _, channel = self._require_connected()
        try:
            async with asyncio.timeout(self.publish_timeout):
                underlay = await channel.get_underlay_channel()
                await underlay.basic_publish(
                    message.body,
                    exchange=exchange,
                    routing_key=routing_key,
                    properties=message.properties,
                    mandatory=False,
                )
        except _BROKER_ERRORS as exc:
            raise Unavailable(f"publishing to the message broker failed: {exc!r}") from exc

    async def subscribe(self, subscription: Subscription) -> Consumer:
        connection, _ = self._require_connected()
        consumer = _AmqpConsumer(self, subscription)
        try:
            async with asyncio.timeout(self.operation_timeout):
                await consumer.start(connection)
        except _CONNECT_ERRORS as exc:
            # RuntimeError: aio-pika refuses to open a channel while it is reconnecting.
            await consumer.stop()
            raise Unavailable(f"cannot subscribe {subscription.consumer!r}: {exc!r}") from exc
        self._consumers.append(consumer)
        return consumer

    async def ping(self) -> None:
        _, channel = self._require_connected()
        try:
            # A passive declare is a cheap round trip that proves the channel works. The
            # timeout also covers waiting for a channel that is still being restored.
            async with asyncio.timeout(self.operation_timeout):
                await channel.declare_exchange("amq.topic", passive=True, robust=False)
        except _BROKER_ERRORS as exc:
            raise Unavailable(f"the message broker does not answer: {exc!r}") from exc

    async def close(self) -> None:
        for consumer in list(self._consumers):
            await consumer.stop()
        connection, self._connection, self._channel = self._connection, None, None
        self._exchanges.clear()
        if connection is not None:
            with contextlib.suppress(*_BROKER_ERRORS):
                await asyncio.wait_for(connection.close(), self.operation_timeout)

    def _forget(self, consumer: _AmqpConsumer) -> None:
        if consumer in self._consumers:
            self._consumers.remove(consumer)

    def _require_started(self) -> tuple[AbstractRobustConnection, AbstractRobustChannel]:
        if self._connection is None or self._channel is None:
            raise Unavailable("the event bus is not started")
        return self._connection, self._channel

    def _require_connected(self) -> tuple[AbstractRobustConnection, AbstractRobustChannel]:
        """Fail fast while the robust connection is re-establishing itself, instead of
        letting callers queue up behind it."""
        connection, channel = self._require_started()
        if not connection.connected.is_set():
            raise Unavailable("the message broker connection is down; reconnecting")
        return connection, channel
