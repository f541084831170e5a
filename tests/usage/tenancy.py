"""What the suite-wide tenant-isolation test (tests/integration/test_tenant_isolation.py) needs
of usage: organization B's quota, budget and price, a valid body for each route that takes
one, and which of B's ids each path parameter names."""

from __future__ import annotations

from typing import Any

from tests.integration.tenancy import Tenant, created

BODIES: dict[str, dict[str, Any]] = {
    "UsageService_UpdateQuota": {"limit": "5"},
    "UsageService_UpdateBudget": {"amount": "5"},
}

ID_OF_PARAMETER = {"quota_id": "quota", "budget_id": "budget", "price_id": "price"}

SECRETS = ("B secret quota", "B secret budget")
"""Text of B's resources that must never appear in an answer to A."""


async def seed(b: Tenant) -> dict[str, str]:
    quota = await created(
        b.client,
        "/api/v1/usage/quotas",
        {
            "name": "B secret quota",
            "meter": "ai.completion.tokens",
            "scope": "SCOPE_ORGANIZATION",
            "period": "PERIOD_MONTH",
            "limit": "1000",
            "enforcement": "ENFORCEMENT_HARD",
        },
        "quota",
    )
    budget = await created(
        b.client,
        "/api/v1/usage/budgets",
        {
            "name": "B secret budget",
            "scope": "SCOPE_ORGANIZATION",
            "period": "PERIOD_MONTH",
            "amount": "250",
            "enforcement": "ENFORCEMENT_SOFT",
        },
        "budget",
    )
    price = await created(
        b.client,
        "/api/v1/usage/prices",
        {
            "meter": "ai.completion.tokens",
            "unit": "PRICE_UNIT_PER_MILLION",
            "tiers": [{"unitPrice": "0.5"}],
        },
        "price",
    )
    return {"quota": quota, "budget": budget, "price": price}


async def untouched(b: Tenant, ids: dict[str, str]) -> None:
    quota = (await b.client.get(f"/api/v1/usage/quotas/{ids['quota']}")).json()["quota"]
    assert (quota["name"], quota["limit"]) == ("B secret quota", "1000")
    budget = (await b.client.get(f"/api/v1/usage/budgets/{ids['budget']}")).json()["budget"]
    assert (budget["name"], budget["amount"]) == ("B secret budget", "250")
    price = (await b.client.get(f"/api/v1/usage/prices/{ids['price']}")).json()["price"]
    assert price["tiers"] == [{"upTo": "", "unitPrice": "0.5"}]
