"""Schemathesis over the whole API the suite serves — every implemented service, ops and the
edge's own sign-in routes — with an owner's token: no 5xx, no response outside the schema.

Left out: the Ticks stream (a generated request may ask for hours of ticks), the WatchProject
stream (a watch never ends by itself), OIDC (no provider
is configured here, so those routes rightly answer 404) and the OAuth token endpoint (its errors
follow RFC 6749, not the API's error body)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from services import catalog
from tests.edge.test_schemathesis import fuzz

SERVICE_TAGS = [
    name.rsplit(".", 1)[1] for definition in catalog.load_all() for name in definition.service_names
]
TAGS = f"^({'|'.join([*SERVICE_TAGS, 'OpsService', 'auth', 'well-known'])})$"
"""Every implemented service's routes (from the catalog), the ops probes and the edge's own."""
EXCLUDED = (
    "OpsService_Ticks",
    "PlanningService_WatchProject",
    "Auth_Token",
    "Auth_OidcLogin",
    "Auth_OidcCallback",
)


@pytest.mark.timeout(600)
async def test_fuzzing_the_whole_api_finds_no_server_error(edge_url: str) -> None:
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as client:
        owner = await client.post(
            "/auth/register",
            json={
                "email": f"fuzz-{uuid.uuid4().hex[:8]}@example.com",
                "password": "correct horse battery staple",
                "displayName": "Fuzz",
                "organizationName": "Fuzz",
                "returnRefreshToken": True,
            },
        )
    assert owner.status_code == 201, owner.text
    failures = await asyncio.to_thread(
        fuzz, edge_url, owner.json()["accessToken"], TAGS, EXCLUDED, 40
    )
    assert not failures, "\n\n".join(failures)
