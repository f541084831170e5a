"""`coder`: run the suite embedded (`coder dev`), run one service (`coder serve <domain>`) or
the edge (`coder edge`), check health (`coder health`), sign in and print an access token
(`coder login`), write the Envoy front proxy's config (`coder envoy-config`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import secrets
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services import catalog
from services.kit import (
    EMBEDDED_GRPC_PORT,
    ENVOY_ADMIN_PORT,
    ENVOY_PORT,
    Host,
    ServiceDefinition,
    Settings,
    configure_logging,
    configure_telemetry,
    domain,
    serve,
)

DEV_OWNER_EMAIL = "owner@coder.localhost"
DEV_ORGANIZATION = "Development"


def _announce(host: Host, definitions: list[ServiceDefinition], settings: Settings) -> None:
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


def _dev(options: argparse.Namespace) -> int:
    settings = Settings()
    if options.data_dir:
        settings = settings.model_copy(update={"data_dir": Path(options.data_dir)})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level, settings.log_format)
    telemetry = configure_telemetry("coder-dev", environment=settings.deployment_environment)
    definitions = catalog.load_all()
    port = options.port or settings.grpc_port or EMBEDDED_GRPC_PORT
    from edge.embedded import EmbeddedEdge
    from edge.settings import EdgeSettings

    edge_settings = EdgeSettings()
    if options.edge_port is not None:
        edge_settings = edge_settings.model_copy(update={"port": options.edge_port})
    edge = EmbeddedEdge(edge_settings)
    asyncio.run(
        serve(
            definitions,
            settings,
            port=port,
            on_started=lambda host: _started_dev(host, definitions, settings, edge.url),
            companions=[edge],
            telemetry=telemetry,
        )
    )
    return 0


def _edge(options: argparse.Namespace) -> int:
    from edge import EdgeSettings, run

    settings = EdgeSettings()
    if options.port is not None:
        settings = settings.model_copy(update={"port": options.port})
    kit = Settings()
    configure_logging(kit.log_level, kit.log_format)
    run(
        settings,
        telemetry=configure_telemetry("coder-edge", environment=kit.deployment_environment),
    )
    return 0


async def _started_dev(
    host: Host, definitions: list[ServiceDefinition], settings: Settings, edge_url: str
) -> None:
    _announce(host, definitions, settings)
    print(
        f"coder: edge (REST, SSE, WebSocket, OpenAPI) on {edge_url}  docs: {edge_url}/docs\n",
        flush=True,
    )
    if any(d.domain == "identity" for d in definitions):
        await _bootstrap_dev_account(host, settings, edge_url)


def _serve(options: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    telemetry = configure_telemetry(
        f"coder-{options.domain}", environment=settings.deployment_environment
    )
    definition = catalog.load(options.domain)
    port = options.port or settings.grpc_port or domain(options.domain).port
    asyncio.run(
        serve(
            [definition],
            settings,
            port=port,
            on_started=lambda host: _announce(host, [definition], settings),
            telemetry=telemetry,
        )
    )
    return 0


async def _check(target: str, names: list[str], wait: float) -> bool:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            statuses: dict[str, str] = {}
            for name in names:
                try:
                    reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
                    statuses[name] = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
                except grpc.aio.AioRpcError as error:
                    statuses[name] = error.code().name
            healthy = all(status == "SERVING" for status in statuses.values())
            if healthy or asyncio.get_running_loop().time() >= deadline:
                for name, status in statuses.items():
                    print(f"{name or '(server)'}: {status}")
                return healthy
            await asyncio.sleep(0.5)


def _health(options: argparse.Namespace) -> int:
    names = ["", "coder.ops.v1.OpsService"]
    for definition in catalog.load_all():
        if options.domain in (None, definition.domain):
            names += list(definition.service_names)
    target = options.target or f"127.0.0.1:{EMBEDDED_GRPC_PORT}"
    return 0 if asyncio.run(_check(target, names, options.wait)) else 1


async def _login(target: str, email: str, password: str, organization_id: str) -> str:
    from coder.identity.v1 import identity_service_pb2 as identity
    from coder.identity.v1 import identity_service_pb2_grpc

    async with grpc.aio.insecure_channel(target) as channel:
        stub = identity_service_pb2_grpc.IdentityServiceStub(channel)
        reply = await stub.Login(
            identity.LoginRequest(
                email=email,
                password=password,
                organization_id=organization_id,
                device_label="coder login",
            ),
            timeout=30,
        )
    return str(reply.result.access_token)


def _login_command(options: argparse.Namespace) -> int:
    if options.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {options.email}: ")
    target = options.target or f"127.0.0.1:{EMBEDDED_GRPC_PORT}"
    try:
        token = asyncio.run(_login(target, options.email, password, options.org or ""))
    except grpc.aio.AioRpcError as error:
        print(f"coder: sign-in refused: {error.details()}", file=sys.stderr)
        return 1
    print(token)
    return 0


def _envoy_config(options: argparse.Namespace) -> int:
    from services import deploy

    defaults = deploy.EnvoyOptions()
    config = deploy.EnvoyOptions(
        listen_address=options.listen_address or defaults.listen_address,
        listen_port=options.listen_port,
        admin_port=options.admin_port,
        upstream_host=options.upstream_host,
        embedded_port=options.embedded_port,
        edge_url=options.edge_url or defaults.edge_url,
        ui_url=options.ui_url or defaults.ui_url,
        descriptor=Path(options.descriptor),
        rate_limit=options.rate_limit,
        api_timeout_seconds=options.api_timeout,
    )
    print(f"coder: wrote {deploy.write(config, Path(options.output))}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="coder", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run every implemented service in one process")
    dev.add_argument("--port", type=int, help=f"gRPC port (default {EMBEDDED_GRPC_PORT})")
    dev.add_argument("--data-dir", help="embedded state directory (default .coder)")
    dev.add_argument("--edge-port", type=int, help="edge HTTP port (default 3001)")
    dev.set_defaults(run=_dev)

    edge = commands.add_parser("edge", help="run the FastAPI edge (REST, SSE, WebSocket)")
    edge.add_argument("--port", type=int, help="HTTP port (default 3001)")
    edge.set_defaults(run=_edge)

    one = commands.add_parser("serve", help="run one service on the configured backends")
    one.add_argument("domain", choices=sorted(catalog.IMPLEMENTED))
    one.add_argument("--port", type=int, help="gRPC port (default: the registry's)")
    one.set_defaults(run=_serve)

    check = commands.add_parser("health", help="check gRPC health of the running services")
    check.add_argument("--target", help=f"host:port (default 127.0.0.1:{EMBEDDED_GRPC_PORT})")
    check.add_argument("--domain", help="only this domain's services")
    check.add_argument("--wait", type=float, default=0.0, help="seconds to wait for SERVING")
    check.set_defaults(run=_health)

    login = commands.add_parser("login", help="sign in and print a 15-minute access token")
    login.add_argument("--target", help=f"host:port (default 127.0.0.1:{EMBEDDED_GRPC_PORT})")
    login.add_argument("--email", required=True)
    login.add_argument("--org", help="organization id (default: the most recently used)")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    login.set_defaults(run=_login_command)

    envoy = commands.add_parser("envoy-config", help="write the Envoy front proxy's config")
    envoy.add_argument("--output", default="envoy/envoy.yaml", help="(default envoy/envoy.yaml)")
    envoy.add_argument("--listen-address", help="listener address (default 0.0.0.0)")
    envoy.add_argument("--listen-port", type=int, default=ENVOY_PORT)
    envoy.add_argument("--admin-port", type=int, default=ENVOY_ADMIN_PORT, help="on 127.0.0.1")
    envoy.add_argument("--upstream-host", default="127.0.0.1", help="host of the services")
    envoy.add_argument(
        "--embedded-port", type=int, help="send every service to this port (`coder dev`)"
    )
    envoy.add_argument("--edge-url", help="edge base URL (default http://127.0.0.1:3001)")
    envoy.add_argument("--ui-url", help="UI base URL (default http://127.0.0.1:3000)")
    envoy.add_argument("--descriptor", default="gen/descriptor.binpb", help="descriptor set")
    envoy.add_argument("--rate-limit", type=int, default=1000, help="requests/s, listener-wide")
    envoy.add_argument("--api-timeout", type=int, default=30, help="seconds per API call")
    envoy.set_defaults(run=_envoy_config)
    return root


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    code: int = options.run(options)
    return code


if __name__ == "__main__":
    sys.exit(main())
