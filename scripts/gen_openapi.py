"""Write the OpenAPI 3.1 document of the REST API, gen/openapi/openapi.json: the routes
generated from the descriptor set plus the edge's own `/auth` and `/.well-known` routes, exactly
as the edge serves it at /openapi.json (run by `make gen` after the descriptor set)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.app import create_app
from edge.openapi import dumps
from edge.settings import EdgeSettings

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTOR_SET = ROOT / "gen" / "descriptor.binpb"
OUTPUT = ROOT / "gen" / "openapi" / "openapi.json"


def write_openapi(descriptor_set: Path = DESCRIPTOR_SET, output: Path = OUTPUT) -> None:
    # Building the app opens nothing (channels open in its lifespan); only its document is used.
    app = create_app(EdgeSettings(descriptor_set=descriptor_set, server_url=""))
    document = app.state.openapi_document
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(dumps(document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--descriptor-set", type=Path, default=DESCRIPTOR_SET)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args()
    write_openapi(options.descriptor_set, options.output)


if __name__ == "__main__":
    main()
