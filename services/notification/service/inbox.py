"""The in-app inbox: each user reads, marks and archives their own notifications, and
watches new ones arrive; `InboxWriter` stores new ones."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from coder.events.v1 import event_pb2
from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from services.kit import (
    Clock,
    DocumentExists,
    NotFound,
    PageRequest,
    current_principal,
    get_logger,
    read_modify_write,
)
from services.notification.events import InboxFeed
from services.notification.repository import NOTIFICATIONS_PER_BATCH, NotificationRepository

_log = get_logger("coder.notification")

_UNREAD = resources_pb2.NOTIFICATION_STATE_UNREAD
_READ = resources_pb2.NOTIFICATION_STATE_READ
_ARCHIVED = resources_pb2.NOTIFICATION_STATE_ARCHIVED

_FILTERS = {
    api.NOTIFICATION_FILTER_UNSPECIFIED: (_UNREAD, _READ),
    api.NOTIFICATION_FILTER_UNREAD: (_UNREAD,),
    api.NOTIFICATION_FILTER_ARCHIVED: (_ARCHIVED,),
    api.NOTIFICATION_FILTER_ALL: (_UNREAD, _READ, _ARCHIVED),
}


class InboxService:
    def __init__(self, repository: NotificationRepository, feed: InboxFeed, clock: Clock) -> None:
        self._repository = repository
        self._feed = feed
        self._clock = clock

    async def page(
        self, request: api.ListNotificationsRequest
    ) -> tuple[list[resources_pb2.Notification], str]:
        principal = current_principal()
        page = PageRequest.of(request, principal.organization_id, principal.subject)
        notifications, continuation = await self._repository.list_notifications(
            principal.organization_id,
            principal.subject,
            _FILTERS[request.filter],
            page.size,
            page.continuation,
        )
        return notifications, page.seal(continuation)

    async def unread_count(self) -> int:
        principal = current_principal()
        return await self._repository.count_unread(principal.organization_id, principal.subject)

    async def mark_read(self, notification_id: str) -> resources_pb2.Notification:
        return await self._move(notification_id, _READ)

    async def archive(self, notification_id: str) -> resources_pb2.Notification:
        return await self._move(notification_id, _ARCHIVED)

    async def _move(
        self, notification_id: str, state: resources_pb2.NotificationState.ValueType
    ) -> resources_pb2.Notification:
        principal = current_principal()

        async def attempt() -> resources_pb2.Notification:
            found = await self._repository.get_notification(
                principal.organization_id, notification_id
            )
            # Another person's notification is as absent as a missing one.
            if found is None or found[0].recipient_id != principal.subject:
                raise NotFound(f"notification {notification_id} not found", reason="NOT_FOUND")
            notification, etag = found
            if notification.state == state or (state == _READ and notification.state == _ARCHIVED):
                return notification
            if not notification.HasField("read_time"):
                notification.read_time.FromDatetime(self._clock.now())
            notification.state = state
            return await self._repository.replace_notification(notification, etag)

        return await read_modify_write("", attempt)

    async def mark_all_read(self) -> int:
        principal = current_principal()
        unread = await self._repository.unread_of(principal.organization_id, principal.subject)
        now = self._clock.now()
        for notification, _ in unread:
            notification.state = _READ
            notification.read_time.FromDatetime(now)
        await self._repository.replace_notifications(principal.organization_id, unread)
        return len(unread)

    async def watch(self) -> AsyncIterator[api.WatchNotificationsResponse]:
        """A first message once the watch is live (with the unread count then), then each new
        notification with the count after it."""
        principal = current_principal()
        organization_id, recipient = principal.organization_id, principal.subject
        async with self._feed.watch(organization_id, recipient) as arriving:
            unread = await self._repository.count_unread(organization_id, recipient)
            yield api.WatchNotificationsResponse(started=True, unread_count=unread)
            async for notification in arriving:
                # Counted as it arrives rather than re-read, so a burst costs no query each.
                unread += 1
                yield api.WatchNotificationsResponse(notification=notification, unread_count=unread)


@dataclass(slots=True)
class _Pending:
    notification: resources_pb2.Notification
    event: event_pb2.Event
    stored: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


WRITERS = 4
"""Writes in flight at once; notifications arriving while all are busy wait for the next."""
STORED_MEMORY = 100_000
"""Ids of notifications a writer remembers having stored: a redelivered event usually comes
soon after the first delivery, and then costs no write."""


class InboxWriter:
    """Stores new in-app notifications, each with its `delivered` event (outbox), and hands
    each one stored to this process's live feed at once. One per process.

    The bus hands up to its prefetch of events to concurrent handler calls. A notification
    is written at once when one of `WRITERS` writes is free; those arriving while all are
    busy go together in the next free one, one batch per organization. Notifications are
    created, so a batch holding one that exists already (a redelivered event) fails whole;
    its notifications are then written one by one, concurrently, so only that one is refused
    and only a bad one fails its handler. A notification this process stored before is
    refused without a write.
    """

    def __init__(self, repository: NotificationRepository, feed: InboxFeed) -> None:
        self._repository = repository
        self._feed = feed
        self._pending: list[_Pending] = []
        self._writers = 0
        self._stored: OrderedDict[str, None] = OrderedDict()

    async def add(self, notification: resources_pb2.Notification, event: event_pb2.Event) -> bool:
        """Store `notification` with its `delivered` event; False when it was stored before
        (a redelivered event). Raises what the store raised, so the event is retried."""
        if notification.id in self._stored:
            return False
        pending = _Pending(notification, event)
        self._pending.append(pending)
        if self._writers < WRITERS:
            self._writers += 1
            asyncio.create_task(self._write_all(), name="notification-inbox")  # noqa: RUF006
        # Shielded: a handler cancelled (its consumer stopping) leaves the write to finish.
        return await asyncio.shield(pending.stored)

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                by_organization: dict[str, list[_Pending]] = {}
                for pending in batch:
                    organization_id = pending.notification.organization_id
                    by_organization.setdefault(organization_id, []).append(pending)
                await asyncio.gather(
                    *(self._write(org, items) for org, items in by_organization.items())
                )
        finally:
            self._writers -= 1

    async def _write(self, organization_id: str, items: Sequence[_Pending]) -> None:
        chunks = [
            items[start : start + NOTIFICATIONS_PER_BATCH]
            for start in range(0, len(items), NOTIFICATIONS_PER_BATCH)
        ]
        await asyncio.gather(*(self._write_chunk(organization_id, chunk) for chunk in chunks))

    async def _write_chunk(self, organization_id: str, chunk: Sequence[_Pending]) -> None:
        try:
            await self._repository.add_notifications(
                organization_id, [(p.notification, p.event) for p in chunk]
            )
        except Exception as failed:
            if len(chunk) == 1:
                self._settle(chunk[0], failed)
                return
            await asyncio.gather(
                *(self._write_chunk(organization_id, [pending]) for pending in chunk)
            )
            return
        for pending in chunk:
            self._settle(pending, None)

    def _settle(self, pending: _Pending, failed: Exception | None) -> None:
        if pending.stored.done():
            return
        if failed is None or isinstance(failed, DocumentExists):
            self._stored[pending.notification.id] = None
            if len(self._stored) > STORED_MEMORY:
                self._stored.popitem(last=False)
        if failed is None:
            self._feed.delivered_here(pending.event, pending.notification)
            pending.stored.set_result(True)
        elif isinstance(failed, DocumentExists):
            pending.stored.set_result(False)
        else:
            _log.warning(
                "notification.store_failed",
                notification_id=pending.notification.id,
                error=repr(failed),
            )
            pending.stored.set_exception(failed)
