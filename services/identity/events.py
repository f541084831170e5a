"""The events the identity service publishes, the consumer it runs on them, and its audit
records.

Events are `identity.<entity>.<past-verb>`, their subject the entity id, their actor the caller
(or the user signing in). An event's organization is the partition it is stored in: the
organization for organization data, the user's id for a user's own records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from google.protobuf.message import Message

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2, resources_pb2
from services.identity._mapping import time_text
from services.kit import REVOKING_EVENTS, Clock, Resources
from services.kit.bus import Subscription, make_event, next_event_id
from services.kit.store import Document

USER_CREATED = "identity.user.created"
USER_UPDATED = "identity.user.updated"
USER_PASSWORD_CHANGED = "identity.user.password_changed"  # noqa: S105 (an event type)
ORGANIZATION_CREATED = "identity.organization.created"
ORGANIZATION_UPDATED = "identity.organization.updated"
MEMBER_ADDED = "identity.member.added"
MEMBER_ROLE_CHANGED = "identity.member.role_changed"
MEMBER_REMOVED = "identity.member.removed"
ROLE_CREATED = "identity.role.created"
ROLE_UPDATED = "identity.role.updated"
ROLE_DELETED = "identity.role.deleted"
EXTERNAL_IDENTITY_LINKED = "identity.external_identity.linked"
SESSION_STARTED = "identity.session.started"
SESSION_REFRESHED = "identity.session.refreshed"
SESSION_REVOKED = "identity.session.revoked"
SERVICE_ACCOUNT_CREATED = "identity.service_account.created"
SERVICE_ACCOUNT_SECRET_ROTATED = "identity.service_account.secret_rotated"  # noqa: S105
SERVICE_ACCOUNT_DISABLED = "identity.service_account.disabled"
SERVICE_ACCOUNT_DELETED = "identity.service_account.deleted"
SERVICE_ACCOUNT_USED = "identity.service_account.used"
TEAM_CREATED = "identity.team.created"
TEAM_UPDATED = "identity.team.updated"
TEAM_DELETED = "identity.team.deleted"
TEAM_MEMBER_ADDED = "identity.team_member.added"
TEAM_MEMBER_REMOVED = "identity.team_member.removed"
INVITATION_CREATED = "identity.invitation.created"
INVITATION_SENT = "identity.invitation.sent"
INVITATION_ACCEPTED = "identity.invitation.accepted"
INVITATION_REVOKED = "identity.invitation.revoked"

# Audit actions (AuditEvent.action).
LOGIN_SUCCEEDED = "login.succeeded"
LOGIN_FAILED = "login.failed"
ACCOUNT_LOCKED = "account.locked"
PASSWORD_CHANGED = "password.changed"  # noqa: S105 (an audit action)
MEMBER_ROLE_CHANGED_AUDIT = "member.role_changed"
MEMBER_REMOVED_AUDIT = "member.removed"
OWNERSHIP_TRANSFERRED_AUDIT = "organization.ownership_transferred"
SESSION_REVOKED_AUDIT = "session.revoked"
REFRESH_REUSED = "refresh_token.reused"
SERVICE_ACCOUNT_CREATED_AUDIT = "service_account.created"
SERVICE_ACCOUNT_ROTATED_AUDIT = "service_account.secret_rotated"
SERVICE_ACCOUNT_DISABLED_AUDIT = "service_account.disabled"
SERVICE_ACCOUNT_DELETED_AUDIT = "service_account.deleted"
SERVICE_ACCOUNT_USED_AUDIT = "service_account.used"
SERVICE_ACCOUNT_REFUSED_AUDIT = "service_account.refused"
INVITATION_CREATED_AUDIT = "invitation.created"
INVITATION_RESENT_AUDIT = "invitation.resent"
INVITATION_ACCEPTED_AUDIT = "invitation.accepted"
INVITATION_REVOKED_AUDIT = "invitation.revoked"
TOKEN_EXCHANGED_AUDIT = "token.exchanged"  # noqa: S105 (an audit action)
TOKEN_EXCHANGE_REFUSED_AUDIT = "token.exchange_refused"  # noqa: S105 (an audit action)


REVOCATIONS_CONSUMER = "identity.revocations"


def subscriptions(resources: Resources) -> Sequence[Subscription]:
    """The consumers identity runs: its revoking events into the shared set of revocations.

    The service records each revocation right after its change; this durable consumer
    (retried, dead-lettered, shared by identity's replicas) puts it there again from the
    outbox, so it lands even when the process that made the change stopped first."""
    return (
        Subscription(
            REVOCATIONS_CONSUMER, "identity", REVOKING_EVENTS, resources.revocations.share
        ),
    )


def service_actor(account_id: str) -> actor_pb2.Actor:
    return actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_SERVICE, id=account_id)


def user_actor(user_id: str, session_id: str = "") -> actor_pb2.Actor:
    return actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=user_id, session_id=session_id)


class IdentityEvents:
    """Builds the service's events for one actor at one clock."""

    def __init__(self, actor: actor_pb2.Actor, clock: Clock) -> None:
        self._actor = actor
        self._clock = clock

    def _event(
        self, event_type: str, partition: str, subject: str, data: Message
    ) -> event_pb2.Event:
        return make_event(
            event_type, partition, subject, data, actor=self._actor, clock=self._clock
        )

    def user(
        self, event_type: str, user: resources_pb2.User, changed: Iterable[str] = ()
    ) -> event_pb2.Event:
        payload = events_pb2.UserChanged(user=user)
        payload.changed_fields.paths.extend(changed)
        return self._event(event_type, user.id, user.id, payload)

    def organization(
        self,
        event_type: str,
        organization: resources_pb2.Organization,
        changed: Iterable[str] = (),
    ) -> event_pb2.Event:
        payload = events_pb2.OrganizationChanged(organization=organization)
        payload.changed_fields.paths.extend(changed)
        return self._event(event_type, organization.id, organization.id, payload)

    def member(
        self, event_type: str, member: resources_pb2.Member, previous_role: str = ""
    ) -> event_pb2.Event:
        payload = events_pb2.MemberChanged(member=member, previous_role=previous_role)
        return self._event(event_type, member.organization_id, member.user_id, payload)

    def role(self, event_type: str, role: resources_pb2.Role) -> event_pb2.Event:
        payload = events_pb2.RoleChanged(role=role)
        payload.role.ClearField("etag")
        return self._event(event_type, role.organization_id, role.id, payload)

    def external_linked(self, payload: events_pb2.ExternalIdentityLinked) -> event_pb2.Event:
        return self._event(EXTERNAL_IDENTITY_LINKED, payload.user_id, payload.user_id, payload)

    def session(
        self, event_type: str, user_id: str, session: resources_pb2.Session, reason: str = ""
    ) -> event_pb2.Event:
        payload = events_pb2.SessionChanged(user_id=user_id, session=session, reason=reason)
        return self._event(event_type, user_id, session.id, payload)

    def service_account(
        self, event_type: str, account: resources_pb2.ServiceAccount
    ) -> event_pb2.Event:
        payload = events_pb2.ServiceAccountChanged(service_account=account)
        return self._event(event_type, account.organization_id, account.id, payload)

    def team(
        self, event_type: str, team: resources_pb2.Team, changed: Iterable[str] = ()
    ) -> event_pb2.Event:
        payload = events_pb2.TeamChanged(team=team)
        payload.team.ClearField("etag")
        payload.changed_fields.paths.extend(changed)
        return self._event(event_type, team.organization_id, team.id, payload)

    def team_member(
        self, event_type: str, organization_id: str, member: resources_pb2.TeamMember
    ) -> event_pb2.Event:
        payload = events_pb2.TeamMemberChanged(member=member)
        return self._event(event_type, organization_id, member.team_id, payload)

    def invitation(self, event_type: str, invitation: resources_pb2.Invitation) -> event_pb2.Event:
        payload = events_pb2.InvitationChanged(invitation=invitation)
        return self._event(event_type, invitation.organization_id, invitation.id, payload)

    def invitation_sent(self, payload: events_pb2.InvitationSent) -> event_pb2.Event:
        invitation = payload.invitation
        return self._event(INVITATION_SENT, invitation.organization_id, invitation.id, payload)


def audit_document(
    action: str,
    at: datetime,
    *,
    actor_user_id: str = "",
    subject_id: str = "",
    session_id: str = "",
    ip_address: str = "",
    details: Mapping[str, str] | None = None,
) -> Document:
    """An audit record, stored in the organization's partition (or the user's)."""
    return {
        # Monotonic within the process, so records of one instant keep their order.
        "id": next_event_id(),
        "action": action,
        "actorUserId": actor_user_id,
        "subjectId": subject_id,
        "sessionId": session_id,
        "ipAddress": ip_address,
        "details": dict(details or {}),
        "time": time_text(at),
    }
