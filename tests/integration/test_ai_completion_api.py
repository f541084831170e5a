"""The AI core end to end over REST, through the edge, as the UI and partners use it: a member
stores an API key as a secret, an admin registers a provider and a model using it, the member's
chat completion streams as Server-Sent Events ending with usage and cost (the local provider,
driven by the real `openai` client, receives the stored key); the usage shows in QueryUsage;
and a hard quota set below it makes the next call fail with 429 before the provider is called.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx

from tests.ai.providers import Reply, local_provider
from tests.integration.tenancy import PASSWORD, register

USAGE_WAIT_SECONDS = 15.0


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def sse_messages(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of each SSE event of a body; comments (`: ping`) skipped."""
    found = []
    for block in text.split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            found.append((event, json.loads("\n".join(data))))
    return found


async def member_of(edge_url: str, admin: httpx.AsyncClient, organization_id: str) -> str:
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    invited = await ok(
        await admin.post(
            f"/api/v1/identity/organizations/{organization_id}/invitations",
            json={"email": email, "role": "member"},
        ),
        201,
    )
    async with httpx.AsyncClient(base_url=edge_url, timeout=15) as browser:
        accepted = await ok(
            await browser.post(
                "/auth/invitations/accept",
                json={"token": invited["token"], "displayName": "Mia", "password": PASSWORD},
            )
        )
    token: str = accepted["accessToken"]
    return token


class TestAiCompletionOverRest:
    async def test_secret_provider_model_stream_usage_and_quota(self, edge_url: str) -> None:
        async with httpx.AsyncClient(base_url=edge_url, timeout=15) as anonymous:
            registered = await register(anonymous, "ai-admin")
        organization_id = registered["organizationId"]
        admin = httpx.AsyncClient(
            base_url=edge_url, timeout=15, headers=bearer(registered["accessToken"])
        )
        async with admin, local_provider() as provider:
            member = httpx.AsyncClient(
                base_url=edge_url,
                timeout=15,
                headers=bearer(await member_of(edge_url, admin, organization_id)),
            )
            async with member:
                # A member stores the provider's API key as a secret of their own.
                key = f"sk-e2e-{uuid.uuid4().hex}"
                secret = await ok(
                    await member.post(
                        "/api/v1/secret/secrets",
                        json={
                            "secret": {
                                "name": "OPENAI_API_KEY",
                                "type": "SECRET_TYPE_API_KEY",
                                "scope": "SECRET_SCOPE_ORGANIZATION",
                            },
                            "value": {"apiKey": {"key": key}},
                        },
                    ),
                    201,
                )
                secret_id = secret["secret"]["id"]

                # An admin registers a provider using it, and a model of that provider.
                created = await ok(
                    await admin.post(
                        "/api/v1/ai/providers",
                        json={
                            "name": "openai",
                            "kind": "PROVIDER_KIND_OPENAI",
                            "baseUrl": provider.openai_url,
                            "credentialSecretId": secret_id,
                        },
                    ),
                    201,
                )
                assert key not in json.dumps(created)
                model = await ok(
                    await admin.post(
                        "/api/v1/ai/models",
                        json={"name": "gpt-4o-mini", "providerId": created["provider"]["id"]},
                    ),
                    201,
                )
                assert model["model"]["pricing"] == {
                    "inputPerMillion": "0.15",
                    "outputPerMillion": "0.6",
                    "cachedInputPerMillion": "0.075",
                    "source": "PRICE_SOURCE_CATALOG",
                }

                # The member's completion streams as SSE, ending with usage and cost.
                provider.script(
                    "gpt-4o-mini",
                    Reply("Streams are flowing nicely.", input_tokens=1200, output_tokens=310),
                )
                request = {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "ROLE_USER", "content": "How are the streams?"}],
                    "projectId": "proj-e2e",
                }
                streamed = await member.post(
                    "/api/v1/ai/chat/completions:stream",
                    json=request,
                    headers={"accept": "text/event-stream"},
                )
                assert streamed.status_code == 200, streamed.text
                assert streamed.headers["content-type"].startswith("text/event-stream")
                events = sse_messages(streamed.text)
                assert {kind for kind, _ in events} == {"message"}
                *deltas, final = [data for _, data in events]
                assert "".join(d["delta"] for d in deltas) == "Streams are flowing nicely."
                assert final["done"] is True
                assert final["usage"]["inputTokens"] == "1200"
                assert final["usage"]["outputTokens"] == "310"
                # 1200 x 0.15 + 310 x 0.6 per million
                assert Decimal(final["usage"]["cost"]) == Decimal("0.000366")
                [seen] = provider.seen("gpt-4o-mini")
                assert seen.headers["Authorization"] == f"Bearer {key}"

                # The usage shows in QueryUsage once Usage Tracking has consumed the event.
                tokens = await self._usage_tokens(member, expected=Decimal(1510))
                assert tokens == Decimal(1510)

                # A hard quota below what was used refuses the next call before the provider.
                await ok(
                    await admin.post(
                        "/api/v1/usage/quotas",
                        json={
                            "name": "AI tokens",
                            "meter": "ai.completion.tokens",
                            "scope": "SCOPE_ORGANIZATION",
                            "period": "PERIOD_MONTH",
                            "limit": "1000",
                            "enforcement": "ENFORCEMENT_HARD",
                        },
                    ),
                    201,
                )
                refused = await member.post(
                    "/api/v1/ai/chat/completions:stream",
                    json=request,
                    headers={"accept": "text/event-stream"},
                )
                assert refused.status_code == 429, refused.text
                reasons = [d.get("reason") for d in refused.json()["details"]]
                assert "QUOTA_EXCEEDED" in reasons
                assert len(provider.seen("gpt-4o-mini")) == 1

    @staticmethod
    async def _usage_tokens(client: httpx.AsyncClient, expected: Decimal) -> Decimal:
        """The organization's `ai.completion.tokens` this month, waited for until it reaches
        `expected` (the event travels outbox → bus → Usage Tracking)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + USAGE_WAIT_SECONDS
        total = Decimal(0)
        while loop.time() < deadline:
            answer = await ok(
                await client.get(
                    "/api/v1/usage/aggregates",
                    params={"category": "ai.completion", "meters": "ai.completion.tokens"},
                )
            )
            total = sum((Decimal(row["value"]) for row in answer["rows"]), Decimal(0))
            if total >= expected:
                return total
            await asyncio.sleep(0.1)
        return total
