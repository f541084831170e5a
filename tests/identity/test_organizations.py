"""Organizations, members and custom roles: the owner rules, tenant isolation, custom
permissions in tokens (enforced by the kit on another service), and the audit trail."""

from __future__ import annotations

import grpc
import jwt
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from coder.planning.v1 import project_pb2
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import auth
from tests.identity.conftest import IdentityServer
from tests.identity.factories import add_member, login, refresh, register, unique_email


async def member_of(
    server: IdentityServer, owner: api.AuthResult, role: str, label: str = "member"
) -> api.AuthResult:
    """A new user holding `role` in the owner's organization, signed in there."""
    email = unique_email(label)
    joined = await register(server.identity, email=email, organization_name="")
    await add_member(server.resources, owner.organization_id, joined.user, role)
    return await login(server.identity, email, organization_id=owner.organization_id)


class TestOrganizations:
    async def test_create_get_update_and_list(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub, organization_name="Acme Rockets")
        got: api.GetOrganizationResponse = await stub.GetOrganization(
            api.GetOrganizationRequest(organization_id=owner.organization_id),
            metadata=auth(owner.access_token),
        )
        assert got.organization.name == "Acme Rockets"
        assert got.organization.slug.startswith("acme-rockets")

        updated: api.UpdateOrganizationResponse = await stub.UpdateOrganization(
            api.UpdateOrganizationRequest(
                organization=resources_pb2.Organization(
                    id=owner.organization_id, settings={"theme": "dark"}
                ),
                update_mask=FieldMask(paths=["settings"]),
            ),
            metadata=auth(owner.access_token),
        )
        assert dict(updated.organization.settings) == {"theme": "dark"}
        assert updated.organization.name == "Acme Rockets"

        listed: api.ListOrganizationsResponse = await stub.ListOrganizations(
            api.ListOrganizationsRequest(), metadata=auth(owner.access_token)
        )
        assert [(m.organization.id, m.role) for m in listed.memberships] == [
            (owner.organization_id, "owner")
        ]

    async def test_a_slug_is_unique_on_the_platform(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub)
        slug = f"team-{owner.user.id.lower()}"
        await stub.CreateOrganization(
            api.CreateOrganizationRequest(
                organization=resources_pb2.Organization(name="One", slug=slug)
            ),
            metadata=auth(owner.access_token),
        )
        error = await rpc_error(
            stub.CreateOrganization(
                api.CreateOrganizationRequest(
                    organization=resources_pb2.Organization(name="Two", slug=slug)
                ),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert violated_fields(error) == {"organization.slug"}

    async def test_a_bad_slug_is_invalid(self, stub: IdentityServiceStub) -> None:
        owner = await register(stub)
        error = await rpc_error(
            stub.CreateOrganization(
                api.CreateOrganizationRequest(
                    organization=resources_pb2.Organization(name="x", slug="Not A Slug")
                ),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"organization.slug"}


class TestTenantIsolation:
    async def test_another_organizations_data_is_never_reached(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        a = await register(stub, organization_name="A")
        b = await register(stub, organization_name="B")
        token = auth(a.access_token)
        b_org = b.organization_id
        calls = [
            stub.GetOrganization(api.GetOrganizationRequest(organization_id=b_org), metadata=token),
            stub.ListMembers(api.ListMembersRequest(organization_id=b_org), metadata=token),
            stub.ListRoles(api.ListRolesRequest(organization_id=b_org), metadata=token),
            stub.ListAuditEvents(api.ListAuditEventsRequest(organization_id=b_org), metadata=token),
            stub.RemoveMember(
                api.RemoveMemberRequest(organization_id=b_org, user_id=b.user.id), metadata=token
            ),
            stub.UpdateMemberRole(
                api.UpdateMemberRoleRequest(
                    organization_id=b_org, user_id=b.user.id, role="viewer"
                ),
                metadata=token,
            ),
            stub.UpdateOrganization(
                api.UpdateOrganizationRequest(
                    organization=resources_pb2.Organization(id=b_org, name="Mine")
                ),
                metadata=token,
            ),
        ]
        for call in calls:
            await rpc_error(call, grpc.StatusCode.NOT_FOUND)
        # The owner of A cannot sign in to B either.
        await rpc_error(
            login(stub, a.user.email, organization_id=b_org), grpc.StatusCode.PERMISSION_DENIED
        )


class TestMembers:
    async def test_the_last_owner_stays(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        token = auth(owner.access_token)
        for call in (
            stub.UpdateMemberRole(
                api.UpdateMemberRoleRequest(
                    organization_id=owner.organization_id, user_id=owner.user.id, role="admin"
                ),
                metadata=token,
            ),
            stub.RemoveMember(
                api.RemoveMemberRequest(
                    organization_id=owner.organization_id, user_id=owner.user.id
                ),
                metadata=token,
            ),
        ):
            error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
            assert error_reason(error) == "LAST_OWNER"

    async def test_only_an_owner_grants_owner(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        admin = await member_of(server, owner, "admin", "admin")
        member = await member_of(server, owner, "member")

        error = await rpc_error(
            stub.UpdateMemberRole(
                api.UpdateMemberRoleRequest(
                    organization_id=owner.organization_id, user_id=member.user.id, role="owner"
                ),
                metadata=auth(admin.access_token),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "OWNER_REQUIRED"
        await rpc_error(
            stub.RemoveMember(
                api.RemoveMemberRequest(
                    organization_id=owner.organization_id, user_id=owner.user.id
                ),
                metadata=auth(admin.access_token),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )

        promoted: api.UpdateMemberRoleResponse = await stub.UpdateMemberRole(
            api.UpdateMemberRoleRequest(
                organization_id=owner.organization_id, user_id=member.user.id, role="owner"
            ),
            metadata=auth(owner.access_token),
        )
        assert promoted.member.role == "owner"
        # With a second owner, the first may step down.
        await stub.UpdateMemberRole(
            api.UpdateMemberRoleRequest(
                organization_id=owner.organization_id, user_id=owner.user.id, role="admin"
            ),
            metadata=auth(owner.access_token),
        )

    async def test_the_owner_transfers_ownership_in_one_change(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        successor = await member_of(server, owner, "member")
        org = owner.organization_id
        reply: api.TransferOwnershipResponse = await stub.TransferOwnership(
            api.TransferOwnershipRequest(organization_id=org, new_owner_id=successor.user.id),
            metadata=auth(owner.access_token),
        )
        assert (reply.new_owner.user_id, reply.new_owner.role) == (successor.user.id, "owner")
        assert (reply.previous_owner.user_id, reply.previous_owner.role) == (owner.user.id, "admin")
        # The token that still says "owner" stops working; a refreshed one says "admin".
        stale = await rpc_error(
            stub.ListMembers(
                api.ListMembersRequest(organization_id=org), metadata=auth(owner.access_token)
            ),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(stale) == "TOKEN_REVOKED"
        now_admin = await refresh(stub, owner.refresh_token)
        assert now_admin.role == "admin"
        listed: api.ListMembersResponse = await stub.ListMembers(
            api.ListMembersRequest(organization_id=org), metadata=auth(now_admin.access_token)
        )
        assert {m.user_id: m.role for m in listed.members} == {
            owner.user.id: "admin",
            successor.user.id: "owner",
        }
        audit: api.ListAuditEventsResponse = await stub.ListAuditEvents(
            api.ListAuditEventsRequest(organization_id=org), metadata=auth(now_admin.access_token)
        )
        assert "organization.ownership_transferred" in [e.action for e in audit.events]

    async def test_only_an_owner_transfers_ownership(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        admin = await member_of(server, owner, "admin", "admin")
        org = owner.organization_id
        error = await rpc_error(
            stub.TransferOwnership(
                api.TransferOwnershipRequest(organization_id=org, new_owner_id=admin.user.id),
                metadata=auth(admin.access_token),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "PERMISSION_MISSING"
        error = await rpc_error(
            stub.TransferOwnership(
                api.TransferOwnershipRequest(organization_id=org, new_owner_id=owner.user.id),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"new_owner_id"}
        error = await rpc_error(
            stub.TransferOwnership(
                api.TransferOwnershipRequest(organization_id=org, new_owner_id="nobody"),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert error_reason(error) == "MEMBER_NOT_FOUND"

    async def test_a_member_cannot_administer_members(self, server: IdentityServer) -> None:
        owner = await register(server.identity)
        member = await member_of(server, owner, "member")
        viewer = await member_of(server, owner, "viewer", "viewer")
        for caller in (member, viewer):
            await rpc_error(
                server.identity.ListMembers(
                    api.ListMembersRequest(organization_id=owner.organization_id),
                    metadata=auth(caller.access_token),
                ),
                grpc.StatusCode.PERMISSION_DENIED,
            )

    async def test_a_removed_member_loses_the_organization(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        member = await member_of(server, owner, "member")
        listed: api.ListMembersResponse = await stub.ListMembers(
            api.ListMembersRequest(organization_id=owner.organization_id),
            metadata=auth(owner.access_token),
        )
        assert {m.user_id for m in listed.members} == {owner.user.id, member.user.id}

        await stub.RemoveMember(
            api.RemoveMemberRequest(organization_id=owner.organization_id, user_id=member.user.id),
            metadata=auth(owner.access_token),
        )
        error = await rpc_error(
            stub.RefreshSession(api.RefreshSessionRequest(refresh_token=member.refresh_token)),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(error) == "SESSION_REVOKED"
        again = await login(stub, member.user.email)
        assert again.organization_id != owner.organization_id

    async def test_members_page(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        for index in range(3):
            await member_of(server, owner, "viewer", f"v{index}")
        token = auth(owner.access_token)
        seen: list[str] = []
        page_token = ""
        while True:
            page: api.ListMembersResponse = await stub.ListMembers(
                api.ListMembersRequest(
                    organization_id=owner.organization_id, page_size=2, page_token=page_token
                ),
                metadata=token,
            )
            seen += [m.user_id for m in page.members]
            page_token = page.next_page_token
            if not page_token:
                break
        assert len(seen) == len(set(seen)) == 4


class TestCustomRoles:
    async def test_custom_permissions_reach_the_token_and_the_kit_enforces_them(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        created: api.CreateRoleResponse = await stub.CreateRole(
            api.CreateRoleRequest(
                organization_id=owner.organization_id,
                role=resources_pb2.Role(name="Planner (read)", permissions=["planning.*.read"]),
            ),
            metadata=auth(owner.access_token),
        )
        role = created.role
        reader = await member_of(server, owner, role.id, "reader")
        claims = jwt.decode(reader.access_token, options={"verify_signature": False})
        assert claims["roles"] == []
        assert "planning.*.read" in claims["perms"]
        assert reader.role == role.id

        token = auth(reader.access_token)
        await server.planning.ListProjects(planning_api.ListProjectsRequest(), metadata=token)
        error = await rpc_error(
            server.planning.CreateProject(
                planning_api.CreateProjectRequest(project=project_pb2.Project(name="x")),
                metadata=token,
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "PERMISSION_MISSING"
        # Its own records stay reachable.
        await stub.GetCurrentUser(api.GetCurrentUserRequest(), metadata=token)

    async def test_role_rules(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        token = auth(owner.access_token)
        org = owner.organization_id
        created: api.CreateRoleResponse = await stub.CreateRole(
            api.CreateRoleRequest(
                organization_id=org,
                role=resources_pb2.Role(name="Ops", permissions=["execution.run.*"]),
            ),
            metadata=token,
        )
        error = await rpc_error(
            stub.CreateRole(
                api.CreateRoleRequest(
                    organization_id=org, role=resources_pb2.Role(name="ops", permissions=["a.b.c"])
                ),
                metadata=token,
            ),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        assert error_reason(error) == "ROLE_NAME_TAKEN"

        updated: api.UpdateRoleResponse = await stub.UpdateRole(
            api.UpdateRoleRequest(
                role=resources_pb2.Role(
                    id=created.role.id,
                    organization_id=org,
                    permissions=["execution.run.read", "execution.run.execute"],
                ),
                update_mask=FieldMask(paths=["permissions"]),
            ),
            metadata=token,
        )
        assert list(updated.role.permissions) == ["execution.run.execute", "execution.run.read"]
        assert updated.role.name == "Ops"

        holder = await member_of(server, owner, created.role.id, "ops")
        error = await rpc_error(
            stub.DeleteRole(
                api.DeleteRoleRequest(organization_id=org, role_id=created.role.id),
                metadata=token,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "ROLE_IN_USE"
        await stub.UpdateMemberRole(
            api.UpdateMemberRoleRequest(organization_id=org, user_id=holder.user.id, role="viewer"),
            metadata=token,
        )
        await stub.DeleteRole(
            api.DeleteRoleRequest(organization_id=org, role_id=created.role.id), metadata=token
        )
        listed: api.ListRolesResponse = await stub.ListRoles(
            api.ListRolesRequest(organization_id=org), metadata=token
        )
        assert list(listed.roles) == []

    @pytest.mark.parametrize(
        ("permissions", "field"),
        [
            (["planning.task"], "role.permissions[0]"),
            (["planning.task.read", "Planning.Task.Read"], "role.permissions[1]"),
            (["identity.organization.transfer"], "role.permissions[0]"),
        ],
    )
    async def test_bad_permission_patterns_are_named(
        self, stub: IdentityServiceStub, permissions: list[str], field: str
    ) -> None:
        owner = await register(stub)
        error = await rpc_error(
            stub.CreateRole(
                api.CreateRoleRequest(
                    organization_id=owner.organization_id,
                    role=resources_pb2.Role(name="Bad", permissions=permissions),
                ),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {field}

    async def test_an_unknown_role_is_refused(self, server: IdentityServer) -> None:
        owner = await register(server.identity)
        member = await member_of(server, owner, "member")
        error = await rpc_error(
            server.identity.UpdateMemberRole(
                api.UpdateMemberRoleRequest(
                    organization_id=owner.organization_id, user_id=member.user.id, role="nope"
                ),
                metadata=auth(owner.access_token),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"role"}


class TestAudit:
    async def test_security_events_are_recorded_and_readable_by_admins_only(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        admin = await member_of(server, owner, "admin", "admin")
        member = await member_of(server, owner, "member")
        await rpc_error(
            login(stub, member.user.email, "wrong password here"), grpc.StatusCode.UNAUTHENTICATED
        )
        await stub.UpdateMemberRole(
            api.UpdateMemberRoleRequest(
                organization_id=owner.organization_id, user_id=member.user.id, role="viewer"
            ),
            metadata=auth(admin.access_token),
        )
        await stub.RemoveMember(
            api.RemoveMemberRequest(organization_id=owner.organization_id, user_id=member.user.id),
            metadata=auth(admin.access_token),
        )

        reply: api.ListAuditEventsResponse = await stub.ListAuditEvents(
            api.ListAuditEventsRequest(organization_id=owner.organization_id),
            metadata=auth(admin.access_token),
        )
        actions = [e.action for e in reply.events]
        assert actions[:3] == ["member.removed", "session.revoked", "member.role_changed"]
        assert "login.failed" in actions
        assert "login.succeeded" in actions
        changed = reply.events[2]
        assert dict(changed.details) == {"from_role": "member", "to_role": "viewer"}
        assert changed.actor_user_id == admin.user.id

        viewer = await member_of(server, owner, "viewer", "viewer")
        plain = await member_of(server, owner, "member", "plain")
        for caller in (viewer, plain):
            await rpc_error(
                stub.ListAuditEvents(
                    api.ListAuditEventsRequest(organization_id=owner.organization_id),
                    metadata=auth(caller.access_token),
                ),
                grpc.StatusCode.PERMISSION_DENIED,
            )
