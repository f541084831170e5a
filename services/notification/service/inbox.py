"""The in-app inbox: each user reads, marks and archives their own notifications, and
watches new ones arrive."""

from __future__ import annotations

from collections.abc import AsyncIterator

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from services.kit import Clock, NotFound, PageRequest, current_principal, read_modify_write
from services.notification.events import InboxFeed
from services.notification.repository import NotificationRepository

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
