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

import grpc

from cli.companions import CompanionsError, companions
from cli.supervisor import CompanionMissing, Supervisor
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


def dev_command(options: argparse.Namespace) -> int:
    """Run the suite embedded until SIGTERM/SIGINT, then stop the companions (last started
    first), the edge, and drain. Exit 2 when a companion is misdeclared or a required one
    cannot start."""
    settings = Settings()
    if options.data_dir:
        settings = settings.model_copy(update={"data_dir": Path(options.data_dir)})
    try:
        supervisor = Supervisor(companions(settings))
        supervisor.check()
    except (CompanionsError, CompanionMissing) as error:
        print(f"coder: {error}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level, settings.log_format)
    telemetry = configure_telemetry("coder-dev", environment=settings.deployment_environment)
    definitions = catalog.load_all()
    port = options.port or settings.grpc_port or EMBEDDED_GRPC_PORT
    # Imported here: the edge (FastAPI, uvicorn) is only needed by this command.
    from edge.embedded import EmbeddedEdge
    from edge.settings import EdgeSettings

    edge_settings = EdgeSettings()
    if options.edge_port is not None:
        edge_settings = edge_settings.model_copy(update={"port": options.edge_port})
    edge = EmbeddedEdge(edge_settings)
    try:
        asyncio.run(
            serve(
                definitions,
                settings,
                port=port,
                on_started=lambda host: _started(host, definitions, settings, edge.url, supervisor),
                companions=[edge, supervisor],
                telemetry=telemetry,
            )
        )
    except CompanionMissing as error:
        print(f"coder: {error}", file=sys.stderr)
        return 2
    return 0
