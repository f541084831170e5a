"""What passes between the service, the interpreter workflow and its activities: plain
dataclasses of JSON values, which Temporal's data converter carries as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.kit import SEARCH_ATTRIBUTES, RunStarter

TASK_QUEUE = "workflow"
"""The task queue of the interpreter and its activities."""

RUN_KIND = "run"
"""The kind part of a run's workflow id (`<organization>/run/<run id>`)."""

SCHEDULE_KIND = "schedule"
"""The kind part of a schedule trigger's Temporal Schedule id."""

SIGNAL = "signal"
"""The Temporal signal carrying a named signal: `{"name": ..., "payload": {...}}`."""

GATE = "gate"
"""The Temporal signal carrying a gate decision: `{"step", "approve", "comment", "by"}`."""

STATE = "state"
"""The Temporal query answering the run's current state (`RunState`)."""

STATUS = next(key for key in SEARCH_ATTRIBUTES if key.name == "CoderStatus")
"""The search attribute holding a run's `RunStatus` name."""


@dataclass
class RunInput:
    """Everything one run needs: the definition's revision as data, so a later change of the
    definition never alters a run that started on an earlier one."""

    organization_id: str
    run_id: str
    definition_id: str
    revision: int
    steps: list[dict[str, Any]]
    """The definition's steps in proto3 JSON."""
    trigger: str
    """A `TriggerKind` name."""
    trigger_name: str
    variables: dict[str, Any]
    """`input`, and `event` or `webhook` for runs those triggers started."""
    starter: RunStarter


@dataclass
class RunState:
    """The answer of the `state` query."""

    status: str
    """A `RunStatus` name."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    """Each reached step: `{"name", "status", "output"?, "error"?}` (StepState's JSON)."""
    waiting_on: list[str] = field(default_factory=list)
    output: Any = None
    error: str = ""


@dataclass
class RunRecord:
    """A transition of a run for the `record_run` activity: the stored run and its event."""

    organization_id: str
    run_id: str
    definition_id: str
    revision: int
    trigger: str
    trigger_name: str
    starter: RunStarter
    status: str
    """A `RunStatus` name; the event is `workflow.run.<status in lower case>`."""
    error: str = ""
    output: Any = None


@dataclass
class CallRequest:
    """One call step's call, its `${…}` references already replaced."""

    starter: RunStarter
    call: dict[str, Any]
    """`CallStep`'s JSON: `rpc` (`method`, `request`) or `http` (`method`, `url`, `headers`,
    `body`)."""


@dataclass
class ChildRequest:
    """What a sub-workflow step asks the `child_run` activity for."""

    organization_id: str
    parent_run_id: str
    child_run_id: str
    definition_id: str
    input: dict[str, Any]
    starter: RunStarter


@dataclass
class ScheduledStart:
    """The argument of a schedule trigger's action: which definition to start, for whom."""

    organization_id: str
    definition_id: str
    trigger_name: str
    starter: RunStarter
