"""The notification service: turns every domain's events into messages for people — an in-app
inbox with a live stream, email and signed webhooks — worded by templates and timed by each
person's preferences."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from coder.notification.v1 import notification_service_pb2_grpc
from services.kit import Resources, ServiceDefinition, per_process
from services.kit.bus import Subscription
from services.notification import events
from services.notification._settings import NotificationSettings
from services.notification.events import InboxFeed, NotificationEvents
from services.notification.repository import CONTAINERS, NotificationRepository
from services.notification.service import (
    Dispatcher,
    InboxService,
    NotificationServices,
    PreferenceService,
    Sender,
    TemplateService,
    WebhookService,
)
from services.notification.service.deliveries import DeliveryQueue
from services.notification.service.inbox import InboxWriter
from services.notification.service.lookups import Lookups
from services.notification.service.mail import Mailer
from services.notification.service.recipients import RecipientResolver
from services.notification.service.templates import Wordings
from services.notification.servicer import NotificationServicer


@dataclass(frozen=True, slots=True)
class _Parts:
    """The objects the servicer, the consumer and the sweeper share in one process."""

    repository: NotificationRepository
    lookups: Lookups
    preferences: PreferenceService
    wordings: Wordings
    queue: DeliveryQueue
    sender: Sender
    feed: InboxFeed
    mailer: Mailer


def definition(settings: NotificationSettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_NOTIFICATION_*`
    environment, read when the service is registered (never at import)."""

    @per_process
    def parts(resources: Resources) -> _Parts:
        """One feed, one sender, one queue and one memory of lookups per process, shared by
        the servicer, the consumer and the sweeper."""
        own = settings or NotificationSettings()
        repository = NotificationRepository(resources.store, resources.relay)
        clock = resources.clock
        lookups = Lookups(repository, resources.caches.cache)
        preferences = PreferenceService(repository, lookups, clock)
        wordings = Wordings()
        queue = DeliveryQueue(
            repository, resources.caches.cache, clock, dedup_seconds=own.dedup_seconds
        )
        mailer = Mailer(own)
        feed = InboxFeed(resources.bus)
        sender = Sender(
            repository,
            queue,
            lookups,
            InboxWriter(repository, feed),
            wordings,
            mailer,
            NotificationEvents(clock),
            resources.caches.locks,
            own,
            clock,
        )
        return _Parts(repository, lookups, preferences, wordings, queue, sender, feed, mailer)

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the notification servicer, wired to this process's resources, to a server."""
        shared = parts(resources)
        clock = resources.clock
        services = NotificationServices(
            inbox=InboxService(shared.repository, shared.feed, clock),
            preferences=shared.preferences,
            templates=TemplateService(shared.repository, shared.wordings, shared.lookups, clock),
            webhooks=WebhookService(
                shared.repository, shared.queue, shared.lookups, clock, shared.sender.wake
            ),
        )
        notification_service_pb2_grpc.add_NotificationServiceServicer_to_server(
            NotificationServicer(services), server
        )

    def subscriptions(resources: Resources) -> Sequence[Subscription]:
        """The consumer of every domain's events the rules and the directory read."""
        shared = parts(resources)
        dispatcher = Dispatcher(
            shared.repository,
            RecipientResolver(resources.peers),
            shared.lookups,
            shared.queue,
            shared.sender,
            email=shared.mailer.configured,
        )
        prefix = (settings or NotificationSettings()).consumer_prefix
        return events.subscriptions(dispatcher.handle, prefix=prefix)

    def tasks(resources: Resources) -> Sequence[Callable[[], Coroutine[Any, Any, None]]]:
        """The sweeper of stored timers: retries, held deliveries, digests, escalations."""
        return [parts(resources).sender.sweep_forever]

    return ServiceDefinition(
        domain="notification",
        service_names=("coder.notification.v1.NotificationService",),
        containers=CONTAINERS,
        register=register,
        subscriptions=subscriptions,
        tasks=tasks,
    )


SERVICE = definition()

__all__ = ["SERVICE", "NotificationSettings", "definition"]
