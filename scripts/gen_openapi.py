"""Write the OpenAPI 3.1 document of the REST API, gen/openapi/openapi.json, from the
descriptor set (run by `make gen` after the descriptor set is written)."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.descriptors import load_descriptor_set
from edge.openapi import build_document, dumps
from edge.transcoding import RouteTable

ROOT = Path(__file__).resolve().parents[1]
DESCRIPTOR_SET = ROOT / "gen" / "descriptor.binpb"
OUTPUT = ROOT / "gen" / "openapi" / "openapi.json"


def write_openapi(descriptor_set: Path = DESCRIPTOR_SET, output: Path = OUTPUT) -> None:
    files = load_descriptor_set(descriptor_set)
    document = build_document(files, RouteTable(files))
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
