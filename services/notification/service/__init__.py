"""The notification service's domain rules, one module per concern: the inbox, preferences,
templates, webhook endpoints, the dispatch of events into deliveries and their sending."""

from __future__ import annotations

from dataclasses import dataclass

from services.notification.service.dispatch import Dispatcher
from services.notification.service.inbox import InboxService
from services.notification.service.preferences import PreferenceService
from services.notification.service.sender import Sender
from services.notification.service.templates import TemplateService
from services.notification.service.webhooks import WebhookService


@dataclass(frozen=True, slots=True)
class NotificationServices:
    """What the servicer calls."""

    inbox: InboxService
    preferences: PreferenceService
    templates: TemplateService
    webhooks: WebhookService


__all__ = [
    "Dispatcher",
    "InboxService",
    "NotificationServices",
    "PreferenceService",
    "Sender",
    "TemplateService",
    "WebhookService",
]
