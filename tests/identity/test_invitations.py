"""Invitations: tokens shown once and spent once, acceptance by a new account and by a
signed-in user, email matching, resends (old links die, at most 5), the role ceiling,
expiry, events and audit, tenant isolation."""

from __future__ import annotations

import grpc
import jwt

from coder.identity.v1 import events_pb2, resources_pb2
from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from coder.planning.v1 import planning_service_pb2 as planning_api
from tests.fixtures.events import EventRecorder
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import auth
from tests.identity.conftest import IdentityServer, TimedServer, manual_clock
from tests.identity.factories import PASSWORD, login, register, unique_email
from tests.identity.test_organizations import member_of


async def invite(
    stub: IdentityServiceStub, inviter: api.AuthResult, email: str = "", role: str = "member"
) -> api.CreateInvitationResponse:
    reply: api.CreateInvitationResponse = await stub.CreateInvitation(
        api.CreateInvitationRequest(
            organization_id=inviter.organization_id, email=email, role=role
        ),
        metadata=auth(inviter.access_token),
    )
    return reply


async def accept(
    stub: IdentityServiceStub,
    token: str,
    *,
    signed_in: api.AuthResult | None = None,
    display_name: str = "",
    password: str = "",
    email: str = "",
    refresh_token: str = "",
) -> api.AuthResult:
    request = api.AcceptInvitationRequest(
        token=token,
        display_name=display_name,
        password=password,
        email=email,
        refresh_token=refresh_token,
    )
    metadata = auth(signed_in.access_token) if signed_in else None
    reply: api.AcceptInvitationResponse = await stub.AcceptInvitation(request, metadata=metadata)
    return reply.result


async def refused(call: object, reason: str) -> None:
    error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)  # type: ignore[arg-type]
    assert error_reason(error) == reason


