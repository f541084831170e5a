"""The one interpreter workflow: it runs any definition's steps, deterministically, in
Temporal's sandbox. Everything with a side effect is an activity (`_activities.py`): calls,
loading a sub-workflow's definition, recording the run and its events.

The run's state (each step's status and output, what it waits for) lives in the workflow and
is answered by the `state` query; its status is also the `CoderStatus` search attribute, so
ListRuns filters on it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from services.kit import workflow_id, workflow_search_attributes
    from services.workflow._runs import (
        GATE,
        RUN_KIND,
        SIGNAL,
        STATE,
        STATUS,
        TASK_QUEUE,
        CallRequest,
        ChildRequest,
        RunInput,
        RunRecord,
        RunState,
        ScheduledStart,
    )
    from services.workflow._variables import MISSING, holds, lookup, substitute

RECORD_TIMEOUT = timedelta(seconds=30)
DEFAULT_CALL_TIMEOUT = timedelta(seconds=30)
DEFAULT_ATTEMPTS = 3
DEFAULT_LOOP_ITEMS = 1000


def _cause(error: ActivityError | ChildWorkflowError) -> str:
    """What failed under an activity's or a child's error (its cause's message)."""
    cause = error.cause
    return str(getattr(cause, "message", cause)) if cause is not None else str(error)


class RunFailed(Exception):
    """A step failed the run (a failed call, a rejection, a timeout)."""


def _duration(text: str | None) -> timedelta | None:
    """A proto3 JSON Duration (`"1.5s"`) as a timedelta."""
    if not text:
        return None
    return timedelta(seconds=float(text.removesuffix("s")))


@workflow.defn(name="coder.workflow.Run")
class RunDefinition:
    """Runs one revision of a definition."""

    def __init__(self) -> None:
        self._status = "RUN_STATUS_RUNNING"
        self._steps: dict[str, dict[str, Any]] = {}
        self._signals: dict[str, list[dict[str, Any]]] = {}
        self._decisions: dict[str, dict[str, Any]] = {}
        self._waiting: dict[str, str] = {}
        self._output: Any = None
        self._error = ""

    @workflow.run
    async def run(self, run: RunInput) -> Any:
        variables: dict[str, Any] = {**run.variables, "steps": {}}
        await self._record(run, "RUN_STATUS_RUNNING")
        try:
            self._output = await self._sequence(run, run.steps, variables, "")
        except RunFailed as failure:
            self._error = str(failure)
            await self._finish(run, "RUN_STATUS_FAILED")
            raise ApplicationError(self._error, type="RunFailed", non_retryable=True) from None
        except asyncio.CancelledError:
            self._error = "cancelled"
            await self._finish(run, "RUN_STATUS_CANCELLED")
            raise
        await self._finish(run, "RUN_STATUS_COMPLETED")
        return self._output

    @workflow.signal(name=SIGNAL)
    def deliver(self, signal: dict[str, Any]) -> None:
        """A named signal; kept until a wait step for its name takes it."""
        self._signals.setdefault(signal["name"], []).append(signal.get("payload") or {})

    @workflow.signal(name=GATE)
    def decide(self, decision: dict[str, Any]) -> None:
        """A decision at a gate; one for a gate that is not waiting is ignored."""
        if self._waiting.get(decision["step"]) == "gate":
            self._decisions.setdefault(decision["step"], decision)

    @workflow.query(name=STATE)
    def state(self) -> RunState:
        return RunState(
            status=self._status,
            steps=list(self._steps.values()),
            waiting_on=list(self._waiting),
            output=self._output,
            error=self._error,
        )

    # --- steps -----------------------------------------------------------------------------

    async def _sequence(
        self, run: RunInput, steps: list[dict[str, Any]], variables: dict[str, Any], suffix: str
    ) -> Any:
        """Run `steps` from the first, following `next` jumps; the last output."""
        positions = {step["name"]: index for index, step in enumerate(steps)}
        index, last = 0, None
        while index < len(steps):
            step = steps[index]
            label = step["name"] + suffix
            if not holds(step.get("when"), variables):
                self._mark(label, "STEP_STATUS_SKIPPED")
                index += 1
                continue
            self._mark(label, "STEP_STATUS_RUNNING")
            try:
                last = await self._step(run, step, variables, label)
            except RunFailed as failure:
                self._mark(label, "STEP_STATUS_FAILED", error=str(failure))
                raise
            variables["steps"][step["name"]] = last
            self._mark(label, "STEP_STATUS_COMPLETED", output=last)
            index = positions[step["next"]] if step.get("next") else index + 1
        return last

    async def _step(
        self, run: RunInput, step: dict[str, Any], variables: dict[str, Any], label: str
    ) -> Any:
        if "call" in step:
            return await self._call(run, step["call"], variables, label)
        if "wait" in step:
            return await self._wait(step["wait"], label)
        if "gate" in step:
            return await self._gate(step["gate"], label)
        if "timer" in step:
            self._mark(label, "STEP_STATUS_WAITING")
            await workflow.sleep(_duration(step["timer"]["duration"]) or timedelta(0))
            return None
        if "parallel" in step:
            branches = step["parallel"]["branches"]
            outputs = await asyncio.gather(
                *(
                    self._sequence(run, b["steps"], variables, label[len(step["name"]) :])
                    for b in branches
                )
            )
            return {b["name"]: output for b, output in zip(branches, outputs, strict=True)}
        if "loop" in step:
            return await self._loop(run, step["loop"], variables, label)
        if "subWorkflow" in step:
            return await self._child(run, step["subWorkflow"], variables, label)
        raise RunFailed(f"step {label} has no kind this interpreter knows")

    async def _call(
        self, run: RunInput, call: dict[str, Any], variables: dict[str, Any], label: str
    ) -> Any:
        request = CallRequest(run.starter, substitute(call, variables))
        try:
            return await workflow.execute_activity(
                "workflow.call",
                request,
                start_to_close_timeout=_duration(call.get("timeout")) or DEFAULT_CALL_TIMEOUT,
                retry_policy=RetryPolicy(
                    maximum_attempts=call.get("maxAttempts") or DEFAULT_ATTEMPTS,
                    non_retryable_error_types=["CallRefused"],
                ),
            )
        except ActivityError as error:
            raise RunFailed(f"step {label}: {_cause(error)}") from None

    async def _wait(self, wait: dict[str, Any], label: str) -> Any:
        name = wait["signal"]
        queued = self._signals.setdefault(name, [])
        arrived = await self._until(label, name, "signal", lambda: bool(queued), wait)
        return queued.pop(0) if arrived else None

    async def _gate(self, gate: dict[str, Any], label: str) -> Any:
        arrived = await self._until(label, label, "gate", lambda: label in self._decisions, gate)
        if not arrived:
            return None
        decision = self._decisions[label]
        if not decision.get("approve"):
            raise RunFailed(f"gate {label} rejected by {decision.get('by', '')}")
        return {"approved": True, "comment": decision.get("comment", ""), "by": decision["by"]}

    async def _until(
        self, label: str, key: str, kind: str, ready: Any, wait: dict[str, Any]
    ) -> bool:
        """Wait until `ready()`; False when the timeout passes and the step goes on."""
        self._mark(label, "STEP_STATUS_WAITING")
        self._waiting[key] = kind
        self._set_status("RUN_STATUS_WAITING")
        try:
            await workflow.wait_condition(ready, timeout=_duration(wait.get("timeout")))
        except TimeoutError:
            if wait.get("onTimeout") == "TIMEOUT_ACTION_CONTINUE":
                return False
            raise RunFailed(f"step {label} timed out") from None
        finally:
            del self._waiting[key]
            if not self._waiting:
                self._set_status("RUN_STATUS_RUNNING")
        return True

    async def _loop(
        self, run: RunInput, loop: dict[str, Any], variables: dict[str, Any], label: str
    ) -> list[Any]:
        items = lookup(variables, loop["items"])
        if items is MISSING or not isinstance(items, list):
            raise RunFailed(f"step {label}: {loop['items']} is not a list")
        limit = loop.get("maxItems") or DEFAULT_LOOP_ITEMS
        if len(items) > limit:
            raise RunFailed(f"step {label}: {len(items)} items, more than {limit}")
        outputs = []
        for index, item in enumerate(items):
            scope = {**variables, "item": item, "index": index, "steps": dict(variables["steps"])}
            outputs.append(await self._sequence(run, loop["steps"], scope, f"[{index}]"))
        return outputs

    async def _child(
        self, run: RunInput, child: dict[str, Any], variables: dict[str, Any], label: str
    ) -> Any:
        child_run_id = f"{run.run_id}-{label.replace('[', '-').replace(']', '')}"
        request = ChildRequest(
            run.organization_id,
            run.run_id,
            child_run_id,
            child["definitionId"],
            substitute(child.get("input") or {}, variables),
            run.starter,
        )
        try:
            child_input = await workflow.execute_activity(
                "workflow.child_run",
                request,
                result_type=RunInput,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RetryPolicy(non_retryable_error_types=["CallRefused"]),
            )
            return await workflow.execute_child_workflow(
                RunDefinition.run,
                child_input,
                id=workflow_id(run.organization_id, RUN_KIND, child_run_id),
                task_queue=TASK_QUEUE,
                search_attributes=workflow_search_attributes(
                    run.organization_id,
                    definition=child_input.definition_id,
                    status="RUN_STATUS_RUNNING",
                    trigger="TRIGGER_KIND_PARENT",
                ),
            )
        except (ActivityError, ChildWorkflowError) as error:
            raise RunFailed(f"step {label}: {_cause(error)}") from None

    # --- state -----------------------------------------------------------------------------

    def _mark(self, label: str, status: str, *, output: Any = None, error: str = "") -> None:
        entry: dict[str, Any] = {"name": label, "status": status}
        if output is not None:
            entry["output"] = output
        if error:
            entry["error"] = error
        self._steps[label] = entry

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            workflow.upsert_search_attributes([STATUS.value_set(status)])

    async def _finish(self, run: RunInput, status: str) -> None:
        self._set_status(status)
        await self._record(run, status)

    async def _record(self, run: RunInput, status: str) -> None:
        record = RunRecord(
            run.organization_id,
            run.run_id,
            run.definition_id,
            run.revision,
            run.trigger,
            run.trigger_name,
            run.starter,
            status,
            self._error,
            self._output,
        )
        await workflow.execute_activity(
            "workflow.record_run", record, start_to_close_timeout=RECORD_TIMEOUT
        )


@workflow.defn(name="coder.workflow.StartScheduled")
class StartScheduled:
    """The action of a schedule trigger: start a run of the definition's latest revision
    through the service's rules (its concurrency limit included), as an activity."""

    @workflow.run
    async def run(self, start: ScheduledStart) -> str:
        run_id: str = await workflow.execute_activity(
            "workflow.start_scheduled",
            start,
            result_type=str,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RetryPolicy(non_retryable_error_types=["CallRefused"]),
        )
        return run_id
