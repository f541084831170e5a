"""Server lifecycle: resources opened at start-up, one grpc.aio server hosting one or many
services, health with real readiness, reflection, and a graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from coder.ops.v1 import ops_pb2, ops_pb2_grpc
from services.kit._auth import KeySource, TokenVerifier
from services.kit._clients import ServiceChannels
from services.kit._clock import Clock, SystemClock
from services.kit._interceptors import Pipeline, default_interceptors
from services.kit._observability import Metrics, get_logger
from services.kit._ops import OpsServicer
from services.kit._settings import Settings
from services.kit.bus import EventBus, OutboxRelay, Subscription, open_bus, with_outbox
from services.kit.cache import CacheBackends, open_cache
from services.kit.store import ContainerSpec, DocumentStore, open_store

_log = get_logger("coder.server")


@dataclass(slots=True)
class Resources:
    """Everything a service needs at run time, opened once per process and passed in."""

    settings: Settings
    clock: Clock
    store: DocumentStore
    bus: EventBus
    caches: CacheBackends
    verifier: TokenVerifier | None
    metrics: Metrics
    channels: ServiceChannels = field(default_factory=ServiceChannels)
    relay: OutboxRelay | None = None


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """What a service package exposes to the runner (its `SERVICE` object)."""

    domain: str
    service_names: tuple[str, ...]
    containers: tuple[ContainerSpec, ...]
    register: Callable[[grpc.aio.Server, Resources], None]
    subscriptions: Callable[[Resources], Sequence[Subscription]] = field(
        default=lambda _resources: ()
    )
    outbox_containers: tuple[str, ...] = ()


def token_verifier(settings: Settings) -> TokenVerifier:
    """The access-token verifier the settings describe. Without a JWKS URL or file it starts
    with no keys: an in-process issuer (the identity service, when hosted here) attaches its
    key ring at registration, and otherwise every token is refused."""
    if settings.jwks_url:
        keys = KeySource(url=settings.jwks_url)
    elif settings.jwks_file is not None:
        keys = KeySource(path=settings.jwks_file)
    else:
        keys = KeySource(jwks={"keys": []})
    return TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
    )


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings,
    definitions: Sequence[ServiceDefinition],
    *,
    clock: Clock | None = None,
    verifier: TokenVerifier | None = None,
    own_target: str | None = None,
) -> AsyncIterator[Resources]:
    """Open the store (declaring every container), bus, caches, the outbox relay and the
    channels to other services (`own_target`: this process's server, for its own domains)."""
    clock = clock or SystemClock()
    store = open_store(settings.resolved_store_url(), clock=clock)
    bus = open_bus(settings.bus_url, settings=settings)
    caches = await open_cache(settings.cache_url, clock=clock)
    relay: OutboxRelay | None = None
    targets = ServiceChannels.parse_targets(settings.peers)
    if own_target is not None:
        targets.update({d.domain: own_target for d in definitions})
    channels = ServiceChannels(
        targets=targets,
        default_host=settings.peer_host,
        max_message_bytes=settings.max_message_bytes,
    )
    try:
        outbox = [name for d in definitions for name in d.outbox_containers]
        await store.open(
            [
                with_outbox(spec) if spec.name in outbox else spec
                for d in definitions
                for spec in d.containers
            ]
        )
        await bus.start()
        if outbox:
            relay = OutboxRelay(
                store, bus, outbox, poll_seconds=settings.outbox_poll_seconds, clock=clock
            )
            await relay.start()
        yield Resources(
            settings=settings,
            clock=clock,
            store=store,
            bus=bus,
            caches=caches,
            verifier=verifier or token_verifier(settings),
            metrics=Metrics(),
            channels=channels,
            relay=relay,
        )
    finally:
        if relay is not None:
            await relay.stop()
        await channels.close()
        await bus.close()
        await caches.close()
        await store.close()


class Host:
    """One gRPC server hosting the given services on one port."""

    def __init__(
        self,
        definitions: Sequence[ServiceDefinition],
        resources: Resources,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        readiness_interval: float = 2.0,
    ) -> None:
        self.definitions = list(definitions)
        self.resources = resources
        self._address = f"{host}:{port}"
        self._readiness_interval = readiness_interval
        self.health = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    @property
    def service_names(self) -> list[str]:
        names = [ops_pb2.DESCRIPTOR.services_by_name["OpsService"].full_name]
        return names + [name for d in self.definitions for name in d.service_names]

    def _build(self) -> grpc.aio.Server:
        settings = self.resources.settings
        interceptors = default_interceptors(
            verifier=self.resources.verifier,
            metrics=self.resources.metrics,
            default_deadline=settings.default_deadline_seconds,
        )
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                ("grpc.keepalive_time_ms", settings.keepalive_time_ms),
                ("grpc.keepalive_timeout_ms", settings.keepalive_timeout_ms),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.so_reuseport", 0),
            ],
        )
        # gRPC's own health and reflection services are public by policy (their protos are not
        # ours, so they carry no access rule) and go to the server directly; everything else
        # registers through the pipeline, which refuses a method that declares no access rule.
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        registrar = Pipeline(interceptors).registrar(server)
        ops_pb2_grpc.add_OpsServiceServicer_to_server(OpsServicer(), registrar)
        for definition in self.definitions:
            definition.register(registrar, self.resources)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        return server

    async def start(self) -> int:
        """Bind, start serving (health NOT_SERVING until ready), start consumers."""
        self.server = self._build()
        self.port = self.server.add_insecure_port(self._address)
        if self.port == 0:
            raise OSError(f"cannot bind {self._address}")
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        for definition in self.definitions:
            for subscription in definition.subscriptions(self.resources):
                await self.resources.bus.subscribe(subscription)
        self._tasks.append(asyncio.create_task(self._watch_readiness()))
        return self.port

    async def wait_ready(self, within_seconds: float = 30.0) -> None:
        """Return once every dependency answered; TimeoutError after `within_seconds`."""
        await asyncio.wait_for(self._ready.wait(), within_seconds)

    async def _set_all(self, status: Any) -> None:
        await self.health.set("", status)
        for name in self.service_names:
            await self.health.set(name, status)

    async def _dependencies_ok(self) -> bool:
        checks = (
            self.resources.store.ping(),
            self.resources.bus.ping(),
            self.resources.caches.cache.ping(),
        )
        results = await asyncio.gather(*checks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            _log.warning("readiness.failed", error=repr(failure))
        return not failures

    async def _watch_readiness(self) -> None:
        serving: bool | None = None
        while True:
            ok = await self._dependencies_ok()
            if ok != serving:
                status = (
                    health_pb2.HealthCheckResponse.SERVING
                    if ok
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                await self._set_all(status)
                serving = ok
                _log.info("health", serving=ok, services=len(self.service_names))
            if ok:
                self._ready.set()
            else:
                self._ready.clear()
            await asyncio.sleep(self._readiness_interval)

    async def stop(self, grace: float | None = None) -> None:
        """Drain: health NOT_SERVING first (load balancers stop sending), then stop with grace."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.health.enter_graceful_shutdown()
        if self.server is not None:
            grace = self.resources.settings.grace_seconds if grace is None else grace
            await self.server.stop(grace)


class Companion(Protocol):
    """Something that runs beside the gRPC host in the same process (the edge in `coder dev`):
    started once the host serves, stopped before the host drains."""

    async def start(self, host: Host) -> None: ...

    async def stop(self) -> None: ...


async def serve(
    definitions: Sequence[ServiceDefinition],
    settings: Settings,
    *,
    port: int,
    on_started: Callable[[Host], Awaitable[None] | None] | None = None,
    companions: Sequence[Companion] = (),
) -> None:
    """Run until SIGTERM or SIGINT, then drain gracefully (companions first, then the host)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    own = f"{settings.host}:{port}"
    async with open_resources(settings, definitions, own_target=own) as resources:
        host = Host(definitions, resources, host=settings.host, port=port)
        await host.start()
        started_companions: list[Companion] = []
        try:
            for companion in companions:
                await companion.start(host)
                started_companions.append(companion)
            if on_started is not None:
                started = on_started(host)
                if started is not None:
                    await started
            await stop.wait()
            _log.info("draining", grace_seconds=settings.grace_seconds)
        finally:
            for companion in reversed(started_companions):
                await companion.stop()
            await host.stop()
