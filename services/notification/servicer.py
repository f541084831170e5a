"""The gRPC adapter of NotificationService: unpack, call the service, build the reply."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import notification_service_pb2_grpc
from services.notification._rules import notification_types
from services.notification.service import NotificationServices


class NotificationServicer(notification_service_pb2_grpc.NotificationServiceServicer):
    def __init__(self, services: NotificationServices) -> None:
        self._s = services

    async def ListNotifications(
        self, request: api.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListNotificationsResponse:
        notifications, token = await self._s.inbox.page(request)
        return api.ListNotificationsResponse(notifications=notifications, next_page_token=token)

    async def GetUnreadCount(
        self, request: api.GetUnreadCountRequest, context: grpc.aio.ServicerContext
    ) -> api.GetUnreadCountResponse:
        return api.GetUnreadCountResponse(unread_count=await self._s.inbox.unread_count())

    async def MarkNotificationRead(
        self, request: api.MarkNotificationReadRequest, context: grpc.aio.ServicerContext
    ) -> api.MarkNotificationReadResponse:
        notification = await self._s.inbox.mark_read(request.notification_id)
        return api.MarkNotificationReadResponse(notification=notification)

    async def MarkAllNotificationsRead(
        self, request: api.MarkAllNotificationsReadRequest, context: grpc.aio.ServicerContext
    ) -> api.MarkAllNotificationsReadResponse:
        marked = await self._s.inbox.mark_all_read()
        return api.MarkAllNotificationsReadResponse(marked_count=marked)

    async def ArchiveNotification(
        self, request: api.ArchiveNotificationRequest, context: grpc.aio.ServicerContext
    ) -> api.ArchiveNotificationResponse:
        notification = await self._s.inbox.archive(request.notification_id)
        return api.ArchiveNotificationResponse(notification=notification)

    async def WatchNotifications(
        self, request: api.WatchNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api.WatchNotificationsResponse]:
        async for message in self._s.inbox.watch():
            yield message

    async def GetPreferences(
        self, request: api.GetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> api.GetPreferencesResponse:
        return api.GetPreferencesResponse(preferences=await self._s.preferences.get_own())

    async def UpdatePreferences(
        self, request: api.UpdatePreferencesRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdatePreferencesResponse:
        preferences = await self._s.preferences.update_own(request.preferences, request.update_mask)
        return api.UpdatePreferencesResponse(preferences=preferences)

    async def GetDefaults(
        self, request: api.GetDefaultsRequest, context: grpc.aio.ServicerContext
    ) -> api.GetDefaultsResponse:
        return api.GetDefaultsResponse(defaults=await self._s.preferences.get_defaults())

    async def UpdateDefaults(
        self, request: api.UpdateDefaultsRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateDefaultsResponse:
        defaults = await self._s.preferences.update_defaults(request.defaults, request.update_mask)
        return api.UpdateDefaultsResponse(defaults=defaults)

    async def ListRules(
        self, request: api.ListRulesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListRulesResponse:
        return api.ListRulesResponse(rules=[rule.proto() for rule in notification_types()])

    async def CreateWebhookEndpoint(
        self, request: api.CreateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateWebhookEndpointResponse:
        endpoint = await self._s.webhooks.create(request.endpoint)
        return api.CreateWebhookEndpointResponse(endpoint=endpoint)

    async def GetWebhookEndpoint(
        self, request: api.GetWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> api.GetWebhookEndpointResponse:
        endpoint = await self._s.webhooks.get(request.endpoint_id)
        return api.GetWebhookEndpointResponse(endpoint=endpoint)

    async def ListWebhookEndpoints(
        self, request: api.ListWebhookEndpointsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListWebhookEndpointsResponse:
        endpoints, token = await self._s.webhooks.page(request)
        return api.ListWebhookEndpointsResponse(endpoints=endpoints, next_page_token=token)

    async def UpdateWebhookEndpoint(
        self, request: api.UpdateWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateWebhookEndpointResponse:
        endpoint = await self._s.webhooks.update(request.endpoint, request.update_mask)
        return api.UpdateWebhookEndpointResponse(endpoint=endpoint)

    async def DeleteWebhookEndpoint(
        self, request: api.DeleteWebhookEndpointRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteWebhookEndpointResponse:
        await self._s.webhooks.delete(request.endpoint_id)
        return api.DeleteWebhookEndpointResponse()

    async def RotateWebhookSecret(
        self, request: api.RotateWebhookSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.RotateWebhookSecretResponse:
        endpoint = await self._s.webhooks.rotate_secret(
            request.endpoint_id, request.overlap_seconds
        )
        return api.RotateWebhookSecretResponse(endpoint=endpoint)

    async def ListWebhookDeliveries(
        self, request: api.ListWebhookDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListWebhookDeliveriesResponse:
        deliveries, token = await self._s.webhooks.deliveries(request)
        return api.ListWebhookDeliveriesResponse(deliveries=deliveries, next_page_token=token)

    async def SendTestWebhook(
        self, request: api.SendTestWebhookRequest, context: grpc.aio.ServicerContext
    ) -> api.SendTestWebhookResponse:
        delivery = await self._s.webhooks.send_test(request.endpoint_id)
        return api.SendTestWebhookResponse(delivery=delivery)

    async def SetTemplate(
        self, request: api.SetTemplateRequest, context: grpc.aio.ServicerContext
    ) -> api.SetTemplateResponse:
        return api.SetTemplateResponse(template=await self._s.templates.set(request.template))

    async def ListTemplates(
        self, request: api.ListTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTemplatesResponse:
        templates, token = await self._s.templates.page(request)
        return api.ListTemplatesResponse(templates=templates, next_page_token=token)

    async def DeleteTemplate(
        self, request: api.DeleteTemplateRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteTemplateResponse:
        await self._s.templates.delete(request.template_id)
        return api.DeleteTemplateResponse()

    async def PreviewTemplate(
        self, request: api.PreviewTemplateRequest, context: grpc.aio.ServicerContext
    ) -> api.PreviewTemplateResponse:
        return api.PreviewTemplateResponse(rendered=await self._s.templates.preview(request))
