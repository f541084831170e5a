"""Proto ↔ document: each stored resource keeps its message as proto3 JSON under one field,
beside the top-level fields the repository filters and sorts on."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.message import Message

from coder.notification.v1 import resources_pb2
from services.kit import timestamp_text
from services.kit.store import Document

M = TypeVar("M", bound=Message)


def plain(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def parsed(data: dict[str, Any], message: M) -> M:
    return ParseDict(data, message, ignore_unknown_fields=True)


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id from the parts (one per event x recipient x channel, say), so a
    redelivered event writes the same documents and the store refuses the second."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}{digest}"


# --- notifications ---------------------------------------------------------------------------

_STATES = {
    resources_pb2.NOTIFICATION_STATE_UNREAD: "unread",
    resources_pb2.NOTIFICATION_STATE_READ: "read",
    resources_pb2.NOTIFICATION_STATE_ARCHIVED: "archived",
}


def state_text(state: resources_pb2.NotificationState.ValueType) -> str:
    return _STATES[state]


def notification_document(notification: resources_pb2.Notification) -> Document:
    return {
        "id": notification.id,
        "recipientId": notification.recipient_id,
        "state": state_text(notification.state),
        "createTime": timestamp_text(notification.create_time),
        "notification": plain(notification),
    }


def notification_from_document(document: Document) -> resources_pb2.Notification:
    return parsed(document["notification"], resources_pb2.Notification())


# --- preferences, endpoints, templates -------------------------------------------------------


def preferences_document(key: str, preferences: resources_pb2.Preferences) -> Document:
    stored = resources_pb2.Preferences()
    stored.CopyFrom(preferences)
    stored.ClearField("etag")
    return {"id": key, "preferences": plain(stored)}


def preferences_from_document(document: Document) -> resources_pb2.Preferences:
    preferences = parsed(document["preferences"], resources_pb2.Preferences())
    preferences.etag = document.get("_etag", "")
    return preferences


def endpoint_document(
    endpoint: resources_pb2.WebhookEndpoint, secrets: list[dict[str, str]]
) -> Document:
    stored = resources_pb2.WebhookEndpoint()
    stored.CopyFrom(endpoint)
    stored.ClearField("secret")
    stored.ClearField("etag")
    return {
        "id": endpoint.id,
        "createTime": timestamp_text(endpoint.create_time),
        "disabled": endpoint.disabled,
        "secrets": secrets,
        "endpoint": plain(stored),
    }


def endpoint_from_document(document: Document) -> resources_pb2.WebhookEndpoint:
    endpoint = parsed(document["endpoint"], resources_pb2.WebhookEndpoint())
    endpoint.etag = document.get("_etag", "")
    return endpoint


def template_document(template: resources_pb2.Template) -> Document:
    return {"id": template.id, "template": plain(template)}


def template_from_document(document: Document) -> resources_pb2.Template:
    return parsed(document["template"], resources_pb2.Template())


def template_id(notification_type: str, channel: int, locale: str) -> str:
    name = resources_pb2.Channel.Name(channel).removeprefix("CHANNEL_").lower()  # type: ignore[arg-type]
    return f"{notification_type}~{name}~{locale.replace('_', '-').lower() or 'any'}"
