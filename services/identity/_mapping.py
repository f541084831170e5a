"""Proto ↔ document mapping of the identity entities.

Documents use lowerCamelCase names; times are the kit's stored time text (fixed-width RFC 3339
UTC, nine fractional digits), so string order is time order and queries can sort and compare
them.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from coder.identity.v1 import resources_pb2
from services.kit import (
    fill_timestamp,
    optional_timestamp_text,
    parse_time_text,
    time_text,
    timestamp_text,
)
from services.kit.store import Document

__all__ = ["parse_time", "stamp_text", "time_text"]


def stamp_text(stamp: Timestamp) -> str:
    """The stored form of a proto timestamp."""
    return timestamp_text(stamp)


def parse_time(text: str) -> datetime:
    return parse_time_text(text)


def _stamp(target: Timestamp, text: str | None) -> None:
    if text:
        fill_timestamp(target, text)


def user_document(user: resources_pb2.User) -> Document:
    return {
        "id": user.id,
        "kind": "user",
        "email": user.email,
        "displayName": user.display_name,
        "avatarUrl": user.avatar_url,
        "timezone": user.timezone,
        "locale": user.locale,
        "createTime": timestamp_text(user.create_time),
        "updateTime": timestamp_text(user.update_time),
    }


def user_from_document(document: Document) -> resources_pb2.User:
    user = resources_pb2.User(
        id=document["id"],
        email=document["email"],
        display_name=document["displayName"],
        avatar_url=document["avatarUrl"],
        timezone=document["timezone"],
        locale=document["locale"],
        etag=document.get("_etag", ""),
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
        "createTime": timestamp_text(organization.create_time),
        "updateTime": timestamp_text(organization.update_time),
    }


def organization_from_document(document: Document) -> resources_pb2.Organization:
    organization = resources_pb2.Organization(
        id=document["id"],
        name=document["name"],
        slug=document["slug"],
        settings=document["settings"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
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
        "joinTime": timestamp_text(member.join_time),
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
        "createTime": timestamp_text(role.create_time),
        "updateTime": timestamp_text(role.update_time),
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


def service_account_document(account: resources_pb2.ServiceAccount, secret_hash: str) -> Document:
    """A service account in its organization's partition, with the hash of its secret."""
    return {
        "id": account.id,
        "kind": "service_account",
        "name": account.name,
        "description": account.description,
        "permissions": list(account.permissions),
        "expireTime": optional_timestamp_text(account, "expire_time"),
        "disabled": account.disabled,
        "lastUsedTime": optional_timestamp_text(account, "last_used_time"),
        "createdBy": account.created_by,
        "createTime": timestamp_text(account.create_time),
        "updateTime": timestamp_text(account.update_time),
        "secretCreateTime": timestamp_text(account.secret_create_time),
        "secretHash": secret_hash,
    }


def service_account_from_document(
    organization_id: str, document: Document
) -> resources_pb2.ServiceAccount:
    account = resources_pb2.ServiceAccount(
        id=document["id"],
        organization_id=organization_id,
        client_id=f"{organization_id}.{document['id']}",
        name=document["name"],
        description=document["description"],
        permissions=document["permissions"],
        disabled=document["disabled"],
        created_by=document["createdBy"],
    )
    _stamp(account.expire_time, document["expireTime"])
    _stamp(account.last_used_time, document["lastUsedTime"])
    _stamp(account.create_time, document["createTime"])
    _stamp(account.update_time, document["updateTime"])
    _stamp(account.secret_create_time, document["secretCreateTime"])
    return account


def invitation_document(invitation: resources_pb2.Invitation, token_hash: str) -> Document:
    """An invitation in its organization's partition, with the hash of its current token.
    `state` is stored as pending/accepted/revoked; expiry is read from `expireTime`."""
    return {
        "id": invitation.id,
        "kind": "invitation",
        "email": invitation.email,
        "role": invitation.role,
        "state": resources_pb2.InvitationState.Name(invitation.state),
        "invitedBy": invitation.invited_by,
        "createTime": timestamp_text(invitation.create_time),
        "expireTime": timestamp_text(invitation.expire_time),
        "updateTime": timestamp_text(invitation.update_time),
        "resendCount": invitation.resend_count,
        "acceptedBy": invitation.accepted_by,
        "tokenHash": token_hash,
    }


def invitation_from_document(
    organization_id: str, document: Document, now: datetime
) -> resources_pb2.Invitation:
    state = resources_pb2.InvitationState.Value(document["state"])
    if (
        state == resources_pb2.INVITATION_STATE_PENDING
        and parse_time(document["expireTime"]) <= now
    ):
        state = resources_pb2.INVITATION_STATE_EXPIRED
    invitation = resources_pb2.Invitation(
        id=document["id"],
        organization_id=organization_id,
        email=document["email"],
        role=document["role"],
        state=state,
        invited_by=document["invitedBy"],
        resend_count=document["resendCount"],
        accepted_by=document["acceptedBy"],
    )
    _stamp(invitation.create_time, document["createTime"])
    _stamp(invitation.expire_time, document["expireTime"])
    _stamp(invitation.update_time, document["updateTime"])
    return invitation


def team_document(team: resources_pb2.Team) -> Document:
    return {
        "id": team.id,
        "kind": "team",
        "name": team.name,
        "description": team.description,
        "parentId": team.parent_id,
        "createdBy": team.created_by,
        "createTime": stamp_text(team.create_time),
        "updateTime": stamp_text(team.update_time),
    }


def team_from_document(organization_id: str, document: Document) -> resources_pb2.Team:
    team = resources_pb2.Team(
        id=document["id"],
        organization_id=organization_id,
        name=document["name"],
        description=document["description"],
        parent_id=document["parentId"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    _stamp(team.create_time, document["createTime"])
    _stamp(team.update_time, document["updateTime"])
    return team
