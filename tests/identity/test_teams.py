"""Teams: nesting, cycles refused, unique names, deletion rules, members (organization members
only), who may manage them, validation, events and tenant isolation."""

from __future__ import annotations

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import auth
from tests.identity.conftest import IdentityServer
from tests.identity.factories import register
from tests.identity.test_organizations import member_of


async def create_team(
    stub: IdentityServiceStub, owner: api.AuthResult, name: str, parent_id: str = ""
) -> resources_pb2.Team:
    reply: api.CreateTeamResponse = await stub.CreateTeam(
        api.CreateTeamRequest(
            organization_id=owner.organization_id,
            team=resources_pb2.Team(name=name, parent_id=parent_id),
        ),
        metadata=auth(owner.access_token),
    )
    return reply.team


async def move(
    stub: IdentityServiceStub, owner: api.AuthResult, team: resources_pb2.Team, parent_id: str
) -> resources_pb2.Team:
    reply: api.UpdateTeamResponse = await stub.UpdateTeam(
        api.UpdateTeamRequest(
            team=resources_pb2.Team(
                id=team.id, organization_id=owner.organization_id, parent_id=parent_id
            ),
            update_mask=FieldMask(paths=["parent_id"]),
        ),
        metadata=auth(owner.access_token),
    )
    return reply.team


