"""`coder`: run the suite embedded (`coder dev`), run one service (`coder serve <domain>`) or
the edge (`coder edge`), check health (`coder health`), sign in and print an access token
(`coder login`), write the Envoy front proxy's config (`coder envoy-config`), make a service's
key for delegated tokens (`coder service-key`), serve the MCP gateway over stdio (`coder mcp`)."""

from __future__ import annotations

import argparse

from cli.client import health_command, login_command
from cli.dev import dev_command
from cli.envoy import envoy_config_command
from cli.keys import service_key_command
from cli.mcp import mcp_command
from cli.serve import edge_command, serve_command
from services import catalog
from services.kit import DOMAINS, EMBEDDED_GRPC_PORT, ENVOY_ADMIN_PORT, ENVOY_PORT


def parser() -> argparse.ArgumentParser:
    """The `coder` argument parser; each subcommand sets `run` to its handler."""
    root = argparse.ArgumentParser(prog="coder", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev", help="run every implemented service in one process, with the edge and companions"
    )
    dev.add_argument("--port", type=int, help=f"gRPC port (default {EMBEDDED_GRPC_PORT})")
    dev.add_argument("--data-dir", help="embedded state directory (default .coder)")
    dev.add_argument("--edge-port", type=int, help="edge HTTP port (default 3001)")
    dev.set_defaults(run=dev_command)

    edge = commands.add_parser("edge", help="run the FastAPI edge (REST, SSE, WebSocket)")
    edge.add_argument("--port", type=int, help="HTTP port (default 3001)")
    edge.set_defaults(run=edge_command)

    one = commands.add_parser("serve", help="run one service on the configured backends")
    one.add_argument("domain", choices=sorted(catalog.IMPLEMENTED))
    one.add_argument("--port", type=int, help="gRPC port (default: the registry's)")
    one.set_defaults(run=serve_command)

    check = commands.add_parser("health", help="check gRPC health of the running services")
    check.add_argument("--target", help=f"host:port (default 127.0.0.1:{EMBEDDED_GRPC_PORT})")
    check.add_argument("--domain", help="only this domain's services")
    check.add_argument("--wait", type=float, default=0.0, help="seconds to wait for SERVING")
    check.set_defaults(run=health_command)

    login = commands.add_parser("login", help="sign in and print a 15-minute access token")
    login.add_argument("--target", help=f"host:port (default 127.0.0.1:{EMBEDDED_GRPC_PORT})")
    login.add_argument("--email", required=True)
    login.add_argument("--org", help="organization id (default: the most recently used)")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    login.set_defaults(run=login_command)

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
    envoy.set_defaults(run=envoy_config_command)

    key = commands.add_parser(
        "service-key", help="make a service's key for delegated tokens (distributed mode)"
    )
    key.add_argument("domain", choices=sorted(d.name for d in DOMAINS))
    key.set_defaults(run=service_key_command)

    mcp = commands.add_parser(
        "mcp", help="serve the MCP gateway over stdio for local agents (token: CODER_TOKEN)"
    )
    mcp.add_argument("--target", help=f"host:port (default 127.0.0.1:{EMBEDDED_GRPC_PORT})")
    mcp.set_defaults(run=mcp_command)
    return root


def main(argv: list[str] | None = None) -> int:
    """Run the `coder` command line; the return value is the process exit code."""
    options = parser().parse_args(argv)
    code: int = options.run(options)
    return code
