"""The workflow service: definitions as versioned data, run by one interpreter workflow on
Temporal; started by hand, by events of the suite, on Temporal Schedules or by signed
webhooks; signals, human gates, queries of a run's state, cancellation and termination.

The names below load on first use (PEP 562): Temporal's sandbox imports the interpreter's
module, and so this package, afresh for every run, and a package that imported the service's
gRPC, storage and HTTP parts on import would load them all into each run's sandbox (where
native extensions such as cryptography's cannot load twice).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.kit import ServiceDefinition
    from services.workflow._service import definition
    from services.workflow._settings import WorkflowSettings

    SERVICE: ServiceDefinition

_LAZY = {
    "SERVICE": "services.workflow._service",
    "definition": "services.workflow._service",
    "WorkflowSettings": "services.workflow._settings",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = ["SERVICE", "WorkflowSettings", "definition"]
