"""Proto ↔ document mapping of the identity entities.

Documents use lowerCamelCase names; times are fixed-width RFC 3339 UTC strings with
microseconds, so string order is time order and queries can sort and compare them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from coder.identity.v1 import resources_pb2
from services.kit.store import Document


def time_text(moment: datetime) -> str:
    """The stored form of a clock reading."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _stamp(target: Timestamp, text: str | None) -> None:
    if text:
        target.FromDatetime(parse_time(text))


def user_document(user: resources_pb2.User) -> Document:
    return {
        "id": user.id,
        "kind": "user",
        "email": user.email,
        "displayName": user.display_name,
        "avatarUrl": user.avatar_url,
        "timezone": user.timezone,
        "locale": user.locale,
        "createTime": time_text(user.create_time.ToDatetime(tzinfo=UTC)),
        "updateTime": time_text(user.update_time.ToDatetime(tzinfo=UTC)),
    }


def user_from_document(document: Document) -> resources_pb2.User:
    user = resources_pb2.User(
        id=document["id"],
        email=document["email"],
        display_name=document["displayName"],
        avatar_url=document["avatarUrl"],
        timezone=document["timezone"],
        locale=document["locale"],
    )
    _stamp(user.create_time, document["createTime"])
    _stamp(user.update_time, document["updateTime"])
    return user


def organization_document(organization: resources_pb2.Organization) -> Document:
    return {
        "id": organization.id,
        "kind": "organization",
        "name": organization.name,
        "slug": organization.slug,
        "settings": dict(organization.settings),
        "createdBy": organization.created_by,
        "createTime": time_text(organization.create_time.ToDatetime(tzinfo=UTC)),
        "updateTime": time_text(organization.update_time.ToDatetime(tzinfo=UTC)),
    }


def organization_from_document(document: Document) -> resources_pb2.Organization:
    organization = resources_pb2.Organization(
        id=document["id"],
        name=document["name"],
        slug=document["slug"],
        settings=document["settings"],
        created_by=document["createdBy"],
    )
    _stamp(organization.create_time, document["createTime"])
    _stamp(organization.update_time, document["updateTime"])
    return organization


def member_document(member: resources_pb2.Member) -> Document:
    """The authoritative membership, in the organization's partition, keyed by user id."""
    return {
        "id": member.user_id,
        "kind": "member",
        "userId": member.user_id,
        "email": member.email,
        "displayName": member.display_name,
        "role": member.role,
        "joinTime": time_text(member.join_time.ToDatetime(tzinfo=UTC)),
    }


def member_from_document(organization_id: str, document: Document) -> resources_pb2.Member:
    member = resources_pb2.Member(
        organization_id=organization_id,
        user_id=document["userId"],
        email=document["email"],
        display_name=document["displayName"],
        role=document["role"],
    )
    _stamp(member.join_time, document["joinTime"])
    return member


def role_document(role: resources_pb2.Role) -> Document:
    return {
        "id": role.id,
        "kind": "role",
        "name": role.name,
        "description": role.description,
        "permissions": list(role.permissions),
        "createTime": time_text(role.create_time.ToDatetime(tzinfo=UTC)),
        "updateTime": time_text(role.update_time.ToDatetime(tzinfo=UTC)),
    }


def role_from_document(organization_id: str, document: Document) -> resources_pb2.Role:
    role = resources_pb2.Role(
        id=document["id"],
        organization_id=organization_id,
        name=document["name"],
        description=document["description"],
        permissions=document["permissions"],
        etag=document.get("_etag", ""),
    )
    _stamp(role.create_time, document["createTime"])
    _stamp(role.update_time, document["updateTime"])
    return role


def session_from_document(document: Document, current_id: str = "") -> resources_pb2.Session:
    session = resources_pb2.Session(
        id=document["id"],
        device_label=document["deviceLabel"],
        ip_address=document["ipAddress"],
        user_agent=document["userAgent"],
        organization_id=document["scopeOrganizationId"],
        current=document["id"] == current_id,
    )
    _stamp(session.create_time, document["createTime"])
    _stamp(session.last_seen_time, document["lastSeenTime"])
    return session


def audit_from_document(document: Document) -> resources_pb2.AuditEvent:
    event = resources_pb2.AuditEvent(
        id=document["id"],
        action=document["action"],
        actor_user_id=document["actorUserId"],
        subject_id=document["subjectId"],
        session_id=document["sessionId"],
        ip_address=document["ipAddress"],
        details=document["details"],
    )
    _stamp(event.time, document["time"])
    return event
