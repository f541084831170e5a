"""A new user registers, signs in, creates an organization, invites a colleague who accepts,
and both work in Planning through REST on the edge and through Envoy."""

from __future__ import annotations

import uuid

import httpx

PASSWORD = "correct horse battery staple"


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"x-csrf-token": client.cookies["coder_csrf"]}


def bearer(answer: httpx.Response) -> dict[str, str]:
    token = answer.json()["accessToken"]
    assert token, answer.json()
    return {"authorization": f"Bearer {token}"}


class TestOnboarding:
    async def test_register_invite_accept_and_share_a_project(
        self, browser: httpx.AsyncClient, edge_url: str, envoy_url: str
    ) -> None:
        suffix = uuid.uuid4().hex[:8]
        alice_email, bob_email = f"alice-{suffix}@example.com", f"bob-{suffix}@example.com"

        registered = await browser.post(
            "/auth/register",
            json={"email": alice_email, "password": PASSWORD, "displayName": "Alice"},
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["accessToken"] == ""  # no organization yet

        signed_in = await browser.post(
            "/auth/login", json={"email": alice_email, "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        assert "coder_refresh" in browser.cookies

        created = await browser.post(
            "/auth/switch-organization",
            json={"createOrganizationName": f"Acme {suffix}"},
            headers=csrf(browser),
        )
        assert created.status_code == 200, created.text
        organization_id = created.json()["organizationId"]
        assert created.json()["role"] == "owner"
        alice = bearer(created)

        invited = await browser.post(
            f"/api/v1/identity/organizations/{organization_id}/invitations",
            json={"email": bob_email, "role": "member"},
            headers=alice,
        )
        assert invited.status_code == 201, invited.text
        invitation_token = invited.json()["token"]

        async with httpx.AsyncClient(base_url=edge_url, timeout=15) as bob_browser:
            accepted = await bob_browser.post(
                "/auth/invitations/accept",
                json={"token": invitation_token, "displayName": "Bob", "password": PASSWORD},
            )
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["organizationId"] == organization_id
            assert accepted.json()["role"] == "member"
            bob = bearer(accepted)

            reused = await bob_browser.post(
                "/auth/invitations/accept",
                json={"token": invitation_token, "displayName": "Bob", "password": PASSWORD},
            )
            assert reused.status_code in (400, 404), reused.text

        project = await browser.post(
            "/api/v1/planning/projects", json={"name": "Launch"}, headers=alice
        )
        assert project.status_code == 201, project.text
        project_id = project.json()["project"]["id"]
        assert project.headers["location"].endswith(f"/api/v1/planning/projects/{project_id}")

        task = await browser.post(
            f"/api/v1/planning/projects/{project_id}/tasks",
            json={"title": "Write the announcement", "labels": ["launch"]},
            headers=bob,
        )
        assert task.status_code == 201, task.text
        assert task.json()["task"]["createdBy"] == accepted.json()["user"]["id"]

        seen_by_alice = await browser.get(
            f"/api/v1/planning/projects/{project_id}/tasks", headers=alice
        )
        assert [t["title"] for t in seen_by_alice.json()["tasks"]] == ["Write the announcement"]

        members = await browser.get(
            f"/api/v1/identity/organizations/{organization_id}/members", headers=alice
        )
        assert members.status_code == 200, members.text
        assert {m["role"] for m in members.json()["members"]} == {"owner", "member"}

        async with httpx.AsyncClient(base_url=envoy_url, timeout=15) as through_envoy:
            # Tokens from the identity service verify at Envoy's jwt_authn (the edge's JWKS)
            # and again in the service behind it.
            task = await through_envoy.post(
                f"/api/v1/planning/projects/{project_id}/tasks",
                json={"title": "Book the venue"},
                headers=alice,
            )
            assert task.status_code == 201, task.text
            listed = await through_envoy.get(
                f"/api/v1/planning/projects/{project_id}/tasks", headers=bob
            )
            assert listed.status_code == 200, listed.text
            assert sorted(t["title"] for t in listed.json()["tasks"]) == [
                "Book the venue",
                "Write the announcement",
            ]
            anonymous = await through_envoy.get(f"/api/v1/planning/projects/{project_id}")
            assert anonymous.status_code == 401

        # A member cannot administer the organization.
        refused = await browser.get(
            f"/api/v1/identity/organizations/{organization_id}/members", headers=bob
        )
        assert refused.status_code == 403, refused.text
