"""Events as the producing services publish them, receivers that record what reaches them,
and small waiting helpers."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from google.protobuf import json_format

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.identity.v1 import events_pb2 as identity_events
from coder.identity.v1 import resources_pb2 as identity
from coder.notification.v1 import resources_pb2
from coder.planning.v1 import events_pb2 as planning_events
from coder.planning.v1 import task_pb2
from services.kit import Clock, new_id
from services.kit.bus import EventBus, make_event


def prefs(fields: dict[str, Any]) -> resources_pb2.Preferences:
    """Preferences from their proto JSON (field names as in the proto)."""
    return json_format.ParseDict(fields, resources_pb2.Preferences())


def user(user_id: str) -> actor_pb2.Actor:
    return actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id=user_id)


def member_added(
    organization_id: str, user_id: str, *, role: str = "member", clock: Clock | None = None
) -> event_pb2.Event:
    member = identity.Member(
        organization_id=organization_id,
        user_id=user_id,
        email=f"{user_id}@example.com",
        display_name=user_id.title(),
        role=role,
    )
    return make_event(
        "identity.member.added",
        organization_id,
        user_id,
        identity_events.MemberChanged(member=member),
        actor=user(user_id),
        clock=clock,
    )


def task_assigned(
    organization_id: str,
    assignee: str,
    *,
    actor: str = "alice",
    title: str = "Write the release notes",
    clock: Clock | None = None,
) -> event_pb2.Event:
    task = task_pb2.Task(
        id=new_id(),
        project_id="project-1",
        organization_id=organization_id,
        title=title,
        assignee_id=assignee,
        created_by=actor,
    )
    return make_event(
        "planning.task.created",
        organization_id,
        task.id,
        planning_events.TaskChanged(task=task),
        actor=user(actor),
        clock=clock,
    )


def status_changed(
    organization_id: str, assignee: str, *, actor: str = "alice", clock: Clock | None = None
) -> event_pb2.Event:
    task = task_pb2.Task(
        id=new_id(),
        project_id="project-1",
        organization_id=organization_id,
        title="Tidy the backlog",
        assignee_id=assignee,
        status=task_pb2.TASK_STATUS_DONE,
    )
    payload = planning_events.TaskChanged(
        task=task, previous_status=task_pb2.TASK_STATUS_IN_PROGRESS
    )
    payload.changed_fields.paths.append("status")
    return make_event(
        "planning.task.status_changed",
        organization_id,
        task.id,
        payload,
        actor=user(actor),
        clock=clock,
    )


async def people(bus: EventBus, organization_id: str, *members: tuple[str, str]) -> None:
    """Tell the service's directory of the organization's members, as identity would."""
    await bus.publish([member_added(organization_id, name, role=role) for name, role in members])


# --- an SMTP inbox ---------------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


# --- a webhook receiver ----------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """An HTTP server answering every POST with `status` and keeping what it got."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            body = await request.read()
            self.received.append(Received(dict(request.headers), body, self.status))
            # No keep-alive: the sender's pooled connection would hold up the server's cleanup.
            return web.Response(
                status=self.status,
                text="ok" if self.status < 300 else "no",
                headers={"connection": "close"},
            )

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def of(self, event_type: str) -> list[Received]:
        import json

        return [r for r in self.received if json.loads(r.body)["type"] == event_type]


def body_of(received: Received) -> dict[str, Any]:
    import json

    parsed: dict[str, Any] = json.loads(received.body)
    return parsed
