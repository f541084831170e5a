"""The kit's Temporal port against the real dev server: a service that declares workers has
them run by its host, is NOT_SERVING until Temporal answers (while the process's other services
serve), registers the suite's search attributes, and lists only its organization's workflows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from services.kit import (
    SEARCH_ATTRIBUTES,
    Host,
    Resources,
    ServiceDefinition,
    TemporalWorker,
    open_resources,
    workflow_id,
    workflow_owned_by,
    workflow_query,
    workflow_search_attributes,
)
from tests.fixtures.hosts import host_settings
from tests.fixtures.temporal import TemporalDevServer
from tests.fixtures.waiting import eventually
from tests.kit.temporal_workflows import Shout, shout

QUEUE = "kit-test"


def _workers(_resources: Resources) -> list[TemporalWorker]:
    return [TemporalWorker(QUEUE, workflows=[Shout], activities=[shout])]


DURABLE = ServiceDefinition(
    domain="durable",
    service_names=("test.v1.Durable",),
    containers=(),
    register=lambda _server, _resources: None,
    workers=_workers,
)
PLAIN = ServiceDefinition(
    domain="plain",
    service_names=("test.v1.Plain",),
    containers=(),
    register=lambda _server, _resources: None,
)


async def _status(port: int, name: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        return int(reply.status)


async def _until(port: int, name: str, status: int) -> None:
    async def reached() -> bool:
        return await _status(port, name) == status

    await eventually(reached, within=30)


@pytest.fixture
async def durable_host(tmp_path: Path, temporal_server: TemporalDevServer) -> AsyncIterator[Host]:
    settings = host_settings(tmp_path, temporal_url=temporal_server.url)
    async with open_resources(settings, [DURABLE, PLAIN]) as resources:
        host = Host([DURABLE, PLAIN], resources, readiness_interval=0.1)
        await host.start()
        try:
            await host.wait_ready()
            yield host
        finally:
            await host.stop(grace=0)


async def test_the_host_runs_a_service_s_workers(durable_host: Host) -> None:
    client = await durable_host.resources.temporal.client()
    result = await client.execute_workflow(
        Shout.run, "hello", id=workflow_id("org-a", "shout", "1-run"), task_queue=QUEUE
    )
    assert result == "HELLO!"


async def test_the_suite_s_search_attributes_are_registered(durable_host: Host) -> None:
    temporal = durable_host.resources.temporal
    client = await temporal.client()
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=temporal.namespace)
    )
    assert {key.name for key in SEARCH_ATTRIBUTES} <= set(listed.custom_attributes)


async def test_a_list_sees_only_its_organization_and_its_values_cannot_widen_it(
    durable_host: Host,
) -> None:
    client = await durable_host.resources.temporal.client()
    for organization in ("org-list-a", "org-list-b"):
        await client.execute_workflow(
            Shout.run,
            organization,
            id=workflow_id(organization, "shout", "listed"),
            task_queue=QUEUE,
            search_attributes=workflow_search_attributes(organization, definition="greeting"),
        )

    async def ids(query: str) -> list[str]:
        return [w.id async for w in client.list_workflows(query)]

    listed = workflow_query("org-list-a", definition="greeting")

    async def caught_up() -> bool:
        # Visibility is eventually consistent: the list catches up with the starts.
        return len(await ids(listed)) > 0

    await eventually(caught_up, within=30)
    assert await ids(listed) == ["org-list-a/shout/listed"]
    widened = workflow_query("org-list-a", definition="x' OR CoderOrganization = 'org-list-b")
    assert await ids(widened) == []


def test_a_workflow_id_names_its_organization() -> None:
    made = workflow_id("org-1", "run", "r1")
    assert made == "org-1/run/r1"
    assert workflow_owned_by("org-1", made)
    assert not workflow_owned_by("org-12", made)
    with pytest.raises(ValueError, match="has a '/'"):
        workflow_id("org-1/run", "x", "y")


async def test_a_durable_service_waits_for_temporal_while_the_others_serve(
    tmp_path: Path,
) -> None:
    server = TemporalDevServer(tmp_path)  # its port chosen, not yet listening
    settings = host_settings(tmp_path, temporal_url=server.url)
    async with open_resources(settings, [DURABLE, PLAIN]) as resources:
        host = Host([DURABLE, PLAIN], resources, readiness_interval=0.1)
        port = await host.start()
        try:
            serving = health_pb2.HealthCheckResponse.SERVING
            not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
            await _until(port, "test.v1.Plain", serving)
            assert await _status(port, "test.v1.Durable") == not_serving
            assert await _status(port, "") == not_serving
            with server:
                await _until(port, "test.v1.Durable", serving)
                assert await _status(port, "") == serving
                client = await resources.temporal.client()
                result = await client.execute_workflow(
                    Shout.run, "up", id=workflow_id("org-w", "shout", "up"), task_queue=QUEUE
                )
                assert result == "UP!"
            await _until(port, "test.v1.Durable", not_serving)
            assert await _status(port, "test.v1.Plain") == serving
        finally:
            await host.stop(grace=0)
