"""Server lifecycle: resources opened at start-up, one grpc.aio server hosting one or many
services, health with real readiness, reflection, and a graceful drain on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from coder.ops.v1 import ops_pb2, ops_pb2_grpc
from services.kit._auth import KeySource, TokenVerifier
from services.kit._clients import ServiceChannels
from services.kit._clock import Clock, SystemClock
from services.kit._interceptors import Pipeline, default_interceptors
from services.kit._observability import (
    Metrics,
    MetricsServer,
    Telemetry,
    get_logger,
    process_registry,
)
from services.kit._ops import OpsServicer
from services.kit._peers import Peers, service_key
from services.kit._revocation import Revocations
from services.kit._settings import Settings
from services.kit._temporal import Temporal, TemporalSettings, TemporalWorker
from services.kit.bus import EventBus, OutboxRelay, Subscription, open_bus
from services.kit.cache import CacheBackends, open_cache
from services.kit.store import ContainerSpec, DocumentStore, open_store

_log = get_logger("coder.server")

T = TypeVar("T")


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
    peers: Peers
    revocations: Revocations
    """This process's mirror of revoked sessions and subjects; identity `record`s into it."""
    channels: ServiceChannels = field(default_factory=ServiceChannels)
    relay: OutboxRelay | None = None
    temporal: Temporal = field(default_factory=lambda: Temporal(TemporalSettings()))
    """This process's client of Temporal (durable runs); unconfigured unless
    `CODER_TEMPORAL_URL` says where it is."""
    tracer_provider: trace.TracerProvider = field(default_factory=trace.get_tracer_provider)
    """Where the server spans go: the process's `Telemetry` provider, or the global one."""

    def for_service(self, domain: str) -> Resources:
        """These resources as `domain`'s service sees them: its `peers` act as that service
        (the `act` of its delegated tokens). The host gives each service its own."""
        return dataclasses.replace(self, peers=self.peers.acting_as(domain))


def per_process(build: Callable[[Resources], T]) -> Callable[[Resources], T]:
    """`build`, run once per process: `register`, `subscriptions` and `tasks` each get their
    own view of a process's resources (`Resources.for_service`), and the parts a service's
    servicer, consumers and background loops share (one domain object, one live feed) are
    built once for the store those views have in common."""
    built: list[tuple[DocumentStore, T]] = []

    def shared(resources: Resources) -> T:
        for store, made in built:
            if store is resources.store:
                return made
        made = build(resources)
        built.clear()  # a new store means a new process's resources (tests open several)
        built.append((resources.store, made))
        return made

    return shared


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """What a service package exposes to the runner (its `SERVICE` object).

    `containers` are every container the service stores in (those declared `outbox=True` are
    watched by the process's outbox relay); `register` adds its servicer to a server, wired to
    the process's resources; `subscriptions` are the consumers it runs; `tasks` are the
    background loops it runs while the host serves (a sweep of stored deadlines), started after
    the subscriptions and cancelled first when the host stops; `workers` are its Temporal
    workers (durable workflows and their activities), which the host runs against
    `resources.temporal` — the service is NOT_SERVING while Temporal does not answer.
    """

    domain: str
    service_names: tuple[str, ...]
    containers: tuple[ContainerSpec, ...]
    register: Callable[[grpc.aio.Server, Resources], None]
    subscriptions: Callable[[Resources], Sequence[Subscription]] = field(
        default=lambda _resources: ()
    )
    tasks: Callable[[Resources], Sequence[Callable[[], Coroutine[Any, Any, None]]]] = field(
        default=lambda _resources: ()
    )
    workers: Callable[[Resources], Sequence[TemporalWorker]] = field(default=lambda _resources: ())

    @property
    def outbox_containers(self) -> tuple[str, ...]:
        """The containers that hold the service's outbox."""
        return tuple(spec.name for spec in self.containers if spec.outbox)


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
        domain_audiences=True,
        max_lifetime=settings.token_max_seconds,
    )


