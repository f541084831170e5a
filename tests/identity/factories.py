"""Factories of the identity tests: accounts, sign-ins, memberships."""

from __future__ import annotations

from coder.identity.v1 import identity_service_pb2 as api
from coder.identity.v1 import resources_pb2
from coder.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from services.identity.events import MEMBER_ADDED, IdentityEvents, user_actor
from services.identity.repository import OrganizationRepository
from services.kit import Resources, new_id

PASSWORD = "correct horse battery staple"


def unique_email(label: str = "user") -> str:
    return f"{label}-{new_id().lower()}@example.com"


async def register(
    stub: IdentityServiceStub,
    *,
    email: str | None = None,
    password: str = PASSWORD,
    organization_name: str = "Acme",
    display_name: str = "Ada",
    device_label: str = "laptop",
) -> api.AuthResult:
    reply: api.RegisterResponse = await stub.Register(
        api.RegisterRequest(
            email=email or unique_email(),
            password=password,
            display_name=display_name,
            organization_name=organization_name,
            device_label=device_label,
            ip_address="203.0.113.7",
            user_agent="pytest",
        )
    )
    return reply.result


async def login(
    stub: IdentityServiceStub,
    email: str,
    password: str = PASSWORD,
    *,
    organization_id: str = "",
    device_label: str = "laptop",
) -> api.AuthResult:
    reply: api.LoginResponse = await stub.Login(
        api.LoginRequest(
            email=email,
            password=password,
            organization_id=organization_id,
            device_label=device_label,
            ip_address="203.0.113.7",
            user_agent="pytest",
        )
    )
    return reply.result


async def refresh(
    stub: IdentityServiceStub, token: str, *, organization_id: str = ""
) -> api.AuthResult:
    reply: api.RefreshSessionResponse = await stub.RefreshSession(
        api.RefreshSessionRequest(refresh_token=token, organization_id=organization_id)
    )
    return reply.result


async def add_member(
    resources: Resources, organization_id: str, user: resources_pb2.User, role: str
) -> None:
    """Make a user a member directly through the repository (quicker than an invitation),
    with the same writes and event as the service's own membership creation."""
    member = resources_pb2.Member(
        organization_id=organization_id,
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=role,
    )
    member.join_time.FromDatetime(resources.clock.now())
    event = IdentityEvents(user_actor(user.id), resources.clock).member(MEMBER_ADDED, member)
    await OrganizationRepository(resources.store, resources.relay).add_member(member, event)
