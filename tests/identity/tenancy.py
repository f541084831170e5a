"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of identity: organization B's resources, a valid body for each route that takes one, and which
of B's ids each path parameter names. `{alice}` in a body is replaced by A's user id."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

BODIES: dict[str, dict[str, Any]] = {
    "IdentityService_UpdateOrganization": {"name": "taken over"},
    "IdentityService_CreateInvitation": {"email": "mallory@example.com", "role": "admin"},
    "IdentityService_ResendInvitation": {},
    "IdentityService_RevokeInvitation": {},
    "IdentityService_UpdateMemberRole": {"role": "viewer"},
    "IdentityService_TransferOwnership": {"newOwnerId": "{alice}"},
    "IdentityService_CreateRole": {"name": "intruder", "permissions": ["planning.task.read"]},
    "IdentityService_CreateServiceAccount": {
        "name": "intruder",
        "permissions": ["planning.task.read"],
    },
    "IdentityService_DisableServiceAccount": {},
    "IdentityService_RotateServiceAccountSecret": {},
    "IdentityService_CreateTeam": {"name": "intruders"},
    "IdentityService_UpdateTeam": {"name": "renamed"},
    "IdentityService_AddTeamMember": {"userId": "{alice}"},
    "IdentityService_UpdateRole": {"name": "renamed", "permissions": ["planning.task.read"]},
}

ID_OF_PARAMETER = {
    "organization_id": "organization",
    "role_organization_id": "organization",
    "invitation_id": "invitation",
    "user_id": "user",
    "role_id": "role",
    "service_account_id": "service_account",
    "team_id": "team",
    "session_id": "session",
}

SECRETS = ("bob's organization", "b-role", "b-team", "b-partner")


async def seed(b: Tenant) -> dict[str, str]:
    base = f"/api/v1/identity/organizations/{b.organization_id}"
    return {
        "organization": b.organization_id,
        "user": b.user_id,
        "session": b.session_id,
        "role": await created(
            b.client,
            f"{base}/roles",
            {"name": "b-role", "permissions": ["planning.*.read"]},
            "role",
        ),
        "team": await created(b.client, f"{base}/teams", {"name": "b-team"}, "team"),
        "service_account": await created(
            b.client,
            f"{base}/serviceAccounts",
            {"name": "b-partner", "permissions": ["planning.task.read"]},
            "serviceAccount",
        ),
        "invitation": await created(
            b.client,
            f"{base}/invitations",
            {"email": "carol@example.com", "role": "member"},
            "invitation",
        ),
    }


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    organization = await b.client.get(f"/api/v1/identity/organizations/{ids['organization']}")
    assert organization.json()["organization"]["name"] == "bob's organization"
    members = await b.client.get(f"/api/v1/identity/organizations/{ids['organization']}/members")
    assert [m["role"] for m in members.json()["members"]] == ["owner"]
