"""Every storage query of teams: container `teams`, partitioned by organization id.

One partition holds an organization's teams, their name reservations (`name:<casefolded>`,
created in the batch of the team, so names stay unique) and their memberships
(`member:<team id>:<user id>`), so every change is one atomic batch with its outbox event.
"""

from __future__ import annotations

from coder.events.v1 import event_pb2
from coder.identity.v1 import resources_pb2
from services.identity._mapping import stamp_text, team_document, team_from_document
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    ContainerSpec,
    DocumentStore,
    F,
    Query,
    reservation_id,
)

TEAMS = "teams"
CONTAINERS = (
    ContainerSpec(
        TEAMS, indexes=("/kind", "/createTime", "/parentId", "/teamId", "/addTime"), outbox=True
    ),
)


def _name_id(name: str) -> str:
    return reservation_id("name", name.casefold())


def _member_id(team_id: str, user_id: str) -> str:
    return f"member:{team_id}:{user_id}"


class TeamRepository(Repository):
    """Reads and atomic writes of teams and their memberships."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._teams = self.entities(TEAMS)

    async def create(self, team: resources_pb2.Team, event: event_pb2.Event) -> None:
        """The team and its name reservation; DocumentExists when the name is taken."""
        operations = [
            BatchOp.create(team_document(team)),
            BatchOp.create({"id": _name_id(team.name), "kind": "team_name", "teamId": team.id}),
        ]
        await self._teams.commit(team.organization_id, operations, [event])

    async def get(self, organization_id: str, team_id: str) -> resources_pb2.Team | None:
        document = await self._teams.get(organization_id, team_id)
        if document is None or document.get("kind") != "team":
            return None
        return team_from_document(organization_id, document)

    async def page(
        self, organization_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[resources_pb2.Team], str | None]:
        query = (
            Query()
            .where(F("kind") == "team")
            .order_by("createTime")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._teams.page(query, organization_id)
        return [team_from_document(organization_id, d) for d in page.items], page.continuation

    async def count_children(self, organization_id: str, team_id: str) -> int:
        query = Query().where(F("kind") == "team", F("parentId") == team_id)
        return await self._teams.count(query, organization_id)

    async def replace(
        self, team: resources_pb2.Team, previous_name: str, if_match: str, event: event_pb2.Event
    ) -> resources_pb2.Team:
        """EtagMismatch when the team changed since read; DocumentExists when the new name is
        taken."""
        operations = [BatchOp.replace(team_document(team), if_match=if_match)]
        if _name_id(previous_name) != _name_id(team.name):
            operations += [
                BatchOp.delete(_name_id(previous_name)),
                BatchOp.create({"id": _name_id(team.name), "kind": "team_name", "teamId": team.id}),
            ]
        written = await self._teams.commit(team.organization_id, operations, [event])
        return team_from_document(team.organization_id, written[0])

    async def delete(self, team: resources_pb2.Team, event: event_pb2.Event) -> None:
        """The memberships first (in batches), then the team, its name and its event."""
        query = Query().where(F("kind") == "team_member", F("teamId") == team.id)
        members = await self._teams.every(query, team.organization_id)
        step = MAX_BATCH_OPERATIONS
        for start in range(0, len(members), step):
            chunk = members[start : start + step]
            await self._teams.commit(team.organization_id, [BatchOp.delete(d["id"]) for d in chunk])
        operations = [BatchOp.delete(team.id), BatchOp.delete(_name_id(team.name))]
        await self._teams.commit(team.organization_id, operations, [event])

    async def add_member(
        self, organization_id: str, member: resources_pb2.TeamMember, event: event_pb2.Event
    ) -> None:
        """DocumentExists when the user is in the team already."""
        document = {
            "id": _member_id(member.team_id, member.user_id),
            "kind": "team_member",
            "teamId": member.team_id,
            "userId": member.user_id,
            "addTime": stamp_text(member.add_time),
        }
        await self._teams.commit(organization_id, [BatchOp.create(document)], [event])

    async def remove_member(
        self, organization_id: str, team_id: str, user_id: str, event: event_pb2.Event
    ) -> None:
        """DocumentNotFound when the user is not in the team."""
        operation = BatchOp.delete(_member_id(team_id, user_id))
        await self._teams.commit(organization_id, [operation], [event])

    async def member_page(
        self, organization_id: str, team_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[tuple[str, str]], str | None]:
        """(user id, add time) of a team's members, in order of joining."""
        query = (
            Query()
            .where(F("kind") == "team_member", F("teamId") == team_id)
            .order_by("addTime")
            .limit(page_size)
            .after(continuation)
        )
        page = await self._teams.page(query, organization_id)
        return [(d["userId"], d["addTime"]) for d in page.items], page.continuation

    async def has_member(self, organization_id: str, team_id: str, user_id: str) -> bool:
        return await self._teams.get(organization_id, _member_id(team_id, user_id)) is not None
