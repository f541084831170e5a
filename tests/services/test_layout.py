"""Every implemented service has the house file roles (DESIGN.md, Inside a service), and the
roles keep to their jobs: the domain rules never touch gRPC or the store, tests reach the kit
through its public names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services import catalog

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("servicer", "service", "repository", "events")
FORBIDDEN_IN_SERVICE = ("grpc", "services.kit.store", "services.kit.bus._", "aiosqlite", "azure")


def role_files(folder: Path, role: str) -> list[Path]:
    """The role's module, or the modules of its package once it grew into one."""
    flat = folder / f"{role}.py"
    package = folder / role
    if flat.exists():
        return [flat]
    if (package / "__init__.py").exists():
        return sorted(package.glob("*.py"))
    return []


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("domain", list(catalog.IMPLEMENTED))
class TestServiceLayout:
    def test_has_every_role_and_readmes(self, domain: str) -> None:
        folder = ROOT / "services" / domain
        missing = [role for role in ROLES if not role_files(folder, role)]
        for required in (
            folder / "__init__.py",
            folder / "README.md",
            ROOT / "proto" / "coder" / domain / "v1" / "README.md",
            ROOT / "tests" / domain / "tenancy.py",
        ):
            if not required.exists():
                missing.append(str(required.relative_to(ROOT)))
        assert missing == [], f"services/{domain} lacks {missing}"

    def test_the_domain_rules_know_no_transport_or_storage(self, domain: str) -> None:
        folder = ROOT / "services" / domain
        offending = {
            str(path.relative_to(ROOT)): sorted(
                name
                for name in imports(path)
                if any(
                    name == f or name.startswith(f if f.endswith("_") else f"{f}.")
                    for f in FORBIDDEN_IN_SERVICE
                )
            )
            for path in role_files(folder, "service")
        }
        assert {k: v for k, v in offending.items() if v} == {}

    def test_packaged_roles_match_module_for_module(self, domain: str) -> None:
        folder = ROOT / "services" / domain
        service, repository = folder / "service", folder / "repository"
        if not (service.is_dir() and repository.is_dir()):
            return
        services = {p.stem for p in service.glob("*.py")} - {"__init__"}
        repositories = {p.stem for p in repository.glob("*.py")} - {"__init__"}
        # Every storage module has its rules module of the same name (a concern without
        # storage of its own, such as identity's token exchange, has none).
        assert repositories <= services, repositories - services


def test_tests_use_the_kits_public_names() -> None:
    """Outside the kit's own tests, tests import `services.kit` (and its `store`, `bus`,
    `cache` packages), never a private module."""
    offending = []
    for path in (ROOT / "tests").rglob("*.py"):
        if path.is_relative_to(ROOT / "tests" / "kit"):
            continue
        for name in imports(path):
            if name.startswith("services.kit") and "._" in name:
                offending.append(f"{path.relative_to(ROOT)}: {name}")
    assert offending == []
