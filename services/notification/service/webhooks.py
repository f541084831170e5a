"""Webhook endpoints of an organization: their configuration, secrets and delivery log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from google.protobuf.field_mask_pb2 import FieldMask

from coder.notification.v1 import notification_service_pb2 as api
from coder.notification.v1 import resources_pb2
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    apply_update,
    check_etag,
    current_principal,
    new_id,
    parse_time_text,
    read_modify_write,
    require_field,
    time_text,
    update_paths,
)
from services.notification._mapping import endpoint_from_document
from services.notification._signing import new_secret
from services.notification.repository import Document, NotificationRepository
from services.notification.service.deliveries import DeliveryQueue, delivery_from_document
from services.notification.service.lookups import Lookups

WRITABLE = ("url", "event_types", "description", "disabled")
OUTPUT_ONLY = (
    "id",
    "disabled_reason",
    "consecutive_failures",
    "secret",
    "previous_secret_expire_time",
    "create_time",
    "update_time",
)
DEFAULT_OVERLAP_SECONDS = 86_400
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def check_url(url: str, field: str) -> None:
    """An https URL, or http to a loopback host (a receiver on this machine)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.scheme not in ("http", "https"):
        problem = "must be an absolute http(s) URL"
    elif parts.scheme == "http" and host not in LOOPBACK:
        problem = "must use https (http only to a loopback host)"
    elif parts.username or parts.password:
        problem = "must not carry credentials"
    else:
        return
    raise InvalidArgument(f"{field} is invalid", violations=[FieldViolation(field, problem)])


def live_secrets(document: Document, now_text: str) -> list[str]:
    """The secrets that sign now, newest first."""
    return [
        entry["secret"]
        for entry in document.get("secrets", [])
        if not entry.get("expireTime") or entry["expireTime"] > now_text
    ]


class WebhookService:
    def __init__(
        self,
        repository: NotificationRepository,
        queue: DeliveryQueue,
        lookups: Lookups,
        clock: Clock,
        wake: Callable[[], None],
    ) -> None:
        self._repository = repository
        self._queue = queue
        self._lookups = lookups
        self._clock = clock
        self._wake = wake

    async def create(self, draft: resources_pb2.WebhookEndpoint) -> resources_pb2.WebhookEndpoint:
        organization_id = current_principal().organization_id
        check_url(draft.url, "endpoint.url")
        now = self._clock.now()
        endpoint = resources_pb2.WebhookEndpoint(
            id=new_id(),
            url=draft.url,
            event_types=draft.event_types,
            description=draft.description,
            disabled=draft.disabled,
        )
        endpoint.create_time.FromDatetime(now)
        endpoint.update_time.FromDatetime(now)
        secret = new_secret()
        stored = await self._repository.create_endpoint(
            organization_id, endpoint, [{"secret": secret}]
        )
        await self._lookups.changed(organization_id)
        stored.secret = secret
        return stored

    async def _document(self, organization_id: str, endpoint_id: str) -> Document:
        document = await self._repository.get_endpoint(organization_id, endpoint_id)
        if document is None:
            raise NotFound(f"webhook endpoint {endpoint_id} not found", reason="NOT_FOUND")
        return document

    async def get(self, endpoint_id: str) -> resources_pb2.WebhookEndpoint:
        organization_id = current_principal().organization_id
        return endpoint_from_document(await self._document(organization_id, endpoint_id))

    async def page(
        self, request: api.ListWebhookEndpointsRequest
    ) -> tuple[list[resources_pb2.WebhookEndpoint], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        endpoints, continuation = await self._repository.list_endpoints(
            organization_id, page.size, page.continuation
        )
        return endpoints, page.seal(continuation)

    async def update(
        self, changes: resources_pb2.WebhookEndpoint, mask: FieldMask
    ) -> resources_pb2.WebhookEndpoint:
        paths = update_paths(mask, changes, "endpoint", WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "endpoint.id", "name the endpoint to update")
        if "url" in paths:
            check_url(changes.url, "endpoint.url")
        organization_id = current_principal().organization_id

        async def attempt() -> resources_pb2.WebhookEndpoint:
            document = await self._document(organization_id, changes.id)
            current = endpoint_from_document(document)
            check_etag(changes.etag, current.etag, "endpoint")
            updated, changed = apply_update(current, changes, paths)
            if "disabled" in changed and not updated.disabled:
                # Enabled again by an admin: the failures that disabled it are forgiven.
                updated.consecutive_failures = 0
                updated.disabled_reason = ""
            updated.update_time.FromDatetime(self._clock.now())
            return await self._repository.replace_endpoint(
                organization_id, updated, document["secrets"], current.etag
            )

        written = await read_modify_write(changes.etag, attempt)
        await self._lookups.changed(organization_id)
        return written

    async def delete(self, endpoint_id: str) -> None:
        organization_id = current_principal().organization_id
        await self._document(organization_id, endpoint_id)
        await self._repository.drop_pending_of(organization_id, endpoint_id)
        await self._repository.delete_endpoint(organization_id, endpoint_id)
        await self._lookups.changed(organization_id)

    async def rotate_secret(
        self, endpoint_id: str, overlap_seconds: int
    ) -> resources_pb2.WebhookEndpoint:
        organization_id = current_principal().organization_id
        overlap = timedelta(seconds=overlap_seconds or DEFAULT_OVERLAP_SECONDS)
        secret = new_secret()

        async def attempt() -> resources_pb2.WebhookEndpoint:
            document = await self._document(organization_id, endpoint_id)
            endpoint = endpoint_from_document(document)
            now = self._clock.now()
            expire = time_text(now + overlap)
            previous = live_secrets(document, time_text(now))[:1]
            secrets: list[dict[str, Any]] = [{"secret": secret}]
            secrets += [{"secret": old, "expireTime": expire} for old in previous]
            endpoint.previous_secret_expire_time.FromDatetime(parse_time_text(expire))
            endpoint.update_time.FromDatetime(now)
            return await self._repository.replace_endpoint(
                organization_id, endpoint, secrets, endpoint.etag
            )

        stored = await read_modify_write("", attempt)
        stored.secret = secret
        return stored

    async def deliveries(
        self, request: api.ListWebhookDeliveriesRequest
    ) -> tuple[list[resources_pb2.WebhookDelivery], str]:
        organization_id = current_principal().organization_id
        await self._document(organization_id, request.endpoint_id)
        page = PageRequest.of(request, organization_id)
        documents, continuation = await self._repository.endpoint_deliveries(
            organization_id, request.endpoint_id, page.size, page.continuation
        )
        return [delivery_from_document(d) for d in documents], page.seal(continuation)

    async def send_test(self, endpoint_id: str) -> resources_pb2.WebhookDelivery:
        principal = current_principal()
        document = await self._document(principal.organization_id, endpoint_id)
        endpoint = endpoint_from_document(document)
        if endpoint.disabled:
            raise FailedPrecondition(
                "the endpoint is disabled; enable it first", reason="ENDPOINT_DISABLED"
            )
        delivery = await self._queue.test_webhook(principal, endpoint)
        self._wake()
        return delivery_from_document(delivery)
