"""`coder`: run the suite embedded (`coder dev`), run one service (`coder serve <domain>`),
check health (`coder health`), mint a development token (`coder token`), write the Envoy
front proxy's config (`coder envoy-config`)."""

from __future__ import annotations

import argparse
import asyncio
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
    configure_tracing,
    domain,
    load_or_create_dev_key,
    serve,
)


def _announce(host: Host, definitions: list[ServiceDefinition], settings: Settings) -> None:
    address = f"{settings.host}:{host.port}"
    lines = [
        "",
        f"coder: gRPC listening on {address} (store {settings.resolved_store_url()}, "
        f"bus {settings.bus_url}, cache {settings.cache_url})",
    ]
    lines += [f"  - {name}" for name in host.service_names]
    lines += [
        "  health:  coder health --target " + address,
        "  token:   coder token --org dev-org --sub dev-user --role owner",
        "",
    ]
    print("\n".join(lines), flush=True)


def _dev(options: argparse.Namespace) -> int:
    settings = Settings()
    if options.data_dir:
        settings = settings.model_copy(update={"data_dir": Path(options.data_dir)})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.jwks_url and settings.jwks_file is None:
        load_or_create_dev_key(settings.data_dir / "keys")
        settings = settings.model_copy(update={"jwks_file": settings.data_dir / "keys/jwks.json"})
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("coder-dev")
    definitions = catalog.load_all()
    port = options.port or settings.grpc_port or EMBEDDED_GRPC_PORT
    asyncio.run(
        serve(
            definitions,
            settings,
            port=port,
            on_started=lambda host: _announce(host, definitions, settings),
        )
    )
    return 0


def _serve(options: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(f"coder-{options.domain}")
    definition = catalog.load(options.domain)
    port = options.port or settings.grpc_port or domain(options.domain).port
    asyncio.run(
        serve(
            [definition],
            settings,
            port=port,
            on_started=lambda host: _announce(host, [definition], settings),
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


def _token(options: argparse.Namespace) -> int:
    settings = Settings()
    key = load_or_create_dev_key(Path(options.data_dir or settings.data_dir) / "keys")
    print(
        key.mint(
            subject=options.sub,
            organization_id=options.org,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            roles=options.role,
            lifetime_seconds=options.lifetime,
        )
    )
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
    dev.set_defaults(run=_dev)

    one = commands.add_parser("serve", help="run one service on the configured backends")
    one.add_argument("domain", choices=sorted(catalog.IMPLEMENTED))
    one.add_argument("--port", type=int, help="gRPC port (default: the registry's)")
    one.set_defaults(run=_serve)

    check = commands.add_parser("health", help="check gRPC health of the running services")
    check.add_argument("--target", help=f"host:port (default 127.0.0.1:{EMBEDDED_GRPC_PORT})")
    check.add_argument("--domain", help="only this domain's services")
    check.add_argument("--wait", type=float, default=0.0, help="seconds to wait for SERVING")
    check.set_defaults(run=_health)

    token = commands.add_parser("token", help="mint a development access token")
    token.add_argument("--org", required=True, help="organization id")
    token.add_argument("--sub", required=True, help="user id")
    token.add_argument(
        "--role", action="append", default=[], choices=["owner", "admin", "member", "viewer"]
    )
    token.add_argument("--lifetime", type=float, default=3600.0, help="seconds")
    token.add_argument("--data-dir", help="embedded state directory (default .coder)")
    token.set_defaults(run=_token)

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
