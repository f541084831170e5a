"""The WebSocket bridge: authentication on connect, multiplexed subscriptions, unsubscribe,
errors per subscription and close codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from edge import EdgeSettings
from edge.descriptors import load_descriptor_set
from edge.transcoding import Calls, RouteTable
from edge.websocket import WebSocketBridge
from services.kit import Host, SigningKey
from tests.fixtures.tokens import AUDIENCE, ISSUER, TokenFactory

TICKS = "coder.ops.v1.OpsService/Ticks"


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/ws"


@pytest.fixture
async def socket(base_url: str, token: TokenFactory, org: str) -> AsyncIterator[ClientConnection]:
    headers = {"authorization": f"Bearer {token(org=org)}"}
    async with connect(ws_url(base_url), additional_headers=headers) as opened:
        yield opened


async def send(socket: ClientConnection, frame: dict[str, Any]) -> None:
    await socket.send(json.dumps(frame))


async def receive(socket: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await socket.recv())
    return frame


async def until_complete(socket: ClientConnection, *ids: str) -> list[dict[str, Any]]:
    """Every frame until each of `ids` completed or failed."""
    frames, open_ids = [], set(ids)
    while open_ids:
        frame = await receive(socket)
        frames.append(frame)
        if frame["type"] in ("complete", "error"):
            open_ids.discard(frame["id"])
    return frames


async def closed_with(socket: ClientConnection) -> tuple[int, str]:
    """The close code and reason the server sent, once it closed the connection."""
    try:
        while True:
            await socket.recv()
    except ConnectionClosed as closed:
        received = closed.rcvd
    assert received is not None, "the server closed without a close frame"
    return received.code, received.reason


class TestSubscriptions:
    async def test_a_subscription_streams_messages_then_completes(
        self, socket: ClientConnection
    ) -> None:
        request = {"count": 3, "intervalMs": 10}
        await send(socket, {"type": "subscribe", "id": "s1", "method": TICKS, "request": request})
        frames = await until_complete(socket, "s1")
        assert [f["type"] for f in frames] == ["message", "message", "message", "complete"]
        assert [f["data"]["cursor"] for f in frames[:3]] == ["1", "2", "3"]
        assert all(f["id"] == "s1" for f in frames)

    async def test_subscriptions_are_multiplexed(self, socket: ClientConnection) -> None:
        await send(
            socket,
            {"type": "subscribe", "id": "a", "method": TICKS,
             "request": {"count": 4, "intervalMs": 20}},
        )  # fmt: skip
        await send(
            socket,
            {"type": "subscribe", "id": "b", "method": TICKS,
             "request": {"count": 4, "intervalMs": 30, "cursor": "1"}},
        )  # fmt: skip
        frames = await until_complete(socket, "a", "b")
        by_id: dict[str, list[str]] = {"a": [], "b": []}
        for frame in frames:
            if frame["type"] == "message":
                by_id[frame["id"]].append(frame["data"]["sequence"])
        assert by_id == {"a": ["1", "2", "3", "4"], "b": ["2", "3", "4"]}  # b resumed
        order = [f["id"] for f in frames if f["type"] == "message"]
        assert order != sorted(order), "the two streams interleave on the one connection"

    async def test_unsubscribe_stops_a_subscription(self, socket: ClientConnection) -> None:
        # A stream that would run for 1,000 s ends now only if the unsubscribe stops it.
        request = {"count": 1000, "intervalMs": 1000}
        await send(socket, {"type": "subscribe", "id": "s", "method": TICKS, "request": request})
        first = await receive(socket)
        assert first["type"] == "message"
        await send(socket, {"type": "unsubscribe", "id": "s"})
        frames = await until_complete(socket, "s")
        assert frames[-1] == {"type": "complete", "id": "s"}
        assert len(frames) < 1000

    async def test_a_unary_rpc_answers_once(self, socket: ClientConnection) -> None:
        await send(
            socket,
            {"type": "subscribe", "id": "e", "method": "coder.ops.v1.OpsService/Echo",
             "request": {"message": "hi"}},
        )  # fmt: skip
        frames = await until_complete(socket, "e")
        assert frames == [
            {"type": "message", "id": "e", "data": {"message": "hi"}},
            {"type": "complete", "id": "e"},
        ]

    async def test_rpc_errors_fail_only_their_subscription(self, socket: ClientConnection) -> None:
        await send(
            socket,
            {"type": "subscribe", "id": "bad", "method": TICKS, "request": {"count": 0}},
        )
        await send(socket, {"type": "subscribe", "id": "none", "method": "x.Y/Z", "request": {}})
        await send(
            socket,
            {"type": "subscribe", "id": "typo", "method": TICKS, "request": {"cont": 1}},
        )
        frames = {f["id"]: f for f in await until_complete(socket, "bad", "none", "typo")}
        assert frames["bad"]["error"]["code"] == 400
        assert frames["none"]["error"]["code"] == 404
        assert frames["typo"]["error"]["code"] == 400
        request = {"count": 1, "intervalMs": 10}
        await send(socket, {"type": "subscribe", "id": "ok", "method": TICKS, "request": request})
        assert (await until_complete(socket, "ok"))[-1]["type"] == "complete"

    async def test_permission_is_checked_per_subscription(
        self, base_url: str, token: TokenFactory, org: str
    ) -> None:
        viewer = {"authorization": f"Bearer {token(org=org, roles=('viewer',))}"}
        async with connect(ws_url(base_url), additional_headers=viewer) as socket:
            await send(
                socket,
                {"type": "subscribe", "id": "w",
                 "method": "coder.planning.v1.PlanningService/CreateProject",
                 "request": {"project": {"name": "x"}}},
            )  # fmt: skip
            (frame,) = await until_complete(socket, "w")
            assert frame["error"]["code"] == 403


class TestClosing:
    async def test_no_token_closes_4401(self, base_url: str) -> None:
        async with connect(ws_url(base_url)) as socket:
            assert (await closed_with(socket))[0] == 4401

    async def test_a_bad_token_closes_4401(self, base_url: str) -> None:
        async with connect(ws_url(base_url) + "?access_token=not.a.jwt") as socket:
            assert (await closed_with(socket))[0] == 4401

    async def test_the_token_may_come_in_the_query(
        self, base_url: str, token: TokenFactory, org: str
    ) -> None:
        async with connect(ws_url(base_url) + f"?access_token={token(org=org)}") as socket:
            await send(
                socket,
                {"type": "subscribe", "id": "q", "method": TICKS,
                 "request": {"count": 1, "intervalMs": 10}},
            )  # fmt: skip
            assert (await until_complete(socket, "q"))[-1]["type"] == "complete"

    @pytest.mark.parametrize(
        "frame",
        [
            "not json",
            "[1, 2]",
            json.dumps({"type": "subscribe", "method": TICKS}),
            json.dumps({"type": "dance", "id": "x"}),
            json.dumps({"type": "subscribe", "id": "x", "method": 3}),
        ],
    )
    async def test_a_bad_frame_closes_4400(self, socket: ClientConnection, frame: str) -> None:
        await socket.send(frame)
        assert (await closed_with(socket))[0] == 4400

    async def test_a_duplicate_subscription_id_closes_4400(self, socket: ClientConnection) -> None:
        request = {"count": 100, "intervalMs": 50}
        frame = {"type": "subscribe", "id": "d", "method": TICKS, "request": request}
        await send(socket, frame)
        await send(socket, frame)
        assert (await closed_with(socket))[0] == 4400

    async def test_the_client_closing_is_a_normal_close(self, socket: ClientConnection) -> None:
        request = {"count": 100, "intervalMs": 10}
        await send(socket, {"type": "subscribe", "id": "c", "method": TICKS, "request": request})
        await receive(socket)
        await socket.close()
        assert socket.close_code == 1000

    async def test_an_expired_token_closes_4401(
        self, base_url: str, signing_key: SigningKey, org: str
    ) -> None:
        short = signing_key.mint(
            subject="user-1",
            organization_id=org,
            issuer=ISSUER,
            audience=AUDIENCE,
            roles=("member",),
            lifetime_seconds=1,
        )
        headers = {"authorization": f"Bearer {short}"}
        async with connect(ws_url(base_url), additional_headers=headers) as socket:
            request = {"count": 1000, "intervalMs": 50}
            await send(
                socket, {"type": "subscribe", "id": "x", "method": TICKS, "request": request}
            )
            code, reason = await closed_with(socket)
            assert (code, reason) == (4401, "the access token expired")


class StalledClient:
    """The server side of a WebSocket whose client never reads: every send blocks."""

    def __init__(self, token: str, frames: list[dict[str, Any]]) -> None:
        self.headers = {"authorization": f"Bearer {token}"}
        self.query_params: dict[str, str] = {}
        self._incoming: asyncio.Queue[str] = asyncio.Queue()
        for frame in frames:
            self._incoming.put_nowait(json.dumps(frame))
        self.closed: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()

    async def accept(self) -> None:
        return None

    async def receive_text(self) -> str:
        return await self._incoming.get()

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed.done():
            self.closed.set_result((code, reason))


class TestBackpressure:
    async def test_a_client_that_stops_reading_is_closed_1013(
        self, edge_settings: EdgeSettings, host: Host, token: TokenFactory
    ) -> None:
        settings = edge_settings.model_copy(
            update={"ws_queue_size": 2, "ws_send_timeout_seconds": 0.2}
        )
        table = RouteTable(load_descriptor_set(settings.descriptor_set))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            bridge = WebSocketBridge(settings, table, verifier=None)
            bridge.calls = Calls(table, lambda _domain: channel, settings.probe_domain)
            client = StalledClient(
                token(),
                [{"type": "subscribe", "id": "s", "method": TICKS,
                  "request": {"count": 1000, "intervalMs": 10}}]
            )  # fmt: skip
            await asyncio.wait_for(bridge.serve(client), 10)  # type: ignore[arg-type]
            assert client.closed.result() == (1013, "the client reads too slowly")
