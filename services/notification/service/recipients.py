"""Who a rule's notification goes to, resolved per event.

The assignee and a named user come from the event itself; a team's members from Identity and
a project's people (its creator and its tasks' assignees) from Planning, over gRPC with a
token delegated by the event's actor (so nobody learns of a team or project through a
notification who could not read it); the organization's admins from the directory the service
keeps from identity's membership events (Identity's member list is admin-only, so an actor
who is not an admin could not read it on the event's behalf).
"""

from __future__ import annotations

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.identity.v1 import identity_service_pb2 as identity_api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1.planning_service_pb2_grpc import PlanningServiceStub
from services.kit import DomainError, Peers, get_logger
from services.notification._rules import Occurrence, Recipient, Rule
from services.notification.service.lookups import Snapshot

_log = get_logger("coder.notification")
PAGE = 1000


class RecipientResolver:
    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def resolve(
        self, rule: Rule, occurrence: Occurrence, event: event_pb2.Event, snapshot: Snapshot
    ) -> list[str]:
        """The user ids to notify, in a stable order, without the event's own actor."""
        found: dict[str, None] = {}
        for kind in rule.recipients:
            try:
                for user_id in await self._of(kind, occurrence, event, snapshot):
                    found.setdefault(user_id, None)
            except DomainError as refused:
                # The actor may not see the team or project (any more), or its service is out
                # of reach: those people are not told, the others still are.
                _log.warning(
                    "notification.recipients_refused",
                    event_id=event.id,
                    recipients=kind.value,
                    reason=str(refused),
                )
        actor = event.actor
        if actor.kind == actor_pb2.ACTOR_KIND_USER:
            found.pop(actor.id, None)
        found.pop("", None)
        return list(found)

    async def _of(
        self, kind: Recipient, occurrence: Occurrence, event: event_pb2.Event, snapshot: Snapshot
    ) -> list[str]:
        match kind:
            case Recipient.ASSIGNEE:
                return [occurrence.assignee_id]
            case Recipient.USER:
                return [occurrence.user_id]
            case Recipient.ORGANIZATION_ADMINS:
                return [person["id"] for person in await snapshot.admins()]
            case Recipient.TEAM:
                return await self._team(occurrence.team_id, event) if occurrence.team_id else []
            case Recipient.PROJECT_MEMBERS:
                if not occurrence.project_id:
                    return []
                return await self._project(occurrence.project_id, event)

    async def _team(self, team_id: str, event: event_pb2.Event) -> list[str]:
        identity = await self._peers.stub(
            IdentityServiceStub, on_behalf_of=event, scope="identity.team.read"
        )
        members: list[str] = []
        token = ""
        while True:
            page = await identity.ListTeamMembers(
                identity_api.ListTeamMembersRequest(
                    organization_id=event.organization_id,
                    team_id=team_id,
                    page_size=PAGE,
                    page_token=token,
                )
            )
            members.extend(member.user_id for member in page.members)
            token = page.next_page_token
            if not token:
                return members

    async def _project(self, project_id: str, event: event_pb2.Event) -> list[str]:
        planning = await self._peers.stub(
            PlanningServiceStub, on_behalf_of=event, scope="planning.*.read"
        )
        project = await planning.GetProject(planning_api.GetProjectRequest(project_id=project_id))
        people = [project.project.created_by]
        token = ""
        while True:
            page = await planning.ListTasks(
                planning_api.ListTasksRequest(
                    project_id=project_id, page_size=PAGE, page_token=token
                )
            )
            people.extend(task.assignee_id for task in page.tasks if task.assignee_id)
            token = page.next_page_token
            if not token:
                return people
