"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of notification: organization B's webhook endpoint and template, a valid body for each route
that takes one, and which of B's ids each path parameter names.

B's inbox cannot be seeded through REST (a notification is made from an event, never for the
one who acted), so `notification_id` names B's endpoint id: A's calls on it must answer 404
like those on any id of B's."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

BODIES: dict[str, dict[str, Any]] = {
    "NotificationService_MarkNotificationRead": {},
    "NotificationService_ArchiveNotification": {},
    "NotificationService_RotateWebhookSecret": {},
    "NotificationService_SendTestWebhook": {},
    "NotificationService_UpdateWebhookEndpoint": {"description": "taken over"},
}

ID_OF_PARAMETER = {
    "endpoint_id": "endpoint",
    "template_id": "template",
    "notification_id": "endpoint",
}

SECRETS = ("B secret endpoint", "B secret wording")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    endpoint = await created(
        b.client,
        "/api/v1/notification/webhooks",
        {
            "url": "https://hooks.example.com/b",
            "eventTypes": ["planning.task.assigned"],
            "description": "B secret endpoint",
        },
        "endpoint",
    )
    answer = await b.client.post(
        "/api/v1/notification/templates",
        json={
            "eventType": "planning.task.assigned",
            "channel": "CHANNEL_IN_APP",
            "title": "B secret wording {{ task.title }}",
        },
    )
    assert answer.status_code in (200, 201), answer.text
    return {"endpoint": endpoint, "template": answer.json()["template"]["id"]}


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    endpoint = (await b.client.get(f"/api/v1/notification/webhooks/{ids['endpoint']}")).json()
    assert endpoint["endpoint"]["description"] == "B secret endpoint"
    assert endpoint["endpoint"]["disabled"] is False
    templates = (await b.client.get("/api/v1/notification/templates")).json()["templates"]
    assert [t["title"] for t in templates] == ["B secret wording {{ task.title }}"]
