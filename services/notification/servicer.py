"""The gRPC adapter of NotificationService: unpack, call the service, build the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import notification_service_pb2_grpc
from services.notification._rules import notification_types
from services.notification.service import NotificationServices

Context = grpc.aio.ServicerContext


class NotificationServicer(notification_service_pb2_grpc.NotificationServiceServicer):
    def __init__(self, services: NotificationServices) -> None:
        self._s = services

    async def ListNotifications(
        self, request: api.ListNotificationsRequest, context: Context
    ) -> api.ListNotificationsResponse:
        notifications, token = await self._s.inbox.list(request)
        return api.ListNotificationsResponse(notifications=notifications, next_page_token=token)

    async def GetUnreadCount(
        self, request: api.GetUnreadCountRequest, context: Context
    ) -> api.GetUnreadCountResponse:
        return api.GetUnreadCountResponse(unread_count=await self._s.inbox.unread_count())

    async def MarkNotificationRead(
        self, request: api.MarkNotificationReadRequest, context: Context
    ) -> api.MarkNotificationReadResponse:
        notification = await self._s.inbox.mark_read(request.notification_id)
        return api.MarkNotificationReadResponse(notification=notification)

    async def MarkAllNotificationsRead(
        self, request: api.MarkAllNotificationsReadRequest, context: Context
    ) -> api.MarkAllNotificationsReadResponse:
        marked = await self._s.inbox.mark_all_read()
        return api.MarkAllNotificationsReadResponse(marked_count=marked)

    async def ArchiveNotification(
        self, request: api.ArchiveNotificationRequest, context: Context
    ) -> api.ArchiveNotificationResponse:
        notification = await self._s.inbox.archive(request.notification_id)
        return api.ArchiveNotificationResponse(notification=notification)

    async def WatchNotifications(
        self, request: api.WatchNotificationsRequest, context: Context
    ) -> AsyncIterator[api.WatchNotificationsResponse]:
        async for message in self._s.inbox.watch():
            yield message

    async def GetPreferences(
        self, request: api.GetPreferencesRequest, context: Context
    ) -> api.GetPreferencesResponse:
        return api.GetPreferencesResponse(preferences=await self._s.preferences.get_own())

    async def UpdatePreferences(
        self, request: api.UpdatePreferencesRequest, context: Context
    ) -> api.UpdatePreferencesResponse:
        preferences = await self._s.preferences.update_own(request.preferences, request.update_mask)
        return api.UpdatePreferencesResponse(preferences=preferences)

    async def GetDefaults(
        self, request: api.GetDefaultsRequest, context: Context
    ) -> api.GetDefaultsResponse:
        return api.GetDefaultsResponse(defaults=await self._s.preferences.get_defaults())

    async def UpdateDefaults(
        self, request: api.UpdateDefaultsRequest, context: Context
    ) -> api.UpdateDefaultsResponse:
        defaults = await self._s.preferences.update_defaults(request.defaults, request.update_mask)
        return api.UpdateDefaultsResponse(defaults=defaults)

    async def ListRules(
        self, request: api.ListRulesRequest, context: Context
    ) -> api.ListRulesResponse:
        return api.ListRulesResponse(rules=[rule.proto() for rule in notification_types()])

    async def CreateWebhookEndpoint(
        self, request: api.CreateWebhookEndpointRequest, context: Context
    ) -> api.CreateWebhookEndpointResponse:
        endpoint = await self._s.webhooks.create(request.endpoint)
        return api.CreateWebhookEndpointResponse(endpoint=endpoint)

    async def GetWebhookEndpoint(
        self, request: api.GetWebhookEndpointRequest, context: Context
    ) -> api.GetWebhookEndpointResponse:
        endpoint = await self._s.webhooks.get(request.endpoint_id)
        return api.GetWebhookEndpointResponse(endpoint=endpoint)

    async def ListWebhookEndpoints(
        self, request: api.ListWebhookEndpointsRequest, context: Context
    ) -> api.ListWebhookEndpointsResponse:
        endpoints, token = await self._s.webhooks.list(request)
        return api.ListWebhookEndpointsResponse(endpoints=endpoints, next_page_token=token)

    async def UpdateWebhookEndpoint(
        self, request: api.UpdateWebhookEndpointRequest, context: Context
    ) -> api.UpdateWebhookEndpointResponse:
        endpoint = await self._s.webhooks.update(request.endpoint, request.update_mask)
        return api.UpdateWebhookEndpointResponse(endpoint=endpoint)

    async def DeleteWebhookEndpoint(
        self, request: api.DeleteWebhookEndpointRequest, context: Context
    ) -> api.DeleteWebhookEndpointResponse:
        await self._s.webhooks.delete(request.endpoint_id)
        return api.DeleteWebhookEndpointResponse()

    async def RotateWebhookSecret(
        self, request: api.RotateWebhookSecretRequest, context: Context
    ) -> api.RotateWebhookSecretResponse:
        endpoint = await self._s.webhooks.rotate_secret(
            request.endpoint_id, request.overlap_seconds
        )
        return api.RotateWebhookSecretResponse(endpoint=endpoint)

    async def ListWebhookDeliveries(
        self, request: api.ListWebhookDeliveriesRequest, context: Context
    ) -> api.ListWebhookDeliveriesResponse:
        deliveries, token = await self._s.webhooks.deliveries(request)
        return api.ListWebhookDeliveriesResponse(deliveries=deliveries, next_page_token=token)

    async def SendTestWebhook(
        self, request: api.SendTestWebhookRequest, context: Context
    ) -> api.SendTestWebhookResponse:
        delivery = await self._s.webhooks.send_test(request.endpoint_id)
        return api.SendTestWebhookResponse(delivery=delivery)

    async def SetTemplate(
        self, request: api.SetTemplateRequest, context: Context
    ) -> api.SetTemplateResponse:
        return api.SetTemplateResponse(template=await self._s.templates.set(request.template))

    async def ListTemplates(
        self, request: api.ListTemplatesRequest, context: Context
    ) -> api.ListTemplatesResponse:
        templates, token = await self._s.templates.list(request)
        return api.ListTemplatesResponse(templates=templates, next_page_token=token)

    async def DeleteTemplate(
        self, request: api.DeleteTemplateRequest, context: Context
    ) -> api.DeleteTemplateResponse:
        await self._s.templates.delete(request.template_id)
        return api.DeleteTemplateResponse()

    async def PreviewTemplate(
        self, request: api.PreviewTemplateRequest, context: Context
    ) -> api.PreviewTemplateResponse:
        return api.PreviewTemplateResponse(rendered=await self._s.templates.preview(request))
