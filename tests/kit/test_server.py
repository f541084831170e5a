"""The server lifecycle and the interceptor pipeline, over a real grpc.aio server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from coder.ops.v1 import ops_pb2, ops_pb2_grpc
from services.kit import (
    Host,
    KeySource,
    ServiceDefinition,
    Settings,
    SigningKey,
    TokenVerifier,
    jwks,
    open_resources,
)
from services.kit.bus import OUTBOX_INDEXES
from services.kit.store import ContainerSpec


def status_details(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    raise AssertionError("no rich status in the trailers")


def _undeclared(server: grpc.aio.Server, _resources: object) -> None:
    """A handler for a method that exists in no proto, so it can declare no access rule."""

    async def behaviour(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "test.v1.Undeclared",
        {"Call": grpc.unary_unary_rpc_method_handler(behaviour)},
    )
    server.add_generic_rpc_handlers((handler,))


UNDECLARED = ServiceDefinition(
    domain="test", service_names=("test.v1.Undeclared",), containers=(), register=_undeclared
)


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[Host]:
    key = SigningKey.generate()
    settings = Settings(store_url=f"sqlite:///{tmp_path}/kit.db", grace_seconds=1.0)
    verifier = TokenVerifier(KeySource(jwks=jwks([key])), issuer="coder", audience="coder-api")
    async with open_resources(settings, [UNDECLARED], verifier=verifier) as resources:
        host = Host([UNDECLARED], resources, readiness_interval=0.2)
        await host.start()
        await host.wait_ready()
        yield host
        await host.stop(0.5)


@pytest.fixture
async def channel(host: Host) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
        yield channel


class TestHealth:
    async def test_every_hosted_service_serving_once_ready(
        self, host: Host, channel: grpc.aio.Channel
    ) -> None:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ["", *host.service_names]:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, name

    async def test_unknown_service_is_not_found(self, channel: grpc.aio.Channel) -> None:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.Check(health_pb2.HealthCheckRequest(service="nope.v1.Nope"))
        assert error.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_drain_turns_not_serving_before_stopping(self, host: Host) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{host.port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            watch = stub.Watch(health_pb2.HealthCheckRequest(service=""))
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            stopping = asyncio.create_task(host.stop(1.0))
            second = await asyncio.wait_for(watch.read(), 5)
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await stopping


class TestPipeline:
    async def test_public_echo_needs_no_token(self, channel: grpc.aio.Channel) -> None:
        stub = ops_pb2_grpc.OpsServiceStub(channel)
        reply = await stub.Echo(ops_pb2.EchoRequest(message="hi"))
        assert reply.message == "hi"

    async def test_request_id_is_kept_and_echoed(self, channel: grpc.aio.Channel) -> None:
        stub = ops_pb2_grpc.OpsServiceStub(channel)
        call = stub.Echo(ops_pb2.EchoRequest(), metadata=(("x-request-id", "req-123"),))
        await call
        assert ("x-request-id", "req-123") in tuple(await call.trailing_metadata())

    async def test_validation_error_carries_field_violations(
        self, channel: grpc.aio.Channel
    ) -> None:
        stub = ops_pb2_grpc.OpsServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.Echo(ops_pb2.EchoRequest(message="x" * 5000))
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = status_details(error.value)
        bad = error_details_pb2.BadRequest()
        assert any(detail.Unpack(bad) for detail in status.details)
        assert [v.field for v in bad.field_violations] == ["message"]
        assert bad.field_violations[0].reason == "string.max_len"

    async def test_rpc_without_access_rule_is_refused(self, channel: grpc.aio.Channel) -> None:
        call = channel.unary_unary("/test.v1.Undeclared/Call")
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(b"payload")
        assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
        info = error_details_pb2.ErrorInfo()
        assert any(d.Unpack(info) for d in status_details(error.value).details)
        assert info.reason == "ACCESS_UNDECLARED"

    async def test_bad_token_on_public_rpc_is_still_refused(
        self, channel: grpc.aio.Channel
    ) -> None:
        stub = ops_pb2_grpc.OpsServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stub.Echo(ops_pb2.EchoRequest(), metadata=(("authorization", "Bearer x.y.z"),))
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_metrics_count_calls_by_code(self, host: Host, channel: grpc.aio.Channel) -> None:
        stub = ops_pb2_grpc.OpsServiceStub(channel)
        await stub.Echo(ops_pb2.EchoRequest(message="a"))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.Echo(ops_pb2.EchoRequest(message="x" * 5000))
        registry = host.resources.metrics.registry
        labels = {"method": "/coder.ops.v1.OpsService/Echo"}
        ok = registry.get_sample_value("coder_grpc_requests_total", {**labels, "code": "OK"})
        bad = registry.get_sample_value(
            "coder_grpc_requests_total", {**labels, "code": "INVALID_ARGUMENT"}
        )
        assert ok is not None and ok >= 1
        assert bad is not None and bad >= 1


class TestReflection:
    async def test_reflection_lists_hosted_services(
        self, host: Host, channel: grpc.aio.Channel
    ) -> None:
        from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        async for response in responses:
            names = {s.name for s in response.list_services_response.service}
            assert set(host.service_names) <= names
            break


class TestResources:
    async def test_outbox_containers_are_opened_with_the_relay_indexes(
        self, tmp_path: Path
    ) -> None:
        definition = ServiceDefinition(
            domain="test",
            service_names=(),
            containers=(ContainerSpec("things", outbox=True), ContainerSpec("plain")),
            register=lambda _server, _resources: None,
        )
        settings = Settings(store_url=f"sqlite:///{tmp_path}/kit.db")

        async with open_resources(settings, [definition]) as resources:
            things = resources.store.container("things").spec
            plain = resources.store.container("plain").spec
            relay = resources.relay

        assert things.sparse_indexes == OUTBOX_INDEXES
        assert plain.sparse_indexes == ()
        assert relay is not None


class TestBackgroundTasks:
    async def test_a_services_tasks_run_while_it_serves_and_are_cancelled_on_stop(
        self, tmp_path: Path
    ) -> None:
        started = asyncio.Event()
        cancelled = asyncio.Event()
        seen: list[str] = []

        def tasks(resources: object) -> list[object]:
            async def sweep() -> None:
                seen.append(type(resources).__name__)
                started.set()
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    cancelled.set()
                    raise

            return [sweep]

        definition = ServiceDefinition(
            domain="test",
            service_names=("test.v1.Undeclared",),
            containers=(),
            register=_undeclared,
            tasks=tasks,  # type: ignore[arg-type]
        )
        settings = Settings(store_url=f"sqlite:///{tmp_path}/kit.db", grace_seconds=1.0)
        async with open_resources(settings, [definition]) as resources:
            host = Host([definition], resources, readiness_interval=0.2)
            await host.start()
            await asyncio.wait_for(started.wait(), 5)
            assert not cancelled.is_set()
            await host.stop(0)
        assert cancelled.is_set()
        assert seen == ["Resources"]
