"""Done when: a task assigned in Planning through one REST call on the edge reaches the
assignee in-app live over the edge's WebSocket, in an SMTP inbox, and at a webhook receiver
that verifies its signature with `standardwebhooks`.

Identity, Planning and Notification run on one real gRPC host (SQLite, in-process bus),
the edge in front of it on a real port; people sign up, invite and accept as users do."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from standardwebhooks.webhooks import Webhook
from websockets.asyncio.client import connect

from edge import EdgeSettings, create_app
from edge.server import server_config
from services import identity, planning
from services.kit import Host, Settings, open_resources
from services.notification import NotificationSettings, definition
from tests.fixtures.waiting import eventually
from tests.integration.tenancy import PASSWORD, register
from tests.notification.factories import Mailbox, Receiver

WATCH = "coder.notification.v1.NotificationService/WatchNotifications"


@pytest.fixture(scope="module")
async def suite(
    tmp_path_factory: pytest.TempPathFactory, notification_settings: NotificationSettings
) -> AsyncIterator[str]:
    directory: Path = tmp_path_factory.mktemp("e2e")
    settings = Settings(
        data_dir=directory,
        store_url=f"sqlite:///{directory / 'suite.db'}",
        bus_url="memory://",
        cache_url="memory://",
    )
    services = [identity.SERVICE, planning.SERVICE, definition(notification_settings)]
    async with open_resources(settings, services) as resources:
        host = Host(services, resources, readiness_interval=0.2)
        await host.start()
        await host.wait_ready()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        edge_settings = EdgeSettings(
            grpc_target=f"127.0.0.1:{host.port}", port=port, cookie_secure=False
        )
        server = uvicorn.Server(
            server_config(create_app(edge_settings), edge_settings, log_level="warning")
        )
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started:
            assert not task.done(), "the edge stopped while starting"
            await asyncio.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
            await host.stop(0.5)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = Receiver()
    await started.start()
    yield started
    await started.stop()


async def colleague(client: httpx.AsyncClient, owner: dict[str, Any], edge: str) -> dict[str, Any]:
    """Bob, invited by the owner and signed up through the invitation."""
    organization_id = owner["organizationId"]
    email = f"bob-{organization_id[-6:].lower()}@example.com"
    invited = await client.post(
        f"/api/v1/identity/organizations/{organization_id}/invitations",
        json={"email": email, "role": "member"},
        headers={"authorization": f"Bearer {owner['accessToken']}"},
    )
    assert invited.status_code == 201, invited.text
    async with httpx.AsyncClient(base_url=edge, timeout=15) as bob_browser:
        accepted = await bob_browser.post(
            "/auth/invitations/accept",
            json={"token": invited.json()["token"], "displayName": "Bob", "password": PASSWORD},
        )
    assert accepted.status_code == 200, accepted.text
    body: dict[str, Any] = accepted.json()
    body["email"] = email
    return body


class TestTaskAssigned:
    @pytest.mark.timeout(60)
    async def test_reaches_the_assignee_live_by_email_and_by_webhook(
        self, suite: str, mailbox: Mailbox, receiver: Receiver
    ) -> None:
        async with httpx.AsyncClient(base_url=suite, timeout=15) as client:
            alice = await register(client, "Alice")
            bob = await colleague(client, alice, suite)
            as_alice = {"authorization": f"Bearer {alice['accessToken']}"}
            hook = await client.post(
                "/api/v1/notification/webhooks",
                json={"url": receiver.url, "eventTypes": ["planning.task.assigned"]},
                headers=as_alice,
            )
            assert hook.status_code == 201, hook.text
            secret = hook.json()["endpoint"]["secret"]
            project = await client.post(
                "/api/v1/planning/projects", json={"name": "Launch"}, headers=as_alice
            )
            assert project.status_code == 201, project.text
            project_id = project.json()["project"]["id"]

            ws_url = suite.replace("http://", "ws://") + f"/ws?access_token={bob['accessToken']}"
            async with connect(ws_url) as socket_:
                await socket_.send(
                    json.dumps({"type": "subscribe", "id": "inbox", "method": WATCH, "request": {}})
                )
                started = json.loads(await asyncio.wait_for(socket_.recv(), 10))
                assert started["type"] == "message" and started["data"]["started"] is True

                # The one REST call.
                task = await client.post(
                    f"/api/v1/planning/projects/{project_id}/tasks",
                    json={"title": "Write the announcement", "assigneeId": bob["user"]["id"]},
                    headers=as_alice,
                )
                assert task.status_code == 201, task.text
                task_id = task.json()["task"]["id"]

                frame = json.loads(await asyncio.wait_for(socket_.recv(), 10))
                assert frame["type"] == "message", frame
                live = frame["data"]["notification"]
                assert live["title"] == "Alice assigned you “Write the announcement”"
                assert live["actionUrl"] == f"/planning/{project_id}?task={task_id}"
                assert live["state"] == "NOTIFICATION_STATE_UNREAD"
                assert frame["data"]["unreadCount"] == 1

        async def mailed_and_hooked() -> bool:
            return len(mailbox.to(bob["email"])) == 1 and len(receiver.received) == 1

        await eventually(mailed_and_hooked)
        [letter] = mailbox.to(bob["email"])
        assert letter["Subject"] == "Alice assigned you “Write the announcement”"
        [delivery] = receiver.received
        verified = Webhook(secret).verify(delivery.body, delivery.headers)
        assert verified["type"] == "planning.task.assigned"
        assert verified["data"]["task"]["id"] == task_id
        assert verified["data"]["task"]["assigneeId"] == bob["user"]["id"]
