"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of the AI service: organization B's provider and model, a valid body for each route that takes
one and names B's ids, and which of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

BODIES: dict[str, dict[str, Any]] = {
    "AiService_UpdateProvider": {"name": "planted"},
    "AiService_UpdateModel": {"priority": 7},
}

ID_OF_PARAMETER = {"provider_id": "provider", "model_id": "model"}

SECRETS = ("bsecretprovider", "b-secret-model", "b-secret-deployment")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    provider = await created(
        b.client,
        "/api/v1/ai/providers",
        {
            "name": "bsecretprovider",
            "kind": "PROVIDER_KIND_OPENAI_COMPATIBLE",
            "baseUrl": "http://127.0.0.1:9/v1",
        },
        "provider",
    )
    model = await created(
        b.client,
        "/api/v1/ai/models",
        {
            "name": "b-secret-model",
            "providerId": provider,
            "providerModel": "b-secret-deployment",
            "priority": 1,
        },
        "model",
    )
    return {"provider": provider, "model": model}


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    provider = (await b.client.get(f"/api/v1/ai/providers/{ids['provider']}")).json()["provider"]
    assert provider["name"] == "bsecretprovider"
    model = (await b.client.get(f"/api/v1/ai/models/{ids['model']}")).json()["model"]
    assert (model["name"], model["priority"], model["providerId"]) == (
        "b-secret-model",
        1,
        ids["provider"],
    )