class TestAcceptance:
    async def test_a_new_user_accepts_and_is_signed_in(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        email = unique_email("invitee")
        created = await invite(stub, owner, email, "member")
        assert created.invitation.state == resources_pb2.INVITATION_STATE_PENDING
        assert created.invitation.email == email
        assert created.token.startswith(f"{owner.organization_id}.{created.invitation.id}.")
        lifetime = created.invitation.expire_time.ToDatetime() - (
            created.invitation.create_time.ToDatetime()
        )
        assert lifetime.days == 7

        result = await accept(stub, created.token, display_name="Grace", password=PASSWORD)
        assert result.user.email == email
        assert result.user.display_name == "Grace"
        assert result.organization_id == owner.organization_id
        assert result.role == "member"
        assert result.access_token and result.refresh_token
        claims = jwt.decode(result.access_token, options={"verify_signature": False})
        assert (claims["org"], claims["roles"]) == (owner.organization_id, ["member"])
        await server.planning.ListProjects(
            planning_api.ListProjectsRequest(), metadata=auth(result.access_token)
        )
        # The new account signs in with its password.
        again = await login(stub, email)
        assert again.organization_id == owner.organization_id

        listed: api.ListInvitationsResponse = await stub.ListInvitations(
            api.ListInvitationsRequest(organization_id=owner.organization_id),
            metadata=auth(owner.access_token),
        )
        (shown,) = listed.invitations
        assert shown.state == resources_pb2.INVITATION_STATE_ACCEPTED
        assert shown.accepted_by == result.user.id
        assert created.token not in str(shown)

    async def test_an_existing_user_accepts_signed_in(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        email = unique_email("existing")
        existing = await register(stub, email=email, organization_name="Elsewhere")
        created = await invite(stub, owner, email, "viewer")
        # Without signing in, the existing account is told to.
        await refused(
            accept(stub, created.token, display_name="X", password=PASSWORD), "SIGN_IN_REQUIRED"
        )
        result = await accept(stub, created.token, signed_in=existing)
        assert result.user.id == existing.user.id
        assert (result.organization_id, result.role) == (owner.organization_id, "viewer")
        listed: api.ListOrganizationsResponse = await stub.ListOrganizations(
            api.ListOrganizationsRequest(), metadata=auth(result.access_token)
        )
        assert {m.organization.id for m in listed.memberships} == {
            owner.organization_id,
            existing.organization_id,
        }

    async def test_a_link_invitation_takes_any_signed_in_user_or_a_new_email(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        first = await invite(stub, owner)
        assert first.invitation.email == ""
        someone = await register(stub)
        result = await accept(stub, first.token, signed_in=someone)
        assert result.user.id == someone.user.id

        second = await invite(stub, owner)
        error = await rpc_error(
            accept(stub, second.token, display_name="New", password=PASSWORD),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"email"}
        email = unique_email("linked")
        joined = await accept(
            stub, second.token, display_name="New", password=PASSWORD, email=email
        )
        assert joined.user.email == email

    async def test_a_user_without_an_organization_accepts_with_the_refresh_token(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        owner = await register(stub)
        email = unique_email("orgless")
        orgless = await register(stub, email=email, organization_name="")
        assert not orgless.access_token
        created = await invite(stub, owner, email, "member")
        result = await accept(stub, created.token, refresh_token=orgless.refresh_token)
        assert result.user.id == orgless.user.id
        assert result.session.id == orgless.session.id
        assert (result.organization_id, result.role) == (owner.organization_id, "member")
        assert result.access_token
        # The refresh token was spent, as by RefreshSession.
        error = await rpc_error(
            stub.RefreshSession(api.RefreshSessionRequest(refresh_token=orgless.refresh_token)),
            grpc.StatusCode.UNAUTHENTICATED,
        )
        assert error_reason(error) == "REFRESH_TOKEN_REUSED"

    async def test_an_email_mismatch_is_refused(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await invite(stub, owner, unique_email("intended"))
        other = await register(stub)
        error = await rpc_error(
            accept(stub, created.token, signed_in=other), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(error) == "INVITATION_EMAIL_MISMATCH"

    async def test_a_token_works_once(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await invite(stub, owner)
        await accept(stub, created.token, signed_in=await register(stub))
        someone_else = await register(stub)
        await refused(accept(stub, created.token, signed_in=someone_else), "INVITATION_USED")

    async def test_a_forged_token_is_not_found(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await invite(stub, owner)
        forged = created.token[:-4] + ("AAAA" if not created.token.endswith("AAAA") else "BBBB")
        for token in (forged, "nonsense", f"{owner.organization_id}.X.Y"):
            error = await rpc_error(
                accept(stub, token, display_name="X", password=PASSWORD),
                grpc.StatusCode.NOT_FOUND,
            )
            assert error_reason(error) == "INVITATION_INVALID"

    async def test_the_password_policy_applies(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await invite(stub, owner, unique_email("weak"))
        error = await rpc_error(
            accept(stub, created.token, display_name="Weak", password="short"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert violated_fields(error) == {"password"}
        # The token was not spent by the refusal.
        await accept(stub, created.token, display_name="Strong", password=PASSWORD)

    async def test_a_member_cannot_accept_again(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await invite(stub, owner)
        error = await rpc_error(
            accept(stub, created.token, signed_in=owner), grpc.StatusCode.ALREADY_EXISTS
        )
        assert error_reason(error) == "ALREADY_A_MEMBER"
        error = await rpc_error(
            invite(stub, owner, owner.user.email), grpc.StatusCode.ALREADY_EXISTS
        )
        assert violated_fields(error) == {"email"}


class TestLifecycle:
    async def test_revoked_invitations_are_refused(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        created = await invite(stub, owner, unique_email("revoked"))
        revoked: api.RevokeInvitationResponse = await stub.RevokeInvitation(
            api.RevokeInvitationRequest(
                organization_id=owner.organization_id, invitation_id=created.invitation.id
            ),
            metadata=auth(owner.access_token),
        )
        assert revoked.invitation.state == resources_pb2.INVITATION_STATE_REVOKED
        await refused(
            accept(stub, created.token, display_name="X", password=PASSWORD),
            "INVITATION_REVOKED",
        )

    async def test_expired_invitations_are_refused_and_a_resend_renews_them(
        self, timed_server: TimedServer
    ) -> None:
        # Ten seconds, so the clock stays within the verifier's leeway of real time.
        clock = manual_clock()
        async with timed_server(clock, invitation_days=10 / 86_400) as server:
            stub = server.identity
            owner = await register(stub)
            created = await invite(stub, owner, unique_email("late"))
            clock.advance(11)
            await refused(
                accept(stub, created.token, display_name="Late", password=PASSWORD),
                "INVITATION_EXPIRED",
            )
            listed: api.ListInvitationsResponse = await stub.ListInvitations(
                api.ListInvitationsRequest(organization_id=owner.organization_id),
                metadata=auth(owner.access_token),
            )
            assert listed.invitations[0].state == resources_pb2.INVITATION_STATE_EXPIRED
            resent: api.ResendInvitationResponse = await stub.ResendInvitation(
                api.ResendInvitationRequest(
                    organization_id=owner.organization_id, invitation_id=created.invitation.id
                ),
                metadata=auth(owner.access_token),
            )
            assert resent.invitation.state == resources_pb2.INVITATION_STATE_PENDING
            await accept(stub, resent.token, display_name="Late", password=PASSWORD)

    async def test_a_resend_kills_the_old_link_and_stops_after_five(
        self, server: IdentityServer, events: EventRecorder
    ) -> None:
        stub = server.identity
        owner = await register(stub, organization_name="Resends")
        email = unique_email("resent")
        created = await invite(stub, owner, email)
        ids = api.ResendInvitationRequest(
            organization_id=owner.organization_id, invitation_id=created.invitation.id
        )
        tokens = [created.token]
        for count in range(1, 6):
            resent: api.ResendInvitationResponse = await stub.ResendInvitation(
                ids, metadata=auth(owner.access_token)
            )
            assert resent.invitation.resend_count == count
            tokens.append(resent.token)
        assert len(set(tokens)) == 6
        await refused(stub.ResendInvitation(ids, metadata=auth(owner.access_token)), "RESEND_LIMIT")

        for old in tokens[:-1]:
            error = await rpc_error(
                accept(stub, old, display_name="X", password=PASSWORD), grpc.StatusCode.NOT_FOUND
            )
            assert error_reason(error) == "INVITATION_INVALID"

        # Each send (creation and five resends) is announced with the token to email.
        found = await events.settle(owner.organization_id, 2 + 1 + 6)
        sent = [e for e in found if e.type == "identity.invitation.sent"]
        assert len(sent) == 6
        payload = events_pb2.InvitationSent()
        assert sent[-1].data.Unpack(payload)
        assert payload.token == tokens[-1]
        assert payload.invitation.email == email
        assert payload.organization_name == "Resends"
        await accept(stub, tokens[-1], display_name="Finally", password=PASSWORD)


class TestRoleCeiling:
    async def test_only_an_owner_invites_owners(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        admin = await member_of(server, owner, "admin", "admin")
        error = await rpc_error(
            invite(stub, admin, role="owner"), grpc.StatusCode.PERMISSION_DENIED
        )
        assert error_reason(error) == "OWNER_REQUIRED"
        await invite(stub, admin, role="admin")
        await invite(stub, admin, role="viewer")
        created = await invite(stub, owner, role="owner")
        joined = await accept(stub, created.token, signed_in=await register(stub))
        assert joined.role == "owner"

    async def test_a_custom_role_inviter_invites_no_higher(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        role: api.CreateRoleResponse = await stub.CreateRole(
            api.CreateRoleRequest(
                organization_id=owner.organization_id,
                role=resources_pb2.Role(name="Recruiter", permissions=["identity.invitation.*"]),
            ),
            metadata=auth(owner.access_token),
        )
        recruiter = await member_of(server, owner, role.role.id, "recruiter")
        await invite(stub, recruiter, role=role.role.id)
        for higher in ("admin", "member"):
            error = await rpc_error(
                invite(stub, recruiter, role=higher), grpc.StatusCode.PERMISSION_DENIED
            )
            assert error_reason(error) == "ROLE_ABOVE_INVITER"

    async def test_members_and_viewers_cannot_invite(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        for role in ("member", "viewer"):
            caller = await member_of(server, owner, role, role)
            await rpc_error(invite(stub, caller, role="viewer"), grpc.StatusCode.PERMISSION_DENIED)

    async def test_bad_input_names_its_fields(self, server: IdentityServer) -> None:
        stub = server.identity
        owner = await register(stub)
        error = await rpc_error(
            invite(stub, owner, "not an email"), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"email"}
        error = await rpc_error(invite(stub, owner, role="nope"), grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"role"}
        error = await rpc_error(invite(stub, owner, role=""), grpc.StatusCode.INVALID_ARGUMENT)
        assert violated_fields(error) == {"role"}


class TestIsolationEventsAudit:
    async def test_another_organizations_invitations_are_not_found(
        self, server: IdentityServer
    ) -> None:
        stub = server.identity
        a = await register(stub, organization_name="A")
        b = await register(stub, organization_name="B")
        b_invitation = (await invite(stub, b)).invitation
        token = auth(a.access_token)
        for org in (b.organization_id, a.organization_id):
            await rpc_error(
                stub.RevokeInvitation(
                    api.RevokeInvitationRequest(organization_id=org, invitation_id=b_invitation.id),
                    metadata=token,
                ),
                grpc.StatusCode.NOT_FOUND,
            )
            await rpc_error(
                stub.ResendInvitation(
                    api.ResendInvitationRequest(organization_id=org, invitation_id=b_invitation.id),
                    metadata=token,
                ),
                grpc.StatusCode.NOT_FOUND,
            )
        for call in (
            stub.ListInvitations(
                api.ListInvitationsRequest(organization_id=b.organization_id), metadata=token
            ),
            stub.CreateInvitation(
                api.CreateInvitationRequest(organization_id=b.organization_id, role="viewer"),
                metadata=token,
            ),
        ):
            await rpc_error(call, grpc.StatusCode.NOT_FOUND)

    async def test_changes_are_announced_and_audited(
        self, server: IdentityServer, events: EventRecorder
    ) -> None:
        stub = server.identity
        owner = await register(stub, organization_name="Invites")
        first = await invite(stub, owner, unique_email("one"))
        second = await invite(stub, owner)
        await stub.RevokeInvitation(
            api.RevokeInvitationRequest(
                organization_id=owner.organization_id, invitation_id=second.invitation.id
            ),
            metadata=auth(owner.access_token),
        )
        joined = await accept(stub, first.token, display_name="One", password=PASSWORD)
        found = await events.settle(owner.organization_id, 2 + 3 + 1 + 2)
        types = [e.type for e in found[2:]]
        assert sorted(types) == [
            "identity.invitation.accepted",
            "identity.invitation.created",
            "identity.invitation.created",
            "identity.invitation.revoked",
            "identity.invitation.sent",
            "identity.member.added",
        ]
        changed = [e for e in found if e.type.startswith("identity.invitation.")]
        for event in changed:
            assert (
                first.token not in str(event.data.value) or event.type == "identity.invitation.sent"
            )

        audit: api.ListAuditEventsResponse = await stub.ListAuditEvents(
            api.ListAuditEventsRequest(organization_id=owner.organization_id),
            metadata=auth(owner.access_token),
        )
        actions = [e.action for e in audit.events]
        assert actions[:3] == ["invitation.accepted", "invitation.revoked", "invitation.created"]
        assert audit.events[0].actor_user_id == joined.user.id
