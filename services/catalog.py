"""Which domains of the registry have an implementation in this tree, and where."""

from __future__ import annotations

import importlib

from services.kit import ServiceDefinition, domain

IMPLEMENTED: dict[str, str] = {
    "planning": "services.planning",
    "identity": "services.identity",
}
"""Domain name → package exposing `SERVICE`. Grows as services land."""


def load(name: str) -> ServiceDefinition:
    """The ServiceDefinition of an implemented domain."""
    domain(name)  # KeyError for a name that is not in the registry at all
    if name not in IMPLEMENTED:
        raise KeyError(
            f"domain {name!r} is not implemented yet; implemented: {', '.join(IMPLEMENTED)}"
        )
    definition = importlib.import_module(IMPLEMENTED[name]).SERVICE
    assert isinstance(definition, ServiceDefinition)
    return definition


def load_all() -> list[ServiceDefinition]:
    return [load(name) for name in IMPLEMENTED]
