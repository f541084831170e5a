"""Generate every artifact of the proto tree: Python messages and gRPC stubs with typed .pyi
(mypy-protobuf) under gen/python, and the descriptor set gen/descriptor.binpb (imports and
source info included).

Dependencies are resolved offline: google/api and google/rpc sources are copied from the
installed googleapis-common-protos package into build/protodeps (a second buf module), and
buf/validate/validate.proto comes from the descriptor embedded in the protovalidate wheel,
handed to protoc with --descriptor_set_in. Nothing is fetched from a registry.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from google.protobuf import (
    descriptor_pb2,
    duration_pb2,
    field_mask_pb2,
    timestamp_pb2,
)

ROOT = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
PROTO = ROOT / "proto"
DEPS = ROOT / "build" / "protodeps"
GEN = ROOT / "gen"
PY_OUT = GEN / "python"
DESCRIPTOR_SET = GEN / "descriptor.binpb"
VALIDATE_SET = ROOT / "build" / "validate.binpb"
VALIDATE_PROTO = "buf/validate/validate.proto"


def copy_google_protos() -> None:
    """Copy google/api and google/rpc sources out of googleapis-common-protos."""
    spec = importlib.util.find_spec("google.api")
    assert spec is not None and spec.submodule_search_locations is not None
    google_dir = Path(next(iter(spec.submodule_search_locations))).parent
    if DEPS.exists():
        shutil.rmtree(DEPS)
    for package in ("api", "rpc"):
        for source in sorted((google_dir / package).rglob("*.proto")):
            target = DEPS / "google" / source.relative_to(google_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


def write_validate_descriptor_set() -> None:
    """Write buf/validate/validate.proto (and its imports) as a FileDescriptorSet.

    protovalidate ships the serialized FileDescriptorProto in its generated module; it is read
    from the module's source so the protovalidate runtime need not be imported.
    """
    spec = importlib.util.find_spec("protovalidate._gen.buf.validate.validate_pb")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    serialized = next(
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "file_desc"
        and isinstance(node.args[0], ast.Constant)
    )
    files = descriptor_pb2.FileDescriptorSet()
    for module in (descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.file.append(proto)
    assert isinstance(serialized, bytes), "protovalidate's descriptor is no longer a bytes literal"
    files.file.append(descriptor_pb2.FileDescriptorProto.FromString(serialized))
    VALIDATE_SET.parent.mkdir(parents=True, exist_ok=True)
    VALIDATE_SET.write_bytes(files.SerializeToString(deterministic=True))


def protoc(*args: str) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--descriptor_set_in={VALIDATE_SET}",
        f"-I{PROTO}",
        f"-I{DEPS}",
        *args,
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    # mypy-protobuf announces every file it writes on stderr; keep only real diagnostics.
    for line in result.stderr.splitlines():
        if not line.startswith("Writing mypy to "):
            print(line, file=sys.stderr)
    if result.returncode != 0:
        raise SystemExit(f"protoc failed ({result.returncode})")


PLUGINS = tuple(
    f"--plugin={name}={Path(BIN) / name}" for name in ("protoc-gen-mypy", "protoc-gen-mypy_grpc")
)
"""mypy-protobuf writes the typed .pyi stubs of messages and of gRPC stubs/servicers."""


def our_protos() -> list[str]:
    return sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))


def generate() -> None:
    copy_google_protos()
    write_validate_descriptor_set()
    if PY_OUT.exists():
        shutil.rmtree(PY_OUT)
    PY_OUT.mkdir(parents=True)
    sources = our_protos()
    protoc(
        *PLUGINS,
        f"--python_out={PY_OUT}",
        f"--mypy_out={PY_OUT}",
        f"--grpc_python_out={PY_OUT}",
        f"--mypy_grpc_out={PY_OUT}",
        *sources,
    )
    protoc(*PLUGINS, f"--python_out={PY_OUT}", f"--mypy_out={PY_OUT}", VALIDATE_PROTO)
    protoc(
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={DESCRIPTOR_SET}",
        *sources,
    )
    for directory in [PY_OUT, *(p for p in PY_OUT.rglob("*") if p.is_dir())]:
        init = directory / "__init__.py"
        if directory != PY_OUT and not init.exists():
            init.write_text("")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_openapi.py")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deps-only", action="store_true", help="only prepare build/protodeps")
    options = parser.parse_args()
    if options.deps_only:
        copy_google_protos()
        write_validate_descriptor_set()
        return
    generate()


if __name__ == "__main__":
    main()
