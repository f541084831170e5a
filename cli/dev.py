"""`coder dev`: every implemented service in one process on one port, the edge beside it, the
supervised companion processes (cli/companions.py) after them, and on the first run a
development organization with its owner account."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

if TYPE_CHECKING:
    from edge.settings import EdgeSettings

from cli.companions import CompanionsError, DevSettings, DevUrls, companions
from cli.supervisor import CompanionMissing, State, Supervisor
from services import catalog
from services.kit import (
    EMBEDDED_GRPC_PORT,
    Host,
    ServiceDefinition,
    Settings,
    configure_logging,
    configure_telemetry,
    serve,
)

DEV_OWNER_EMAIL = "owner@coder.localhost"
DEV_ORGANIZATION = "Development"


def announce(host: Host, settings: Settings) -> None:
    """Print what the gRPC host serves and where."""
    address = f"{settings.host}:{host.port}"
    lines = [
        "",
        f"coder: gRPC listening on {address} (store {settings.resolved_store_url()}, "
        f"bus {settings.bus_url}, cache {settings.cache_url})",
    ]
    lines += [f"  - {name}" for name in host.service_names]
    lines += ["  health:  coder health --target " + address]
    if settings.metrics_port is not None:
        lines += [f"  metrics: http://{settings.host}:{settings.metrics_port}/metrics"]
    lines += [""]
    print("\n".join(lines), flush=True)


async def _bootstrap_dev_account(host: Host, settings: Settings, edge_url: str) -> None:
    """On the first run, create the development organization and its owner with a generated
    password, shown once; later runs say who to sign in as."""
    marker = settings.data_dir / "dev-account.json"
    address = f"{settings.host}:{host.port}"
    if marker.exists():
        account = json.loads(marker.read_text())
        print(
            f"coder: sign in as {account['email']} (password shown on the first run; "
            f"delete {settings.data_dir} to start over):\n"
            f"  coder login --target {address} --email {account['email']}\n"
            f'  or POST {edge_url}/auth/login {{"email": ..., "password": ...}}\n',
            flush=True,
        )
        return
    from coder.identity.v1 import identity_service_pb2 as identity
    from coder.identity.v1 import identity_service_pb2_grpc

    await host.wait_ready()
    password = secrets.token_urlsafe(15)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        reply = await stub.Register(
            identity.RegisterRequest(
                email=DEV_OWNER_EMAIL,
                password=password,
                display_name="Development Owner",
                organization_name=DEV_ORGANIZATION,
                device_label="coder dev bootstrap",
            ),
            timeout=30,
        )
    account = {"email": DEV_OWNER_EMAIL, "organizationId": reply.result.organization_id}
    marker.write_text(json.dumps(account))
    print(
        f"coder: first run: created organization {DEV_ORGANIZATION!r} "
        f"({reply.result.organization_id}) and its owner\n"
        f"  email:    {DEV_OWNER_EMAIL}\n"
        f"  password: {password}   (shown once; delete {settings.data_dir} to start over)\n"
        f"  coder login --target {address} --email {DEV_OWNER_EMAIL}\n"
        f'  or POST {edge_url}/auth/login {{"email": ..., "password": ...}}\n',
        flush=True,
    )


async def _started(
    host: Host,
    definitions: list[ServiceDefinition],
    settings: Settings,
    edge_url: str,
    supervisor: Supervisor,
    ui_url: str,
) -> None:
    announce(host, settings)
    print(
        f"coder: edge (REST, SSE, WebSocket, OpenAPI) on {edge_url}  docs: {edge_url}/docs\n",
        flush=True,
    )
    if supervisor.companions:
        print("\n".join(["coder: companions", *supervisor.banner(), ""]), flush=True)
    else:
        print("coder: no companions (add your own with CODER_DEV_COMPANIONS)\n", flush=True)
    if any(d.domain == "identity" for d in definitions):
        await _bootstrap_dev_account(host, settings, edge_url)
    print(_open_line(supervisor, ui_url), flush=True)


def _open_line(supervisor: Supervisor, ui_url: str) -> str:
    """The last line of the banner: the URL to open, or why the web UI is not there."""
    ui = next((c for c in supervisor.companions if c.spec.name == "ui"), None)
    if ui is not None and ui.status.state is State.RUNNING:
        return f"coder: open {ui_url} in a browser and sign in\n"
    why = ui.status.detail if ui is not None else "not declared"
    return (
        f"coder: the web UI is not running ({why}); build it with `make ui-build` "
        "(or run `make dev`, which does)\n"
    )


def _edge_beside_the_ui(edge_settings: EdgeSettings, urls: DevUrls) -> EdgeSettings:
    """The edge's settings for the web UI beside it, where the environment says nothing else:
    the UI's origin may call it from the browser (CORS) and an OIDC sign-in ends on the UI."""
    given = edge_settings.model_fields_set
    update: dict[str, object] = {}
    if "cors_origins" not in given:
        update["cors_origins"] = f"{urls.ui_url},http://localhost:{urls.ui_port}"
    if "ui_url" not in given:
        update["ui_url"] = urls.ui_url
    return edge_settings.model_copy(update=update)


def dev_command(options: argparse.Namespace) -> int:
    """Run the suite embedded until SIGTERM/SIGINT, then stop the companions (last started
    first), the edge, and drain. Exit 2 when a companion is misdeclared or a required one
    cannot start."""
    settings = Settings()
    if options.data_dir:
        settings = settings.model_copy(update={"data_dir": Path(options.data_dir)})
    # Imported here: the edge (FastAPI, uvicorn) is only needed by this command.
    from edge.embedded import EmbeddedEdge
    from edge.settings import EdgeSettings

    edge_settings = EdgeSettings()
    if options.edge_port is not None:
        edge_settings = edge_settings.model_copy(update={"port": options.edge_port})
    dev = DevSettings()
    urls = DevUrls(
        f"http://{edge_settings.host}:{edge_settings.port}", dev.ui_port, dev.temporal_port
    )
    edge_settings = _edge_beside_the_ui(edge_settings, urls)
    try:
        supervisor = Supervisor(companions(settings, dev, urls))
        supervisor.check()
        if not settings.temporal_url:  # the services use the dev server supervised beside them
            settings = settings.model_copy(update={"temporal_url": urls.temporal_url})
    except (CompanionsError, CompanionMissing) as error:
        print(f"coder: {error}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level, settings.log_format)
    telemetry = configure_telemetry("coder-dev", environment=settings.deployment_environment)
    definitions = catalog.load_all()
    port = options.port or settings.grpc_port or EMBEDDED_GRPC_PORT
    edge = EmbeddedEdge(edge_settings)
    try:
        asyncio.run(
            serve(
                definitions,
                settings,
                port=port,
                on_started=lambda host: _started(
                    host, definitions, settings, edge.url, supervisor, urls.ui_url
                ),
                companions=[edge, supervisor],
                telemetry=telemetry,
            )
        )
    except CompanionMissing as error:
        print(f"coder: {error}", file=sys.stderr)
        return 2
    return 0
