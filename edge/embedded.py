"""The edge as a companion of the gRPC host in one process (`coder dev`)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator

import uvicorn

from edge.app import create_app
from edge.server import server_config
from edge.settings import EdgeSettings
from services.kit import Host


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def dev_cookies_insecure(settings: EdgeSettings) -> bool:
    """The rule of `coder dev` for the auth cookies' `Secure` flag: dropped when
    `CODER_EDGE_COOKIE_SECURE` is not set and the edge listens on a loopback address
    (127.0.0.0/8, ::1, localhost), since a browser there speaks plain http and would never
    send a Secure cookie back; kept in every other case, and always under `coder edge`."""
    return "cookie_secure" not in settings.model_fields_set and _loopback(settings.host)


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
        if dev_cookies_insecure(self._settings):
            update["cookie_secure"] = False
        settings = self._settings.model_copy(update=update)
        config = server_config(
            # One process, one telemetry: the host's tracer provider and metrics registry, so
            # the edge's `/metrics` is the whole process's scrape target.
            create_app(
                settings,
                tracer_provider=host.resources.tracer_provider,
                metrics_registry=host.resources.metrics.registry,
            ),
            settings,
            log_level="warning",
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
