"""Teams: nested groups of an organization's members.

Anyone in the organization may read teams; creating, changing and deleting them, and managing
their members, is for owners and admins (checked here, since the kit's `member` role holds
`*.*.write`). A move takes a per-organization lock so that two concurrent moves cannot close a
cycle between them.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from services.identity import events as ev
from services.identity._access import own_organization
from services.identity._mapping import parse_time
from services.identity.events import IdentityEvents, user_actor
from services.identity.repository import IdentityRepositories
from services.kit import (
    AlreadyExists,
    Clock,
    DocumentExists,
    DocumentNotFound,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    Principal,
    apply_update,
    check_etag,
    new_id,
    read_modify_write,
    update_paths,
)
from services.kit.cache import Lock, LockManager

TEAM_WRITABLE = ("name", "description", "parent_id")
MAX_DEPTH = 20
"""Deepest nesting allowed; it also bounds the walk up a team's ancestors."""
TREE_LOCK_TTL = 10.0


class TeamService:
    """Teams of an organization and their members."""

    def __init__(
        self,
        repositories: IdentityRepositories,
        clock: Clock,
        locks: LockManager,
    ) -> None:
        self._repos = repositories
        self._teams = repositories.teams
        self._clock = clock
        self._locks = locks

    async def create(self, organization_id: str, draft: resources_pb2.Team) -> resources_pb2.Team:
        principal = own_organization(organization_id)
        _check_name(draft.name)
        now = self._clock.now()
        team = resources_pb2.Team(
            id=new_id(),
            organization_id=organization_id,
            name=draft.name.strip(),
            description=draft.description,
            parent_id=draft.parent_id,
            created_by=principal.subject,
        )
        team.create_time.FromDatetime(now)
        team.update_time.FromDatetime(now)
        async with self._tree_lock(organization_id):
            if team.parent_id:
                await self._check_parent(team)
            try:
                await self._teams.create(team, self._events(principal).team(ev.TEAM_CREATED, team))
            except DocumentExists as error:
                raise _name_taken() from error
        return team

    async def get(self, organization_id: str, team_id: str) -> resources_pb2.Team:
        own_organization(organization_id)
        return await self._team(organization_id, team_id)

    async def list_teams(
        self, request: api.ListTeamsRequest
    ) -> tuple[list[resources_pb2.Team], str]:
        organization_id = request.organization_id
        own_organization(organization_id)
        page = PageRequest.of(request, organization_id)
        found, continuation = await self._teams.page(organization_id, page.size, page.continuation)
        return found, page.seal(continuation)

    async def update(self, changes: resources_pb2.Team, mask: FieldMask) -> resources_pb2.Team:
        """Rename, describe or move a team; a move under itself or a descendant is refused."""
        paths = update_paths(mask, changes, "team", TEAM_WRITABLE)
        principal = own_organization(changes.organization_id)
        if "name" in paths:
            _check_name(changes.name)
        changes.name = changes.name.strip()

        async def attempt() -> resources_pb2.Team:
            async with self._tree_lock(changes.organization_id):
                current = await self._team(changes.organization_id, changes.id)
                check_etag(changes.etag, current.etag, "team")
                updated, changed = apply_update(current, changes, paths)
                if not changed:
                    return current
                if "parent_id" in changed and updated.parent_id:
                    await self._check_parent(updated)
                updated.ClearField("etag")
                updated.update_time.FromDatetime(self._clock.now())
                event = self._events(principal).team(ev.TEAM_UPDATED, updated, changed)
                try:
                    return await self._teams.replace(updated, current.name, current.etag, event)
                except DocumentExists as error:
                    raise _name_taken() from error

        return await read_modify_write(changes.etag, attempt)

    async def delete(self, organization_id: str, team_id: str) -> None:
        principal = own_organization(organization_id)
        async with self._tree_lock(organization_id):
            team = await self._team(organization_id, team_id)
            if await self._teams.count_children(organization_id, team_id):
                raise FailedPrecondition(
                    "the team has subteams; move or delete them first", reason="TEAM_HAS_SUBTEAMS"
                )
            await self._teams.delete(team, self._events(principal).team(ev.TEAM_DELETED, team))

    # --- members -------------------------------------------------------------------------------

    async def add_member(
        self, organization_id: str, team_id: str, user_id: str
    ) -> resources_pb2.TeamMember:
        """Add an organization member to a team."""
        principal = own_organization(organization_id)
        await self._team(organization_id, team_id)
        member = await self._repos.organizations.get_member(organization_id, user_id)
        if member is None:
            raise FailedPrecondition(
                f"user {user_id} is not a member of the organization", reason="NOT_A_MEMBER"
            )
        entry = resources_pb2.TeamMember(
            team_id=team_id,
            user_id=user_id,
            email=member.email,
            display_name=member.display_name,
        )
        entry.add_time.FromDatetime(self._clock.now())
        event = self._events(principal).team_member(ev.TEAM_MEMBER_ADDED, organization_id, entry)
        try:
            await self._teams.add_member(organization_id, entry, event)
        except DocumentExists as error:
            raise AlreadyExists(
                "the user is already in the team", reason="TEAM_MEMBER_EXISTS"
            ) from error
        return entry

    async def remove_member(self, organization_id: str, team_id: str, user_id: str) -> None:
        principal = own_organization(organization_id)
        await self._team(organization_id, team_id)
        entry = resources_pb2.TeamMember(team_id=team_id, user_id=user_id)
        event = self._events(principal).team_member(ev.TEAM_MEMBER_REMOVED, organization_id, entry)
        try:
            await self._teams.remove_member(organization_id, team_id, user_id, event)
        except DocumentNotFound as error:
            raise NotFound(
                f"user {user_id} is not in the team", reason="TEAM_MEMBER_NOT_FOUND"
            ) from error

    async def list_members(
        self, request: api.ListTeamMembersRequest
    ) -> tuple[list[resources_pb2.TeamMember], str]:
        """A page of the team's members. Someone who has left the organization is left out:
        the organization's member document is the authority (as for membership mirrors)."""
        organization_id, team_id = request.organization_id, request.team_id
        own_organization(organization_id)
        page = PageRequest.of(request, organization_id)
        await self._team(organization_id, team_id)
        found, continuation = await self._teams.member_page(
            organization_id, team_id, page.size, page.continuation
        )
        members = []
        for user_id, added in found:
            member = await self._repos.organizations.get_member(organization_id, user_id)
            if member is None:
                continue
            entry = resources_pb2.TeamMember(
                team_id=team_id,
                user_id=user_id,
                email=member.email,
                display_name=member.display_name,
            )
            entry.add_time.FromDatetime(parse_time(added))
            members.append(entry)
        return members, page.seal(continuation)

    # --- rules ---------------------------------------------------------------------------------

    async def _check_parent(self, team: resources_pb2.Team) -> None:
        """The parent exists, is not the team nor one of its descendants, and the nesting
        stays within MAX_DEPTH."""
        ancestor_id = team.parent_id
        depth = 1
        while ancestor_id:
            if ancestor_id == team.id:
                raise InvalidArgument(
                    "a team cannot be moved under itself or one of its subteams",
                    reason="TEAM_CYCLE",
                    violations=[
                        FieldViolation("team.parent_id", "is the team or one of its subteams")
                    ],
                )
            ancestor = await self._teams.get(team.organization_id, ancestor_id)
            if ancestor is None:
                raise InvalidArgument(
                    f"no team {ancestor_id} in this organization",
                    reason="TEAM_PARENT_NOT_FOUND",
                    violations=[FieldViolation("team.parent_id", "names no team")],
                )
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidArgument(
                    f"teams nest at most {MAX_DEPTH} levels deep",
                    reason="TEAM_TOO_DEEP",
                    violations=[FieldViolation("team.parent_id", "nests too deep")],
                )
            ancestor_id = ancestor.parent_id

    def _tree_lock(self, organization_id: str) -> AbstractAsyncContextManager[Lock]:
        return self._locks.lock(f"identity:teams:{organization_id}", ttl=TREE_LOCK_TTL, wait=5.0)

    async def _team(self, organization_id: str, team_id: str) -> resources_pb2.Team:
        team = await self._teams.get(organization_id, team_id)
        if team is None:
            raise NotFound(f"team {team_id} not found", reason="TEAM_NOT_FOUND")
        return team

    def _events(self, principal: Principal) -> IdentityEvents:
        return IdentityEvents(user_actor(principal.subject, principal.session_id), self._clock)


def _check_name(name: str) -> None:
    if not name.strip():
        raise InvalidArgument(
            "the team needs a name",
            violations=[FieldViolation("team.name", "must not be blank")],
        )


def _name_taken() -> AlreadyExists:
    return AlreadyExists(
        "a team with this name exists",
        reason="TEAM_NAME_TAKEN",
        violations=[FieldViolation("team.name", "is taken in this organization")],
    )
