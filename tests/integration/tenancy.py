"""The tenant-isolation tables of every implemented domain, gathered from the catalog.

Each domain's test package has a `tenancy` module (tests/<domain>/tenancy.py) with:
- `seed(b)`: creates organization B's resources through REST, returns their ids by name;
- `BODIES`: a valid body for every route of the domain that takes one and names B's ids;
- `ID_OF_PARAMETER`: which of those ids each path parameter of its routes names;
- `SECRETS`: text of B's resources that must never appear in an answer to A;
- `untouched(b, ids)`: asserts B's resources are as seeded.

A domain in `services.catalog` without the module fails the isolation test, so no service can
be left unchecked for tenancy.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx

from services import catalog

PASSWORD = "correct horse battery staple"


@dataclass
class Tenant:
    """A registered user, owner of a new organization, with a client that sends its token."""

    client: httpx.AsyncClient
    organization_id: str
    user_id: str
    session_id: str
    access_token: str


@dataclass
class Tables:
    """Every domain's tenancy tables merged."""

    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    id_of_parameter: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    seeds: list[Callable[[Tenant], Awaitable[dict[str, str]]]] = field(default_factory=list)
    checks: list[Callable[[Tenant, dict[str, str]], Awaitable[None]]] = field(default_factory=list)


def tenancy_module(domain: str) -> ModuleType:
    try:
        return importlib.import_module(f"tests.{domain}.tenancy")
    except ModuleNotFoundError as missing:
        raise AssertionError(
            f"domain {domain!r} has no tests/{domain}/tenancy.py: write its seed, BODIES, "
            "ID_OF_PARAMETER, SECRETS and untouched (see tests/integration/tenancy.py)"
        ) from missing


def tables() -> Tables:
    merged = Tables()
    for domain in catalog.IMPLEMENTED:
        module = tenancy_module(domain)
        merged.bodies.update(module.BODIES)
        merged.id_of_parameter.update(module.ID_OF_PARAMETER)
        merged.secrets.extend(module.SECRETS)
        merged.seeds.append(module.seed)
        merged.checks.append(module.untouched)
    return merged


async def register(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    """A new account and organization through the edge's /auth/register."""
    answer = await client.post(
        "/auth/register",
        json={
            "email": f"{name}-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "displayName": name,
            "organizationName": f"{name}'s organization",
            "returnRefreshToken": True,
        },
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any], key: str) -> str:
    """POST a resource; its id."""
    answer = await client.post(path, json=body)
    assert answer.status_code == 201, f"{path}: {answer.status_code} {answer.text}"
    identifier: str = answer.json()[key]["id"]
    return identifier