@contextlib.asynccontextmanager
async def open_resources(
    settings: Settings,
    definitions: Sequence[ServiceDefinition],
    *,
    clock: Clock | None = None,
    verifier: TokenVerifier | None = None,
    own_target: str | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> AsyncIterator[Resources]:
    """Open the store (declaring every container), bus, caches, the outbox relay, the mirror
    of revocations (which the verifier and the peers' token cache honour) and the channels to
    other services (`own_target`: this process's server, for its own domains). Spans go to
    `tracer_provider` (default: the global one); metrics to a new registry with the process
    collectors."""
    clock = clock or SystemClock()
    store = open_store(settings.resolved_store_url(), clock=clock)
    bus = open_bus(settings.bus_url, settings=settings)
    caches = await open_cache(settings.cache_url, clock=clock)
    revocations = Revocations(
        caches.sets,
        clock=clock,
        retention_seconds=settings.token_max_seconds + settings.jwt_leeway_seconds,
        sync_seconds=settings.revocation_sync_seconds,
    )
    verifier = verifier or token_verifier(settings)
    verifier.honour(revocations)
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
        # Containers declared `outbox=True` index the bus marker sparsely (ContainerSpec).
        await store.open([spec for d in definitions for spec in d.containers])
        await bus.start()
        await revocations.start(bus)
        outbox = [name for d in definitions for name in d.outbox_containers]
        if outbox:
            relay = OutboxRelay(
                store,
                bus,
                outbox,
                poll_seconds=settings.outbox_poll_seconds,
                linger_seconds=settings.outbox_linger_seconds,
                clock=clock,
            )
            await relay.start()
        yield Resources(
            settings=settings,
            clock=clock,
            store=store,
            bus=bus,
            caches=caches,
            verifier=verifier,
            metrics=Metrics(process_registry()),
            peers=Peers(
                channels,
                clock=clock,
                key=service_key(settings.service_key.get_secret_value()),
                deadline_seconds=settings.default_deadline_seconds,
                revocations=revocations,
            ),
            revocations=revocations,
            channels=channels,
            relay=relay,
            temporal=Temporal(settings.temporal()),
            tracer_provider=tracer_provider or trace.get_tracer_provider(),
        )
    finally:
        if relay is not None:
            await relay.stop()
        await revocations.stop()
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
        self._durable: set[str] = set()
        """The service names whose health also needs Temporal (their domain runs workers)."""

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
            tracer_provider=self.resources.tracer_provider,
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
            definition.register(registrar, self.resources.for_service(definition.domain))
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
        # Calls between services hosted here stay on this server (also when bound to port 0).
        bound = self._address.rsplit(":", 1)[0]
        local = "127.0.0.1" if bound in ("0.0.0.0", "[::]", "::", "") else bound  # noqa: S104
        self.resources.channels.serve_locally(
            [d.domain for d in self.definitions], f"{local}:{self.port}"
        )
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.start()
        for definition in self.definitions:
            for subscription in definition.subscriptions(
                self.resources.for_service(definition.domain)
            ):
                await self.resources.bus.subscribe(subscription)
        for definition in self.definitions:
            for task in definition.tasks(self.resources.for_service(definition.domain)):
                name = f"{definition.domain}.{getattr(task, '__name__', 'task')}"
                self._tasks.append(asyncio.create_task(task(), name=name))
        workers: list[TemporalWorker] = []
        for definition in self.definitions:
            declared = definition.workers(self.resources.for_service(definition.domain))
            if declared:
                workers += declared
                self._durable.update(definition.service_names)
        if workers:
            run = self.resources.temporal.run_workers(workers)
            self._tasks.append(asyncio.create_task(run, name="temporal.workers"))
        self._tasks.append(asyncio.create_task(self._watch_readiness()))
        return self.port

    async def wait_ready(self, within_seconds: float = 30.0) -> None:
        """Return once every dependency answered; TimeoutError after `within_seconds`."""
        await asyncio.wait_for(self._ready.wait(), within_seconds)

    async def _set_all(self, status: Any) -> None:
        await self.health.set("", status)
        for name in self.service_names:
            await self.health.set(name, status)

    async def _dependencies_ok(self) -> tuple[bool, bool]:
        """Whether the store, bus, cache and revocations answer; and Temporal, when a hosted
        service runs workers (True otherwise)."""
        checks = [
            self.resources.store.ping(),
            self.resources.bus.ping(),
            self.resources.caches.cache.ping(),
            self.resources.revocations.ping(),
        ]
        if self._durable:
            checks.append(self.resources.temporal.ready())
        results = await asyncio.gather(*checks, return_exceptions=True)
        for failure in results:
            if isinstance(failure, BaseException):
                _log.warning("readiness.failed", error=repr(failure))
        base = not any(isinstance(r, BaseException) for r in results[:4])
        durable = not self._durable or not isinstance(results[-1], BaseException)
        return base, durable

    async def _watch_readiness(self) -> None:
        serving: tuple[bool, bool] | None = None
        while True:
            base, durable = await self._dependencies_ok()
            if (base, durable) != serving:
                up, down = (
                    health_pb2.HealthCheckResponse.SERVING,
                    (health_pb2.HealthCheckResponse.NOT_SERVING),
                )
                # "" is the whole process: serving only when every hosted service is.
                await self.health.set("", up if base and durable else down)
                for name in self.service_names:
                    ok = base and (durable or name not in self._durable)
                    await self.health.set(name, up if ok else down)
                serving = (base, durable)
                _log.info(
                    "health",
                    serving=base and durable,
                    temporal=durable,
                    services=len(self.service_names),
                )
            if base and durable:
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
    telemetry: Telemetry | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then drain gracefully (companions first, then the host).

    Serves the metrics registry on `settings.metrics_port` when set. `telemetry` (owned by
    `serve` from then on) receives the server spans and pushes the metrics when configured to;
    it is flushed and shut down last, so the spans of the drained calls still leave.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    own = f"{settings.host}:{port}"
    provider = telemetry.tracer_provider if telemetry is not None else None
    try:
        async with open_resources(
            settings, definitions, own_target=own, tracer_provider=provider
        ) as resources:
            await _run_host(definitions, resources, port, stop, on_started, companions, telemetry)
    finally:
        if telemetry is not None:
            await asyncio.to_thread(telemetry.shutdown)


async def _run_host(
    definitions: Sequence[ServiceDefinition],
    resources: Resources,
    port: int,
    stop: asyncio.Event,
    on_started: Callable[[Host], Awaitable[None] | None] | None,
    companions: Sequence[Companion],
    telemetry: Telemetry | None,
) -> None:
    settings = resources.settings
    host = Host(definitions, resources, host=settings.host, port=port)
    await host.start()
    metrics: MetricsServer | None = None
    started_companions: list[Companion] = []

    async def start_companions() -> None:
        for companion in companions:
            # Counted before it has started, so one cut short by a stop is stopped too.
            started_companions.append(companion)
            await companion.start(host)
        if on_started is not None:
            started = on_started(host)
            if started is not None:
                await started

    try:
        if settings.metrics_port is not None:
            metrics = MetricsServer(
                resources.metrics.registry, host=settings.host, port=settings.metrics_port
            )
            metrics.start()
        if telemetry is not None:
            telemetry.push_metrics(resources.metrics.registry)
        # A stop during start-up (a companion waiting for its health) wins at once.
        starting = asyncio.create_task(start_companions())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a companion that failed to start fails the run
            await stopping
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        _log.info("draining", grace_seconds=settings.grace_seconds)
    finally:
        for companion in reversed(started_companions):
            await companion.stop()
        await host.stop()
        if metrics is not None:
            await metrics.stop()
