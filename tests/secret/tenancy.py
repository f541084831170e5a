"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of the secret service: organization B's secret with two versions and a grant, a valid body for
each route that takes one, and which of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

VALUE_1 = "B secret value one 7f3a9c"
VALUE_2 = "B secret value two 1d8e4b"
NAME = "b_secret_name"
DESCRIPTION = "B secret description"

BODIES: dict[str, dict[str, Any]] = {
    "SecretService_UpdateSecret": {"description": "taken over"},
    "SecretService_MoveSecret": {"name": "stolen"},
    "SecretService_RestoreSecret": {},
    "SecretService_PurgeSecret": {},
    "SecretService_AddSecretVersion": {"value": {"apiKey": {"key": "planted"}}},
    "SecretService_RollbackSecret": {"version": 1},
    "SecretService_GetSecretValue": {"reason": "tenancy"},
    "SecretService_CreateSecretGrant": {
        "granteeType": "GRANTEE_TYPE_USER",
        "granteeId": "{alice}",
        "actions": ["SECRET_ACTION_READ"],
    },
}

ID_OF_PARAMETER = {"secret_id": "secret", "grant_id": "secret_grant"}

SECRETS = (VALUE_1, VALUE_2, DESCRIPTION, NAME)
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    secret = await created(
        b.client,
        "/api/v1/secret/secrets",
        {
            "secret": {
                "name": NAME,
                "type": "SECRET_TYPE_API_KEY",
                "scope": "SECRET_SCOPE_ORGANIZATION",
                "description": DESCRIPTION,
            },
            "value": {"apiKey": {"key": VALUE_1}},
        },
        "secret",
    )
    added = await b.client.post(
        f"/api/v1/secret/secrets/{secret}/versions", json={"value": {"apiKey": {"key": VALUE_2}}}
    )
    assert added.status_code in (200, 201), added.text
    grant = await created(
        b.client,
        f"/api/v1/secret/secrets/{secret}/grants",
        {
            "granteeType": "GRANTEE_TYPE_ROLE",
            "granteeId": "deployer",
            "actions": ["SECRET_ACTION_READ"],
        },
        "grant",
    )
    return {"secret": secret, "secret_grant": grant}


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    path = f"/api/v1/secret/secrets/{ids['secret']}"
    secret = (await b.client.get(path)).json()["secret"]
    assert (secret["name"], secret["description"], secret["currentVersion"], secret["state"]) == (
        NAME,
        DESCRIPTION,
        2,
        "SECRET_STATE_ACTIVE",
    )
    grants = (await b.client.get(f"{path}/grants")).json()["grants"]
    assert [g["id"] for g in grants] == [ids["secret_grant"]]
    value = (await b.client.post(f"{path}:access", json={"reason": "check"})).json()
    assert (value["version"], value["value"]) == (2, {"apiKey": {"key": VALUE_2}})
