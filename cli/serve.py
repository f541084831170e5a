"""`coder serve <domain>` and `coder edge`: one process per service or for the edge, on the
configured (usually distributed) backends."""

from __future__ import annotations

import argparse
import asyncio

from cli.dev import announce
from services import catalog
from services.kit import Settings, configure_logging, configure_telemetry, domain, serve


def serve_command(options: argparse.Namespace) -> int:
    """Serve one domain on its registry port (or `--port`) until SIGTERM/SIGINT."""
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
            on_started=lambda host: announce(host, settings),
            telemetry=telemetry,
        )
    )
    return 0


def edge_command(options: argparse.Namespace) -> int:
    """Serve the FastAPI edge on its own, routing to the services' configured addresses."""
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
