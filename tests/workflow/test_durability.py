"""A run survives Temporal's dev server restarting mid-timer: it completes once the server is
back, and the call after the timer happened exactly once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from coder.workflow.v1 import run_pb2
from coder.workflow.v1 import workflow_service_pb2 as api
from coder.workflow.v1.workflow_service_pb2_grpc import WorkflowServiceStub
from services.workflow import WorkflowSettings, definition
from tests.conftest import HostFactory
from tests.fixtures.hosts import host_settings
from tests.fixtures.temporal import TemporalDevServer
from tests.fixtures.tokens import Metadata
from tests.fixtures.waiting import eventually
from tests.workflow.conftest import Echo
from tests.workflow.factories import call_http, timer
from tests.workflow.runs import create, reached, start


async def test_a_run_completes_across_a_temporal_restart_with_its_call_made_once(
    service_host: HostFactory,
    echo: Echo,
    as_member: Callable[..., Metadata],
    tmp_path: Path,
    org: str,
) -> None:
    with TemporalDevServer(tmp_path) as temporal:
        settings = host_settings(tmp_path / "host", temporal_url=temporal.url)
        (tmp_path / "host").mkdir()
        service = definition(WorkflowSettings(http_hosts=(echo.host,)))
        async with service_host([service], settings=settings) as host:
            stub = WorkflowServiceStub(host.channel)
            steps = [timer("nap", 3), call_http("after", f"http://{echo.host}/echo", {"key": org})]
            definition_id = await create(stub, as_member(), steps)
            run_id = await start(stub, as_member(), definition_id)

            async def napping() -> bool:
                answer = await stub.GetRun(api.GetRunRequest(run_id=run_id), metadata=as_member())
                return any(
                    s.name == "nap" and s.status == run_pb2.STEP_STATUS_WAITING
                    for s in answer.run.steps
                )

            await eventually(napping, within=30, interval=0.1)
            temporal.stop()
            temporal.start()
            await reached(stub, as_member(), run_id, run_pb2.RUN_STATUS_COMPLETED, within=90)
            assert echo.calls[org] == 1
