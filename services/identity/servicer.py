"""The gRPC adapter of the identity service: unpack the request, call the service, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

import grpc

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import identity_service_pb2_grpc
from services.identity.service.accounts import AccountService
from services.identity.service.delegation import DelegationService
from services.identity.service.invitations import Applicant, InvitationService
from services.identity.service.organizations import OrganizationService
from services.identity.service.service_accounts import TOKEN_TYPE, ServiceAccountService
from services.identity.service.sessions import Device, SessionService
from services.identity.service.teams import TeamService
from services.kit import ISSUED_TOKEN_TYPE


class IdentityServicer(identity_service_pb2_grpc.IdentityServiceServicer):
    """coder.identity.v1.IdentityService."""

    def __init__(
        self,
        accounts: AccountService,
        sessions: SessionService,
        organizations: OrganizationService,
        service_accounts: ServiceAccountService,
        invitations: InvitationService,
        teams: TeamService,
        delegation: DelegationService,
    ) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._organizations = organizations
        self._service_accounts = service_accounts
        self._invitations = invitations
        self._teams = teams
        self._delegation = delegation

    async def Register(
        self, request: api.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> api.RegisterResponse:
        device = Device(request.device_label, request.ip_address, request.user_agent)
        result = await self._accounts.register(
            request.email,
            request.password,
            request.display_name,
            request.organization_name,
            device,
        )
        return api.RegisterResponse(result=result)

    async def Login(
        self, request: api.LoginRequest, context: grpc.aio.ServicerContext
    ) -> api.LoginResponse:
        device = Device(request.device_label, request.ip_address, request.user_agent)
        result = await self._accounts.login(
            request.email, request.password, request.organization_id, device
        )
        return api.LoginResponse(result=result)

    async def LoginExternal(
        self, request: api.LoginExternalRequest, context: grpc.aio.ServicerContext
    ) -> api.LoginExternalResponse:
        device = Device(request.device_label, request.ip_address, request.user_agent)
        result = await self._accounts.login_external(
            request.provider, request.id_token, request.nonce, request.organization_id, device
        )
        return api.LoginExternalResponse(result=result)

    async def RefreshSession(
        self, request: api.RefreshSessionRequest, context: grpc.aio.ServicerContext
    ) -> api.RefreshSessionResponse:
        result = await self._accounts.refresh(
            request.refresh_token,
            request.organization_id,
            request.create_organization_name,
            request.ip_address,
        )
        return api.RefreshSessionResponse(result=result)

    async def Logout(
        self, request: api.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> api.LogoutResponse:
        await self._sessions.logout(request.refresh_token)
        return api.LogoutResponse()

    async def GetJwks(
        self, request: api.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> api.GetJwksResponse:
        return api.GetJwksResponse(jwks_json=await self._sessions.jwks_json())

    async def GetCurrentUser(
        self, request: api.GetCurrentUserRequest, context: grpc.aio.ServicerContext
    ) -> api.GetCurrentUserResponse:
        return api.GetCurrentUserResponse(user=await self._accounts.current_user())

    async def UpdateCurrentUser(
        self, request: api.UpdateCurrentUserRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateCurrentUserResponse:
        user = await self._accounts.update_current_user(request.user, request.update_mask)
        return api.UpdateCurrentUserResponse(user=user)

    async def ChangePassword(
        self, request: api.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> api.ChangePasswordResponse:
        await self._accounts.change_password(request.current_password, request.new_password)
        return api.ChangePasswordResponse()

    async def CreateOrganization(
        self, request: api.CreateOrganizationRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateOrganizationResponse:
        organization = await self._organizations.create_organization(request.organization)
        return api.CreateOrganizationResponse(organization=organization)

    async def GetOrganization(
        self, request: api.GetOrganizationRequest, context: grpc.aio.ServicerContext
    ) -> api.GetOrganizationResponse:
        organization = await self._organizations.get_organization(request.organization_id)
        return api.GetOrganizationResponse(organization=organization)

    async def UpdateOrganization(
        self, request: api.UpdateOrganizationRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateOrganizationResponse:
        organization = await self._organizations.update_organization(
            request.organization, request.update_mask
        )
        return api.UpdateOrganizationResponse(organization=organization)

    async def ListOrganizations(
        self, request: api.ListOrganizationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListOrganizationsResponse:
        memberships = await self._organizations.list_organizations()
        return api.ListOrganizationsResponse(memberships=memberships)

    async def ListMembers(
        self, request: api.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMembersResponse:
        members, token = await self._organizations.list_members(request)
        return api.ListMembersResponse(members=members, next_page_token=token)

    async def UpdateMemberRole(
        self, request: api.UpdateMemberRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateMemberRoleResponse:
        member = await self._organizations.update_member_role(
            request.organization_id, request.user_id, request.role
        )
        return api.UpdateMemberRoleResponse(member=member)

    async def RemoveMember(
        self, request: api.RemoveMemberRequest, context: grpc.aio.ServicerContext
    ) -> api.RemoveMemberResponse:
        await self._organizations.remove_member(request.organization_id, request.user_id)
        return api.RemoveMemberResponse()

    async def TransferOwnership(
        self, request: api.TransferOwnershipRequest, context: grpc.aio.ServicerContext
    ) -> api.TransferOwnershipResponse:
        previous, new = await self._organizations.transfer_ownership(
            request.organization_id, request.new_owner_id
        )
        return api.TransferOwnershipResponse(previous_owner=previous, new_owner=new)

    async def CreateRole(
        self, request: api.CreateRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateRoleResponse:
        role = await self._organizations.create_role(request.organization_id, request.role)
        return api.CreateRoleResponse(role=role)

    async def ListRoles(
        self, request: api.ListRolesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListRolesResponse:
        return api.ListRolesResponse(
            roles=await self._organizations.list_roles(request.organization_id)
        )

    async def UpdateRole(
        self, request: api.UpdateRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateRoleResponse:
        role = await self._organizations.update_role(request.role, request.update_mask)
        return api.UpdateRoleResponse(role=role)

    async def DeleteRole(
        self, request: api.DeleteRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteRoleResponse:
        await self._organizations.delete_role(request.organization_id, request.role_id)
        return api.DeleteRoleResponse()

    async def ListSessions(
        self, request: api.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSessionsResponse:
        return api.ListSessionsResponse(sessions=await self._sessions.list_sessions())

    async def RevokeSession(
        self, request: api.RevokeSessionRequest, context: grpc.aio.ServicerContext
    ) -> api.RevokeSessionResponse:
        await self._sessions.revoke_session(request.session_id)
        return api.RevokeSessionResponse()

    async def RevokeOtherSessions(
        self, request: api.RevokeOtherSessionsRequest, context: grpc.aio.ServicerContext
    ) -> api.RevokeOtherSessionsResponse:
        count = await self._sessions.revoke_other_sessions()
        return api.RevokeOtherSessionsResponse(revoked_count=count)

    async def ListAuditEvents(
        self, request: api.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListAuditEventsResponse:
        found, token = await self._organizations.list_audit_events(request)
        return api.ListAuditEventsResponse(events=found, next_page_token=token)

    async def CreateServiceAccount(
        self, request: api.CreateServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateServiceAccountResponse:
        account, secret = await self._service_accounts.create(
            request.organization_id, request.service_account
        )
        return api.CreateServiceAccountResponse(service_account=account, client_secret=secret)

    async def ListServiceAccounts(
        self, request: api.ListServiceAccountsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListServiceAccountsResponse:
        found, token = await self._service_accounts.list_accounts(request)
        return api.ListServiceAccountsResponse(service_accounts=found, next_page_token=token)

    async def GetServiceAccount(
        self, request: api.GetServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> api.GetServiceAccountResponse:
        account = await self._service_accounts.get(
            request.organization_id, request.service_account_id
        )
        return api.GetServiceAccountResponse(service_account=account)

    async def RotateServiceAccountSecret(
        self, request: api.RotateServiceAccountSecretRequest, context: grpc.aio.ServicerContext
    ) -> api.RotateServiceAccountSecretResponse:
        account, secret = await self._service_accounts.rotate_secret(
            request.organization_id, request.service_account_id
        )
        return api.RotateServiceAccountSecretResponse(service_account=account, client_secret=secret)

    async def DisableServiceAccount(
        self, request: api.DisableServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> api.DisableServiceAccountResponse:
        account = await self._service_accounts.disable(
            request.organization_id, request.service_account_id
        )
        return api.DisableServiceAccountResponse(service_account=account)

    async def DeleteServiceAccount(
        self, request: api.DeleteServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteServiceAccountResponse:
        await self._service_accounts.delete(request.organization_id, request.service_account_id)
        return api.DeleteServiceAccountResponse()

    async def IssueServiceToken(
        self, request: api.IssueServiceTokenRequest, context: grpc.aio.ServicerContext
    ) -> api.IssueServiceTokenResponse:
        issued = await self._service_accounts.issue_token(
            request.client_id, request.client_secret, request.scope, request.ip_address
        )
        return api.IssueServiceTokenResponse(
            access_token=issued.access_token,
            token_type=TOKEN_TYPE,
            expires_in=issued.expires_in,
            scope=" ".join(issued.scope),
        )

    async def ExchangeToken(
        self, request: api.ExchangeTokenRequest, context: grpc.aio.ServicerContext
    ) -> api.ExchangeTokenResponse:
        issued = await self._delegation.exchange_for_caller(
            request.subject,
            request.organization_id,
            request.audience,
            request.scope,
            request.event_id,
            request.event_type,
        )
        return api.ExchangeTokenResponse(
            access_token=issued.access_token,
            issued_token_type=ISSUED_TOKEN_TYPE,
            token_type=TOKEN_TYPE,
            expires_in=issued.expires_in,
            scope=issued.scope,
        )

    async def CreateInvitation(
        self, request: api.CreateInvitationRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateInvitationResponse:
        invitation, token = await self._invitations.create(
            request.organization_id, request.email, request.role
        )
        return api.CreateInvitationResponse(invitation=invitation, token=token)

    async def ListInvitations(
        self, request: api.ListInvitationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListInvitationsResponse:
        found, token = await self._invitations.list_invitations(request)
        return api.ListInvitationsResponse(invitations=found, next_page_token=token)

    async def RevokeInvitation(
        self, request: api.RevokeInvitationRequest, context: grpc.aio.ServicerContext
    ) -> api.RevokeInvitationResponse:
        invitation = await self._invitations.revoke(request.organization_id, request.invitation_id)
        return api.RevokeInvitationResponse(invitation=invitation)

    async def ResendInvitation(
        self, request: api.ResendInvitationRequest, context: grpc.aio.ServicerContext
    ) -> api.ResendInvitationResponse:
        invitation, token = await self._invitations.resend(
            request.organization_id, request.invitation_id
        )
        return api.ResendInvitationResponse(invitation=invitation, token=token)

    async def AcceptInvitation(
        self, request: api.AcceptInvitationRequest, context: grpc.aio.ServicerContext
    ) -> api.AcceptInvitationResponse:
        device = Device(request.device_label, request.ip_address, request.user_agent)
        applicant = Applicant(
            request.display_name, request.password, request.email, request.refresh_token
        )
        result = await self._invitations.accept(request.token, applicant, device)
        return api.AcceptInvitationResponse(result=result)

    async def CreateTeam(
        self, request: api.CreateTeamRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateTeamResponse:
        team = await self._teams.create(request.organization_id, request.team)
        return api.CreateTeamResponse(team=team)

    async def GetTeam(
        self, request: api.GetTeamRequest, context: grpc.aio.ServicerContext
    ) -> api.GetTeamResponse:
        team = await self._teams.get(request.organization_id, request.team_id)
        return api.GetTeamResponse(team=team)

    async def ListTeams(
        self, request: api.ListTeamsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTeamsResponse:
        found, token = await self._teams.list_teams(request)
        return api.ListTeamsResponse(teams=found, next_page_token=token)

    async def UpdateTeam(
        self, request: api.UpdateTeamRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateTeamResponse:
        team = await self._teams.update(request.team, request.update_mask)
        return api.UpdateTeamResponse(team=team)

    async def DeleteTeam(
        self, request: api.DeleteTeamRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteTeamResponse:
        await self._teams.delete(request.organization_id, request.team_id)
        return api.DeleteTeamResponse()

    async def AddTeamMember(
        self, request: api.AddTeamMemberRequest, context: grpc.aio.ServicerContext
    ) -> api.AddTeamMemberResponse:
        member = await self._teams.add_member(
            request.organization_id, request.team_id, request.user_id
        )
        return api.AddTeamMemberResponse(member=member)

    async def RemoveTeamMember(
        self, request: api.RemoveTeamMemberRequest, context: grpc.aio.ServicerContext
    ) -> api.RemoveTeamMemberResponse:
        await self._teams.remove_member(request.organization_id, request.team_id, request.user_id)
        return api.RemoveTeamMemberResponse()

    async def ListTeamMembers(
        self, request: api.ListTeamMembersRequest, context: grpc.aio.ServicerContext
    ) -> api.ListTeamMembersResponse:
        members, token = await self._teams.list_members(request)
        return api.ListTeamMembersResponse(members=members, next_page_token=token)
