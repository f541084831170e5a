"""The rules: which events notify whom, and how urgently.

A rule consumes one event type of one domain (`source`) and, when its payload says the rule
applies, names a notification type (`type`, what preferences and templates are keyed by),
recipients and a criticality. A later domain joins by declaring its rules here: the service
binds its queue to every source listed, so nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2 as identity_events
from coder.notification.v1 import events_pb2 as notification_events
from coder.notification.v1 import resources_pb2
from coder.planning.v1 import events_pb2 as planning_events
from coder.planning.v1 import task_pb2
from coder.usage.v1 import events_pb2 as usage_events

M = TypeVar("M", bound=Message)


class Recipient(StrEnum):
    """Whom a rule notifies."""

    ASSIGNEE = "assignee"
    PROJECT_MEMBERS = "project_members"
    ORGANIZATION_ADMINS = "organization_admins"
    TEAM = "team"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Occurrence:
    """What a rule reads from one event: the data its templates see and the ids its
    recipients are resolved from."""

    data: Mapping[str, Any]
    subject: str
    action_url: str = ""
    assignee_id: str = ""
    project_id: str = ""
    team_id: str = ""
    user_id: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    type: str
    source: str
    recipients: tuple[Recipient, ...]
    criticality: resources_pb2.Criticality.ValueType
    description: str
    read: Callable[[event_pb2.Event], Occurrence | None] = field(repr=False)

    @property
    def domain(self) -> str:
        return self.source.split(".", 1)[0]

    def proto(self) -> resources_pb2.Rule:
        return resources_pb2.Rule(
            event_type=self.type,
            recipients=[r.value for r in self.recipients],
            criticality=self.criticality,
            description=self.description,
        )


def _plain(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def _unpacked(event: event_pb2.Event, kind: type[M]) -> M | None:
    payload = kind()
    return payload if event.data.Unpack(payload) else None


# --- planning --------------------------------------------------------------------------------


def _task_link(task: Any) -> str:
    # The web UI's project page opens the task's drawer for `?task=`.
    return f"/planning/{task.project_id}?task={task.id}"


def _task_assigned(event: event_pb2.Event) -> Occurrence | None:
    payload = _unpacked(event, planning_events.TaskChanged)
    if payload is None or not payload.task.assignee_id:
        return None
    if event.type == "planning.task.updated" and "assignee_id" not in payload.changed_fields.paths:
        return None
    task = payload.task
    return Occurrence(
        data={"task": _plain(task)},
        subject=f"task:{task.id}:{task.assignee_id}",
        action_url=_task_link(task),
        assignee_id=task.assignee_id,
        project_id=task.project_id,
    )


def _task_status(event: event_pb2.Event) -> Occurrence | None:
    payload = _unpacked(event, planning_events.TaskChanged)
    if payload is None:
        return None
    task = payload.task
    data = {
        "task": _plain(task),
        "previous_status": task_pb2.TaskStatus.Name(payload.previous_status),
    }
    return Occurrence(
        data=data,
        subject=f"task:{task.id}:{event.id}",
        action_url=_task_link(task),
        assignee_id=task.assignee_id,
        project_id=task.project_id,
    )


# --- identity --------------------------------------------------------------------------------


def _member_added(event: event_pb2.Event) -> Occurrence | None:
    payload = _unpacked(event, identity_events.MemberChanged)
    if payload is None:
        return None
    return Occurrence(
        data={"member": _plain(payload.member)},
        subject=f"member:{payload.member.user_id}",
        action_url="/settings/organization/members",
    )


def _team_member_added(event: event_pb2.Event) -> Occurrence | None:
    payload = _unpacked(event, identity_events.TeamMemberChanged)
    if payload is None:
        return None
    member = payload.member
    return Occurrence(
        data={"team_member": _plain(member)},
        subject=f"team:{member.team_id}:{member.user_id}",
        action_url="/settings/organization/teams",
        user_id=member.user_id,
        team_id=member.team_id,
    )


# --- usage -----------------------------------------------------------------------------------


def _usage_alert(event: event_pb2.Event) -> Occurrence | None:
    payload = _unpacked(event, usage_events.AlertRaised)
    if payload is None:
        return None
    return Occurrence(
        data={"alert": _plain(payload.alert)},
        subject=f"limit:{payload.alert.limit_id}:{event.type}",
        action_url="/usage",
    )


# --- notification (its own events) -----------------------------------------------------------


def _webhook_disabled(event: event_pb2.Event) -> Occurrence | None:
    payload = _unpacked(event, notification_events.WebhookDisabled)
    if payload is None:
        return None
    return Occurrence(
        data={
            "endpoint": _plain(payload.endpoint),
            "consecutive_failures": payload.consecutive_failures,
            "last_error": payload.last_error,
        },
        subject=f"webhook:{payload.endpoint.id}:{event.id}",
        action_url=f"/notifications/webhooks/{payload.endpoint.id}",
    )


_C = resources_pb2
_ADMINS = (Recipient.ORGANIZATION_ADMINS,)


def _usage_rules() -> Iterable[Rule]:
    levels = {
        "warning": _C.CRITICALITY_NORMAL,
        "critical": _C.CRITICALITY_HIGH,
        "exceeded": _C.CRITICALITY_CRITICAL,
    }
    for kind in ("quota", "budget"):
        for level, criticality in levels.items():
            name = f"usage.{kind}.{level}"
            yield Rule(
                name,
                name,
                _ADMINS,
                criticality,
                f"A {kind} reached its {level} level.",
                _usage_alert,
            )
    yield Rule(
        "usage.budget.forecast_exceeded",
        "usage.budget.forecast_exceeded",
        _ADMINS,
        _C.CRITICALITY_HIGH,
        "A budget is forecast to be exceeded this period.",
        _usage_alert,
    )


RULES: tuple[Rule, ...] = (
    Rule(
        "planning.task.assigned",
        "planning.task.created",
        (Recipient.ASSIGNEE,),
        _C.CRITICALITY_NORMAL,
        "A task was created for, or assigned to, someone.",
        _task_assigned,
    ),
    Rule(
        "planning.task.assigned",
        "planning.task.updated",
        (Recipient.ASSIGNEE,),
        _C.CRITICALITY_NORMAL,
        "A task was created for, or assigned to, someone.",
        _task_assigned,
    ),
    Rule(
        "planning.task.status_changed",
        "planning.task.status_changed",
        (Recipient.ASSIGNEE, Recipient.PROJECT_MEMBERS),
        _C.CRITICALITY_LOW,
        "A task moved to another status: its assignee and the project's people hear of it.",
        _task_status,
    ),
    Rule(
        "identity.member.added",
        "identity.member.added",
        _ADMINS,
        _C.CRITICALITY_LOW,
        "Someone joined the organization.",
        _member_added,
    ),
    Rule(
        "identity.team_member.added",
        "identity.team_member.added",
        (Recipient.USER, Recipient.TEAM),
        _C.CRITICALITY_LOW,
        "Someone was added to a team: they and the team hear of it.",
        _team_member_added,
    ),
    *_usage_rules(),
    Rule(
        "notification.webhook.disabled",
        "notification.webhook.disabled",
        _ADMINS,
        _C.CRITICALITY_HIGH,
        "A webhook endpoint was disabled after repeated failures.",
        _webhook_disabled,
    ),
)

DIRECTORY_SOURCES = (
    "identity.member.added",
    "identity.member.role_changed",
    "identity.member.removed",
)
"""Identity's membership events, which keep the service's directory of people (addresses,
names, roles) current."""


def rules_for(event_type: str) -> tuple[Rule, ...]:
    return _BY_SOURCE.get(event_type, ())


def sources_by_domain() -> dict[str, tuple[str, ...]]:
    """Every event type consumed, by publishing domain."""
    by_domain: dict[str, list[str]] = {}
    for source in [*(rule.source for rule in RULES), *DIRECTORY_SOURCES]:
        types = by_domain.setdefault(source.split(".", 1)[0], [])
        if source not in types:
            types.append(source)
    return {domain: tuple(types) for domain, types in by_domain.items()}


def notification_types() -> tuple[Rule, ...]:
    """One rule per notification type (the first declared), in declaration order."""
    seen: dict[str, Rule] = {}
    for rule in RULES:
        seen.setdefault(rule.type, rule)
    return tuple(seen.values())


def criticality_of(notification_type: str) -> resources_pb2.Criticality.ValueType:
    for rule in RULES:
        if rule.type == notification_type:
            return rule.criticality
    return _C.CRITICALITY_NORMAL


_BY_SOURCE: dict[str, tuple[Rule, ...]] = {}
for _rule in RULES:
    _BY_SOURCE[_rule.source] = (*_BY_SOURCE.get(_rule.source, ()), _rule)
