"""Outgoing calls carry the caller's token, request id, trace context and remaining budget;
the deadline interceptor gives every incoming call a budget and enforces it."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider

from services.kit import AccessRule, DeadlineExceeded, ServiceChannels
from services.kit._context import CallState, remaining_time, set_call
from services.kit._interceptors import DeadlineInterceptor, MethodInfo

PROBE = "/probe.v1.Probe/Call"


class Probe:
    """A bare server that records what each call arrived with."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        self.time_remaining: float | None = None

    async def call(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.metadata = dict(context.invocation_metadata() or ())
        self.time_remaining = context.time_remaining()
        return request


@pytest.fixture
async def probe() -> AsyncIterator[tuple[Probe, int]]:
    recorder = Probe()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "probe.v1.Probe", {"Call": grpc.unary_unary_rpc_method_handler(recorder.call)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield recorder, port
    await server.stop(0)


async def in_call(state: CallState, work: Any) -> Any:
    """Run `work()` in a fresh context holding `state`, as a handler would."""

    async def run() -> Any:
        set_call(state)
        return await work()

    return await asyncio.create_task(run(), context=contextvars.copy_context())


class TestPropagation:
    async def test_token_request_id_and_remaining_budget_are_passed_on(
        self, probe: tuple[Probe, int]
    ) -> None:
        recorder, port = probe
        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        call = channels.channel("planning").unary_unary(PROBE)
        loop = asyncio.get_running_loop()
        state = CallState(
            method="/x/y",
            request_id="req-42",
            metadata={"authorization": "Bearer caller-token"},
            deadline=loop.time() + 2.0,
        )
        assert await in_call(state, lambda: call(b"hello")) == b"hello"
        await channels.close()
        assert recorder.metadata["authorization"] == "Bearer caller-token"
        assert recorder.metadata["x-request-id"] == "req-42"
        assert recorder.time_remaining is not None
        assert 1.0 < recorder.time_remaining <= 2.0

    async def test_an_explicit_shorter_timeout_wins(self, probe: tuple[Probe, int]) -> None:
        recorder, port = probe
        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        call = channels.channel("planning").unary_unary(PROBE)
        state = CallState("/x/y", "r", deadline=asyncio.get_running_loop().time() + 30)
        await in_call(state, lambda: call(b"x", timeout=0.5))
        await channels.close()
        assert recorder.time_remaining is not None
        assert recorder.time_remaining <= 0.51  # the server rounds the grpc-timeout it reads

    async def test_a_spent_budget_refuses_before_calling(self, probe: tuple[Probe, int]) -> None:
        recorder, port = probe
        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        call = channels.channel("planning").unary_unary(PROBE)
        state = CallState("/x/y", "r", deadline=asyncio.get_running_loop().time() - 1)
        with pytest.raises(DeadlineExceeded):
            await in_call(state, lambda: call(b"x"))
        await channels.close()
        assert recorder.metadata == {}

    async def test_the_current_span_becomes_the_callees_parent(
        self, probe: tuple[Probe, int]
    ) -> None:
        recorder, port = probe
        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        call = channels.channel("planning").unary_unary(PROBE)
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("caller's server span") as span:
            await in_call(CallState("/x/y", "r"), lambda: call(b"x"))
            context = span.get_span_context()
        await channels.close()
        _, trace_id, parent_id, _ = recorder.metadata["traceparent"].split("-")
        assert trace_id == format(context.trace_id, "032x")
        assert parent_id == format(context.span_id, "016x")

    async def test_outside_a_call_nothing_is_added(self, probe: tuple[Probe, int]) -> None:
        recorder, port = probe
        channels = ServiceChannels(targets={"planning": f"127.0.0.1:{port}"})
        await channels.channel("planning").unary_unary(PROBE)(b"x")
        await channels.close()
        assert "authorization" not in recorder.metadata
        assert recorder.time_remaining is None


class TestWithoutPropagation:
    async def test_nothing_of_the_call_is_added(self, probe: tuple[Probe, int]) -> None:
        recorder, port = probe
        channels = ServiceChannels(every_domain_to=f"127.0.0.1:{port}", propagate=False)
        call = channels.channel("identity").unary_unary(PROBE)
        state = CallState(
            "/x/y",
            "req-9",
            metadata={"authorization": "Bearer caller-token"},
            deadline=asyncio.get_running_loop().time() + 2,
        )
        await in_call(state, lambda: call(b"x"))
        await channels.close()
        assert "authorization" not in recorder.metadata
        assert recorder.time_remaining is None


class TestTargets:
    def test_every_domain_can_go_to_one_embedded_server(self) -> None:
        channels = ServiceChannels(targets={"ai": "ai:1"}, every_domain_to="127.0.0.1:50051")
        assert channels.target("planning") == "127.0.0.1:50051"
        assert channels.target("ai") == "ai:1"

    def test_unlisted_domain_goes_to_its_registry_port(self) -> None:
        channels = ServiceChannels(default_host="planning.internal")
        assert channels.target("planning") == "planning.internal:3007"

    def test_peers_parse_and_refuse_unknown_domains(self) -> None:
        assert ServiceChannels.parse_targets('{"ai": "ai:3006"}') == {"ai": "ai:3006"}
        assert ServiceChannels.parse_targets("") == {}
        with pytest.raises(KeyError):
            ServiceChannels.parse_targets('{"nope": "x:1"}')
        with pytest.raises(ValueError, match="JSON object"):
            ServiceChannels.parse_targets('["ai"]')


class FakeContext:
    def __init__(self, remaining: float | None) -> None:
        self._remaining = remaining

    def time_remaining(self) -> float | None:
        return self._remaining


class TestDeadlineInterceptor:
    INFO = MethodInfo("/x/y", "x", "y", AccessRule(public=True, declared=True))

    async def test_caller_deadline_becomes_the_budget(self) -> None:
        seen: list[float | None] = []

        async def handler(request: Any, context: Any) -> str:
            seen.append(remaining_time())
            return "ok"

        wrapped = DeadlineInterceptor(30).wrap_unary(self.INFO, handler)
        state = CallState("/x/y", "r")
        assert await in_call(state, lambda: wrapped(None, FakeContext(1.5))) == "ok"
        assert seen[0] is not None
        assert 1.0 < seen[0] <= 1.5

    async def test_a_call_past_its_budget_is_cut(self) -> None:
        async def slow(request: Any, context: Any) -> str:
            await asyncio.sleep(5)
            return "late"

        wrapped = DeadlineInterceptor(30).wrap_unary(self.INFO, slow)
        with pytest.raises(DeadlineExceeded):
            await in_call(CallState("/x/y", "r"), lambda: wrapped(None, FakeContext(0.1)))

    async def test_a_call_without_deadline_gets_the_default(self) -> None:
        seen: list[float | None] = []

        async def handler(request: Any, context: Any) -> None:
            seen.append(remaining_time())

        wrapped = DeadlineInterceptor(7).wrap_unary(self.INFO, handler)
        await in_call(CallState("/x/y", "r"), lambda: wrapped(None, FakeContext(None)))
        assert seen[0] is not None
        assert 6.0 < seen[0] <= 7.0
