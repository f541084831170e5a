"""Which domains of the registry have an implementation in this tree, and where.

A domain is implemented when `services/<domain>/` is a package (its `__init__.py` exposes
`SERVICE`): adding the folder is all it takes for `coder dev`, `coder serve`, the edge, Envoy's
config and the suite-wide tests to pick it up (docs/adding-a-service.md).
"""

from __future__ import annotations

import importlib
import importlib.util

from services.kit import DOMAINS, ServiceDefinition, domain

_NOT_SERVICES = frozenset({"ui", "edge"})
"""Registry entries that are front ends, not gRPC services under services/."""


def _discover() -> dict[str, str]:
    found = {}
    for entry in DOMAINS:
        module = f"services.{entry.name}"
        if entry.name not in _NOT_SERVICES and importlib.util.find_spec(module) is not None:
            found[entry.name] = module
    return found


IMPLEMENTED: dict[str, str] = _discover()
"""Domain name → package exposing `SERVICE`, in registry order."""


def load(name: str) -> ServiceDefinition:
    """The ServiceDefinition of an implemented domain."""
    domain(name)  # KeyError for a name that is not in the registry at all
    if name not in IMPLEMENTED:
        raise KeyError(
            f"domain {name!r} is not implemented yet; implemented: {', '.join(IMPLEMENTED)}"
        )
    definition = importlib.import_module(IMPLEMENTED[name]).SERVICE
    assert isinstance(definition, ServiceDefinition)
    assert definition.domain == name, f"services/{name} declares domain {definition.domain!r}"
    return definition


def load_all() -> list[ServiceDefinition]:
    return [load(name) for name in IMPLEMENTED]
