"""`coder envoy-config`: write the Envoy front proxy's config from the registry."""

from __future__ import annotations

import argparse
from pathlib import Path


def envoy_config_command(options: argparse.Namespace) -> int:
    """Render envoy.yaml for the implemented services to `--output`."""
    # Imported here: the renderer (jinja2, descriptor parsing) is not needed by other commands.
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
    # The edge must take X-Forwarded-For from this Envoy and from nobody else (edge/proxies.py).
    print(
        "coder: run the edge behind it with CODER_EDGE_TRUSTED_PROXIES=<Envoy's address as the "
        "edge sees it> (127.0.0.1/32 on one host) and CODER_EDGE_TRUSTED_PROXY_HOPS=1"
    )
    return 0
