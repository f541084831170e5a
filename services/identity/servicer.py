"""The gRPC adapter of the identity service: unpack the request, call the service, reply.

Access, validation, errors and deadlines are handled by the kit's interceptors before and
after these methods run.
"""

from __future__ import annotations

import grpc

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import identity_service_pb2_grpc
from services.identity.service import Device, IdentityService


class IdentityServicer(identity_service_pb2_grpc.IdentityServiceServicer):
    """coder.identity.v1.IdentityService."""

    def __init__(self, service: IdentityService) -> None:
        self._service = service

    async def Register(
        self, request: api.RegisterRequest, context: grpc.aio.ServicerContext
    ) -> api.RegisterResponse:
        device = Device(request.device_label, request.ip_address, request.user_agent)
        result = await self._service.register(
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
        result = await self._service.login(
            request.email, request.password, request.organization_id, device
        )
        return api.LoginResponse(result=result)

    async def LoginExternal(
        self, request: api.LoginExternalRequest, context: grpc.aio.ServicerContext
    ) -> api.LoginExternalResponse:
        device = Device(request.device_label, request.ip_address, request.user_agent)
        result = await self._service.login_external(
            request.provider, request.id_token, request.nonce, request.organization_id, device
        )
        return api.LoginExternalResponse(result=result)

    async def RefreshSession(
        self, request: api.RefreshSessionRequest, context: grpc.aio.ServicerContext
    ) -> api.RefreshSessionResponse:
        result = await self._service.refresh(
            request.refresh_token,
            request.organization_id,
            request.create_organization_name,
            request.ip_address,
        )
        return api.RefreshSessionResponse(result=result)

    async def Logout(
        self, request: api.LogoutRequest, context: grpc.aio.ServicerContext
    ) -> api.LogoutResponse:
        await self._service.logout(request.refresh_token)
        return api.LogoutResponse()

    async def GetJwks(
        self, request: api.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> api.GetJwksResponse:
        return api.GetJwksResponse(jwks_json=await self._service.jwks_json())

    async def GetCurrentUser(
        self, request: api.GetCurrentUserRequest, context: grpc.aio.ServicerContext
    ) -> api.GetCurrentUserResponse:
        return api.GetCurrentUserResponse(user=await self._service.current_user())

    async def UpdateCurrentUser(
        self, request: api.UpdateCurrentUserRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateCurrentUserResponse:
        user = await self._service.update_current_user(request.user, request.update_mask)
        return api.UpdateCurrentUserResponse(user=user)

    async def ChangePassword(
        self, request: api.ChangePasswordRequest, context: grpc.aio.ServicerContext
    ) -> api.ChangePasswordResponse:
        await self._service.change_password(request.current_password, request.new_password)
        return api.ChangePasswordResponse()

    async def CreateOrganization(
        self, request: api.CreateOrganizationRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateOrganizationResponse:
        organization = await self._service.create_organization(request.organization)
        return api.CreateOrganizationResponse(organization=organization)

    async def GetOrganization(
        self, request: api.GetOrganizationRequest, context: grpc.aio.ServicerContext
    ) -> api.GetOrganizationResponse:
        organization = await self._service.get_organization(request.organization_id)
        return api.GetOrganizationResponse(organization=organization)

    async def UpdateOrganization(
        self, request: api.UpdateOrganizationRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateOrganizationResponse:
        organization = await self._service.update_organization(
            request.organization, request.update_mask
        )
        return api.UpdateOrganizationResponse(organization=organization)

    async def ListOrganizations(
        self, request: api.ListOrganizationsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListOrganizationsResponse:
        memberships = await self._service.list_organizations()
        return api.ListOrganizationsResponse(memberships=memberships)

    async def ListMembers(
        self, request: api.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> api.ListMembersResponse:
        members, token = await self._service.list_members(
            request.organization_id, request.page_size, request.page_token
        )
        return api.ListMembersResponse(members=members, next_page_token=token)

    async def UpdateMemberRole(
        self, request: api.UpdateMemberRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateMemberRoleResponse:
        member = await self._service.update_member_role(
            request.organization_id, request.user_id, request.role
        )
        return api.UpdateMemberRoleResponse(member=member)

    async def RemoveMember(
        self, request: api.RemoveMemberRequest, context: grpc.aio.ServicerContext
    ) -> api.RemoveMemberResponse:
        await self._service.remove_member(request.organization_id, request.user_id)
        return api.RemoveMemberResponse()

    async def CreateRole(
        self, request: api.CreateRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.CreateRoleResponse:
        role = await self._service.create_role(request.organization_id, request.role)
        return api.CreateRoleResponse(role=role)

    async def ListRoles(
        self, request: api.ListRolesRequest, context: grpc.aio.ServicerContext
    ) -> api.ListRolesResponse:
        return api.ListRolesResponse(roles=await self._service.list_roles(request.organization_id))

    async def UpdateRole(
        self, request: api.UpdateRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.UpdateRoleResponse:
        role = await self._service.update_role(request.role, request.update_mask)
        return api.UpdateRoleResponse(role=role)

    async def DeleteRole(
        self, request: api.DeleteRoleRequest, context: grpc.aio.ServicerContext
    ) -> api.DeleteRoleResponse:
        await self._service.delete_role(request.organization_id, request.role_id)
        return api.DeleteRoleResponse()

    async def ListSessions(
        self, request: api.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListSessionsResponse:
        return api.ListSessionsResponse(sessions=await self._service.list_sessions())

    async def RevokeSession(
        self, request: api.RevokeSessionRequest, context: grpc.aio.ServicerContext
    ) -> api.RevokeSessionResponse:
        await self._service.revoke_session(request.session_id)
        return api.RevokeSessionResponse()

    async def RevokeOtherSessions(
        self, request: api.RevokeOtherSessionsRequest, context: grpc.aio.ServicerContext
    ) -> api.RevokeOtherSessionsResponse:
        count = await self._service.revoke_other_sessions()
        return api.RevokeOtherSessionsResponse(revoked_count=count)

    async def ListAuditEvents(
        self, request: api.ListAuditEventsRequest, context: grpc.aio.ServicerContext
    ) -> api.ListAuditEventsResponse:
        found, token = await self._service.list_audit_events(
            request.organization_id, request.page_size, request.page_token
        )
        return api.ListAuditEventsResponse(events=found, next_page_token=token)
