"""A real server hosting the workflow service on SQLite, the in-process bus and Temporal's
dev server, once per session, with a stub, an event recorder and a local HTTP endpoint that
call steps may reach."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from coder.workflow.v1 import workflow_service_pb2_grpc
from services.kit import Resources
from services.kit.bus import Subscription
from services.workflow import WorkflowSettings, definition
from tests.conftest import HostFactory
from tests.fixtures.events import EventRecorder
from tests.fixtures.hosts import ServiceHost, host_settings
from tests.fixtures.temporal import TemporalDevServer
from tests.fixtures.tokens import Metadata, TokenFactory, auth


@dataclass
class Echo:
    """The local HTTP endpoint: its `host:port` and how often each body's `key` was posted."""

    host: str
    calls: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="session")
async def echo() -> AsyncIterator[Echo]:
    """`POST /echo` answers `{"got": <the JSON body>}` and counts the body's `key`;
    `GET /fail` answers 400."""
    calls: Counter[str] = Counter()

    async def reply(request: web.Request) -> web.Response:
        body = await request.json()
        if isinstance(body, dict) and "key" in body:
            calls[str(body["key"])] += 1
        return web.json_response({"got": body})

    async def fail(_: web.Request) -> web.Response:
        return web.json_response({"error": "no"}, status=400)

    app = web.Application()
    app.add_routes([web.post("/echo", reply), web.get("/fail", fail)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Echo(f"127.0.0.1:{port}", calls)
    await runner.cleanup()


@pytest.fixture(scope="session")
def echo_server(echo: Echo) -> str:
    return echo.host


@pytest.fixture(scope="session")
async def workflow_host(
    service_host: HostFactory,
    temporal_server: TemporalDevServer,
    echo_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ServiceHost]:
    settings = host_settings(tmp_path_factory.mktemp("workflow"), temporal_url=temporal_server.url)
    service = definition(WorkflowSettings(http_hosts=(echo_server,)))
    async with service_host([service], settings=settings) as started:
        yield started


@pytest.fixture(scope="session")
def resources(workflow_host: ServiceHost) -> Resources:
    return workflow_host.resources


@pytest.fixture(scope="session")
async def events(resources: Resources) -> EventRecorder:
    """Every workflow event published during the session, as a consumer receives it."""
    recorder = EventRecorder()
    await resources.bus.subscribe(
        Subscription("workflow-tests", "workflow", ("workflow.#",), recorder.record)
    )
    return recorder


@pytest.fixture(scope="session")
def stub(workflow_host: ServiceHost) -> workflow_service_pb2_grpc.WorkflowServiceStub:
    return workflow_service_pb2_grpc.WorkflowServiceStub(workflow_host.channel)


@pytest.fixture
def as_member(token: TokenFactory, org: str) -> Callable[..., Metadata]:
    """Metadata of a member of the test's organization (`as_member(sub="user-2")`)."""

    def metadata(sub: str = "user-1", roles: tuple[str, ...] = ("member",)) -> Metadata:
        return auth(token(org=org, roles=roles, sub=sub))

    return metadata
