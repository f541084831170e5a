"""Templates: the organization's own wordings over the built-in ones, and previews."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.json_format import MessageToDict

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from services.kit import (
    Clock,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    current_principal,
)
from services.notification._mapping import template_id
from services.notification._schedule import zone
from services.notification._templates import (
    SAMPLES,
    Renderer,
    RenderError,
    Wording,
    built_in,
    check,
    locale_chain,
)
from services.notification._templates import renderer as cached_renderer
from services.notification.repository import NotificationRepository
from services.notification.service.lookups import Lookups, Snapshot


def _wording(template: resources_pb2.Template) -> Wording:
    return Wording(template.title, template.body, template.html)


class Wordings:
    """Finds the wording of a type on a channel for a locale: the organization's template for
    the nearest locale, else the built-in one; renders it."""

    async def wording(
        self, snapshot: Snapshot, notification_type: str, channel: int, locale: str
    ) -> Wording:
        for candidate in [*locale_chain(locale)[:-1], ""]:
            stored = await snapshot.template(template_id(notification_type, channel, candidate))
            if stored is not None:
                return _wording(stored)
        return built_in(notification_type, locale)

    async def render(
        self,
        snapshot: Snapshot,
        notification_type: str,
        channel: int,
        locale: str,
        tz: ZoneInfo,
        data: Mapping[str, Any],
    ) -> resources_pb2.Rendered:
        wording = await self.wording(snapshot, notification_type, channel, locale)
        renderer = cached_renderer(locale, tz)
        try:
            return renderer.render(wording, data)
        except RenderError:
            # An organization's template that fails on this event falls back to the built-in
            # wording rather than losing the notification.
            return renderer.render(built_in(notification_type, locale), data)


class TemplateService:
    def __init__(
        self,
        repository: NotificationRepository,
        wordings: Wordings,
        lookups: Lookups,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._wordings = wordings
        self._lookups = lookups
        self._clock = clock

    async def set(self, template: resources_pb2.Template) -> resources_pb2.Template:
        organization_id = current_principal().organization_id
        try:
            check(_wording(template))
        except RenderError as failed:
            raise InvalidArgument(
                "the template does not parse",
                violations=[FieldViolation("template", str(failed))],
            ) from None
        stored = resources_pb2.Template()
        stored.CopyFrom(template)
        stored.locale = template.locale.replace("_", "-").lower()
        stored.id = template_id(template.event_type, template.channel, stored.locale)
        stored.update_time.FromDatetime(self._clock.now())
        written = await self._repository.put_template(organization_id, stored)
        await self._lookups.changed(organization_id)
        return written

    async def page(
        self, request: api.ListTemplatesRequest
    ) -> tuple[list[resources_pb2.Template], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        templates, continuation = await self._repository.list_templates(
            organization_id, page.size, page.continuation
        )
        return templates, page.seal(continuation)

    async def delete(self, template_id_: str) -> None:
        organization_id = current_principal().organization_id
        if await self._repository.get_template(organization_id, template_id_) is None:
            raise NotFound(f"template {template_id_} not found", reason="NOT_FOUND")
        await self._repository.delete_template(organization_id, template_id_)
        await self._lookups.changed(organization_id)

    async def preview(self, request: api.PreviewTemplateRequest) -> resources_pb2.Rendered:
        organization_id = current_principal().organization_id
        try:
            tz = zone(request.timezone)
        except ValueError:
            raise InvalidArgument(
                "unknown time zone",
                violations=[FieldViolation("timezone", "is not an IANA time zone")],
            ) from None
        data: dict[str, Any] = {
            "actor": {"id": "sample", "name": "Ada Lovelace"},
            "recipient": {"id": "sample", "name": "Grace Hopper"},
            "event": {"type": request.event_type, "id": "01J0SAMPLEEVENT"},
            "link": "https://coder.example/notifications",
            **SAMPLES.get(request.event_type, {}),
        }
        if request.HasField("data"):
            data.update(MessageToDict(request.data))
        if request.HasField("draft"):
            wording = _wording(request.draft)
        else:
            wording = await self._wordings.wording(
                await self._lookups.of(organization_id),
                request.event_type,
                request.channel,
                request.locale,
            )
        try:
            return Renderer(request.locale, tz).render(wording, data)
        except RenderError as failed:
            raise InvalidArgument(
                "the template does not render",
                violations=[FieldViolation("draft", str(failed))],
            ) from None
