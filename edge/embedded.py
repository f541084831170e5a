"""The edge as a companion of the gRPC host in one process (`coder dev`)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator

import uvicorn

from edge.app import create_app
from edge.settings import EdgeSettings
from services.kit import Host


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _SharedLoopServer(uvicorn.Server):
    """uvicorn without its own signal handling: the host process owns SIGTERM/SIGINT and
    stops the edge before draining gRPC."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EmbeddedEdge:
    """Serves the edge on uvicorn in the host's event loop, every domain routed to the host."""

    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self._server: _SharedLoopServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self._settings.host}:{self._settings.port}"

    async def start(self, host: Host) -> None:
        update: dict[str, object] = {"grpc_target": f"{host.resources.settings.host}:{host.port}"}
        if "cookie_secure" not in self._settings.model_fields_set and _loopback(
            self._settings.host
        ):
            # Plain http on this machine: a Secure cookie would never come back over http.
            update["cookie_secure"] = False
        settings = self._settings.model_copy(update=update)
        config = uvicorn.Config(
            # One process, one telemetry: the host's tracer provider and metrics registry, so
            # the edge's `/metrics` is the whole process's scrape target.
            create_app(
                settings,
                tracer_provider=host.resources.tracer_provider,
                metrics_registry=host.resources.metrics.registry,
            ),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = _SharedLoopServer(config)
        self._task = asyncio.create_task(self._server.serve(), name="edge")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"the edge stopped while starting on {self.url}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = self._task = None