class TestTree:
    async def test_teams_nest_and_move(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub)
        engineering = await create_team(stub, owner, "Engineering")
        backend = await create_team(stub, owner, "Backend", engineering.id)
        design = await create_team(stub, owner, "Design")
        assert backend.parent_id == engineering.id

        moved = await move(stub, owner, backend, design.id)
        assert moved.parent_id == design.id
        assert moved.name == "Backend"
        top = await move(stub, owner, backend, "")
        assert top.parent_id == ""

        listed: api.ListTeamsResponse = await stub.ListTeams(
            api.ListTeamsRequest(organization_id=owner.organization_id),
            metadata=auth(owner.access_token),
        )
        assert [t.name for t in listed.teams] == ["Engineering", "Backend", "Design"]

    async def test_a_move_under_itself_or_a_descendant_is_refused(
        self, stub: IdentityServiceStub
    ) -> None:
        owner = await register(stub)
        a = await create_team(stub, owner, "A")
        b = await create_team(stub, owner, "B", a.id)
        c = await create_team(stub, owner, "C", b.id)
        for parent in (a.id, c.id, b.id):
            error = await rpc_error(move(stub, owner, a, parent), grpc.StatusCode.INVALID_ARGUMENT)
            assert error_reason(error) == "TEAM_CYCLE"
            assert violated_fields(error) == {"team.parent_id"}

    async def test_an_unknown_parent_is_refused(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub)
        error = await rpc_error(
            create_team(stub, owner, "Orphan", "NOSUCHTEAM"), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"team.parent_id"}

    async def test_names_are_unique_per_organization(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub)
        await create_team(stub, owner, "Platform")
        error = await rpc_error(
            create_team(stub, owner, "platform"), grpc.StatusCode.ALREADY_EXISTS
        )
        assert error_reason(error) == "TEAM_NAME_TAKEN"
        assert violated_fields(error) == {"team.name"}
        # Another organization may use it.
        other = await register(stub)
        await create_team(stub, other, "Platform")
        # A rename frees the old name and takes the new one.
        ops = await create_team(stub, owner, "Ops")
        await stub.UpdateTeam(
            api.UpdateTeamRequest(
                team=resources_pb2.Team(
                    id=ops.id, organization_id=owner.organization_id, name="SRE"
                ),
                update_mask=FieldMask(paths=["name"]),
            ),
            metadata=auth(owner.access_token),
        )
        await create_team(stub, owner, "Ops")
        await rpc_error(create_team(stub, owner, "sre"), grpc.StatusCode.ALREADY_EXISTS)

    async def test_a_team_with_subteams_is_not_deleted(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        parent = await create_team(stub, owner, "Parent")
        child = await create_team(stub, owner, "Child", parent.id)
        token = auth(owner.access_token)
        error = await rpc_error(
            stub.DeleteTeam(
                api.DeleteTeamRequest(organization_id=owner.organization_id, team_id=parent.id),
                metadata=token,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "TEAM_HAS_SUBTEAMS"
        await stub.AddTeamMember(
            api.AddTeamMemberRequest(
                organization_id=owner.organization_id, team_id=child.id, user_id=owner.user.id
            ),
            metadata=token,
        )
        for team in (child, parent):
            await stub.DeleteTeam(
                api.DeleteTeamRequest(organization_id=owner.organization_id, team_id=team.id),
                metadata=token,
            )
        await rpc_error(
            stub.GetTeam(
                api.GetTeamRequest(organization_id=owner.organization_id, team_id=child.id),
                metadata=token,
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        # The name is free again.
        await create_team(stub, owner, "Parent")

    async def test_bad_input_names_its_fields(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub)
        for name, field in (("", "team.name"), ("   ", "team.name"), ("x" * 101, "team.name")):
            error = await rpc_error(
                create_team(stub, owner, name), grpc.StatusCode.INVALID_ARGUMENT
            )
            assert violated_fields(error) == {field}
        team = await create_team(stub, owner, "Masked")
        error = await rpc_error(
            stub.UpdateTeam(
                api.UpdateTeamRequest(
                    team=resources_pb2.Team(id=team.id, organization_id=owner.organization_id),
                    update_mask=FieldMask(paths=["created_by"]),
                ),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"update_mask"}


class TestMembers:
    async def test_organization_members_join_and_leave_teams(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        member = await member_of(server, owner, "member")
        team = await create_team(stub, owner, "Crew")
        token = auth(owner.access_token)
        ids = {"organization_id": owner.organization_id, "team_id": team.id}
        added: api.AddTeamMemberResponse = await stub.AddTeamMember(
            api.AddTeamMemberRequest(**ids, user_id=member.user.id), metadata=token
        )
        assert added.member.email == member.user.email
        error = await rpc_error(
            stub.AddTeamMember(
                api.AddTeamMemberRequest(**ids, user_id=member.user.id), metadata=token
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert error_reason(error) == "TEAM_MEMBER_EXISTS"

        outsider = await register(stub)
        error = await rpc_error(
            stub.AddTeamMember(
                api.AddTeamMemberRequest(**ids, user_id=outsider.user.id), metadata=token
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "NOT_A_MEMBER"

        # Every member may read teams.
        listed: api.ListTeamMembersResponse = await stub.ListTeamMembers(
            api.ListTeamMembersRequest(
                organization_id=ids["organization_id"], team_id=ids["team_id"]
            ),
            metadata=auth(member.access_token),
        )
        assert [m.user_id for m in listed.members] == [member.user.id]

        await stub.RemoveTeamMember(
            api.RemoveTeamMemberRequest(**ids, user_id=member.user.id), metadata=token
        )
        await rpc_error(
            stub.RemoveTeamMember(
                api.RemoveTeamMemberRequest(**ids, user_id=member.user.id), metadata=token
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        listed = await stub.ListTeamMembers(
            api.ListTeamMembersRequest(
                organization_id=ids["organization_id"], team_id=ids["team_id"]
            ),
            metadata=token,
        )
        assert list(listed.members) == []

    async def test_someone_who_left_the_organization_is_not_listed(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        member = await member_of(server, owner, "member")
        team = await create_team(stub, owner, "Leavers")
        token = auth(owner.access_token)
        ids = {"organization_id": owner.organization_id, "team_id": team.id}
        await stub.AddTeamMember(
            api.AddTeamMemberRequest(**ids, user_id=member.user.id), metadata=token
        )
        await stub.RemoveMember(
            api.RemoveMemberRequest(organization_id=owner.organization_id, user_id=member.user.id),
            metadata=token,
        )
        listed: api.ListTeamMembersResponse = await stub.ListTeamMembers(
            api.ListTeamMembersRequest(
                organization_id=ids["organization_id"], team_id=ids["team_id"]
            ),
            metadata=token,
        )
        assert list(listed.members) == []

    async def test_members_and_viewers_read_but_do_not_manage(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        team = await create_team(stub, owner, "Readable")
        admin = await member_of(server, owner, "admin", "admin")
        await create_team(stub, admin, "Admin made")
        for role in ("member", "viewer"):
            caller = await member_of(server, owner, role, role)
            token = auth(caller.access_token)
            got: api.GetTeamResponse = await stub.GetTeam(
                api.GetTeamRequest(organization_id=owner.organization_id, team_id=team.id),
                metadata=token,
            )
            assert got.team.name == "Readable"
            for call in (
                create_team(stub, caller, f"By {role}"),
                move(stub, caller, team, ""),
                stub.DeleteTeam(
                    api.DeleteTeamRequest(organization_id=owner.organization_id, team_id=team.id),
                    metadata=token,
                ),
                stub.AddTeamMember(
                    api.AddTeamMemberRequest(
                        organization_id=owner.organization_id,
                        team_id=team.id,
                        user_id=caller.user.id,
                    ),
                    metadata=token,
                ),
            ):
                await rpc_error(call, grpc.StatusCode.PERMISSION_DENIED)


class TestIsolationAndEvents:
    async def test_another_organizations_teams_are_not_found(self, server: IdentityServer) -> None:
        stub = server.identity
        a = await register(stub, organization_name="A")
        b = await register(stub, organization_name="B")
        b_team = await create_team(stub, b, "Secret")
        token = auth(a.access_token)
        for org in (b.organization_id, a.organization_id):
            ids = {"organization_id": org, "team_id": b_team.id}
            for call in (
                stub.GetTeam(api.GetTeamRequest(**ids), metadata=token),
                stub.DeleteTeam(api.DeleteTeamRequest(**ids), metadata=token),
                stub.ListTeamMembers(
                    api.ListTeamMembersRequest(
                        organization_id=ids["organization_id"], team_id=ids["team_id"]
                    ),
                    metadata=token,
                ),
                stub.AddTeamMember(
                    api.AddTeamMemberRequest(**ids, user_id=a.user.id), metadata=token
                ),
                stub.RemoveTeamMember(
                    api.RemoveTeamMemberRequest(**ids, user_id=b.user.id), metadata=token
                ),
                stub.UpdateTeam(
                    api.UpdateTeamRequest(
                        team=resources_pb2.Team(id=b_team.id, organization_id=org, name="Mine")
                    ),
                    metadata=token,
                ),
            ):
                await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        await rpc_error(
            stub.ListTeams(api.ListTeamsRequest(organization_id=b.organization_id), metadata=token),
            grpc.StatusCode.NOT_FOUND,
        )
        # B's team cannot become A's parent either.
        error = await rpc_error(
            create_team(stub, a, "Child of B", b_team.id), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"team.parent_id"}

    async def test_changes_are_announced(
        self, server: IdentityServer, events: EventRecorder
    ) -> None:
        stub = server.identity
        owner = await register(stub, organization_name="Teams")
        team = await create_team(stub, owner, "Evented")
        token = auth(owner.access_token)
        ids = {"organization_id": owner.organization_id, "team_id": team.id}
        await stub.UpdateTeam(
            api.UpdateTeamRequest(
                team=resources_pb2.Team(
                    id=team.id, organization_id=owner.organization_id, description="d"
                ),
                update_mask=FieldMask(paths=["description"]),
            ),
            metadata=token,
        )
        await stub.AddTeamMember(
            api.AddTeamMemberRequest(**ids, user_id=owner.user.id), metadata=token
        )
        await stub.RemoveTeamMember(
            api.RemoveTeamMemberRequest(**ids, user_id=owner.user.id), metadata=token
        )
        await stub.DeleteTeam(api.DeleteTeamRequest(**ids), metadata=token)
        found = await events.settle(owner.organization_id, 2 + 5)
        assert [e.type for e in found if e.subject == team.id] == [
            "identity.team.created",
            "identity.team.updated",
            "identity.team_member.added",
            "identity.team_member.removed",
            "identity.team.deleted",
        ]
        payload = events_pb2.TeamChanged()
        assert next(e for e in found if e.type == "identity.team.updated").data.Unpack(payload)
        assert list(payload.changed_fields.paths) == ["description"]
