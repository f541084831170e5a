"""The layers point one way: `cli/` composes `edge/` and `services/`; `edge/` builds on
`services/`; `services/` imports only itself, generated code, the standard library and the
project's runtime dependencies — never `edge`, `cli`, `scripts`, `tests` or a dev-only tool."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {"coder", "buf", "google", "grpc", "grpc_health", "grpc_reflection", "grpc_status"}
UPPER_LAYERS = {"edge", "cli", "scripts", "tests"}


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_distributions() -> set[str]:
    """The closure of pyproject's `[project].dependencies` over installed metadata, extras
    included (`pyjwt[crypto]` brings `cryptography`)."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pending = [Requirement(text) for text in declared]
    seen: set[str] = set()
    while pending:
        requirement = pending.pop()
        name = _normalized(requirement.name)
        extras = requirement.extras | {""}
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in extras
        ):
            continue
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            child = Requirement(text)
            if child.marker is None or any(
                child.marker.evaluate({"extra": extra}) for extra in extras
            ):
                pending.append(child)
    return seen


def allowed_in_services() -> set[str]:
    """Top-level module names code under `services/` may import."""
    runtime = runtime_distributions()
    third_party = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if any(_normalized(d) in runtime for d in distributions)
    }
    return set(sys.stdlib_module_names) | {"__future__", "services"} | GENERATED | third_party


def imported_roots(source: str) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every absolute import in `source`, nested ones included."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def violations(package: Path, allowed: set[str], base: Path = ROOT) -> list[str]:
    """`path:line imports name` for every import under `package` outside `allowed`."""
    return [
        f"{path.relative_to(base)}:{line} imports {root}"
        for path in sorted(package.rglob("*.py"))
        for line, root in sorted(imported_roots(path.read_text()))
        if root not in allowed
    ]


class TestServicesLayer:
    def test_services_import_nothing_above_them(self) -> None:
        assert violations(ROOT / "services", allowed_in_services()) == []

    def test_edge_does_not_import_the_command(self) -> None:
        found = [
            f"{path.relative_to(ROOT)}:{line}"
            for path in sorted((ROOT / "edge").rglob("*.py"))
            for line, root in imported_roots(path.read_text())
            if root in {"cli", "scripts", "tests"}
        ]
        assert found == []

    def test_the_rule_catches_upward_and_dev_only_imports(self, tmp_path: Path) -> None:
        allowed = allowed_in_services()
        assert UPPER_LAYERS.isdisjoint(allowed)
        module = tmp_path / "services" / "bad.py"
        module.parent.mkdir()
        module.write_text(
            "import json\n"
            "from services.kit import Host\n"
            "def later():\n"
            "    from edge.embedded import EmbeddedEdge\n"
            "    import cli\n"
            "    import pytest\n"
        )
        assert violations(tmp_path / "services", allowed, base=tmp_path) == [
            "services/bad.py:4 imports edge",
            "services/bad.py:5 imports cli",
            "services/bad.py:6 imports pytest",
        ]
