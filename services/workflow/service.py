"""The workflow domain rules: definitions as versioned data, validated on save; runs of them
on Temporal, started by hand, by events, on schedules or by signed webhooks; their signals,
state, cancellation and termination; the concurrency limit of a definition.

No transport and no storage details here: the servicer unpacks requests, the repository
stores, the engine (`_engine.py`) talks to Temporal. The organization always comes from the
caller's verified token (or, for a trigger, from the event, the schedule or the webhook's
path checked by its signature), and every run's Temporal id starts with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
from base64 import b64decode, b64encode
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.field_mask_pb2 import FieldMask
from standardwebhooks import Webhook, WebhookVerificationError

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.workflow.v1 import definition_pb2, run_pb2, workflow_service_pb2
from services.kit import (
    Clock,
    DocumentExists,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    ResourceExhausted,
    RunStarter,
    apply_update,
    check_etag,
    check_time_range,
    current_principal,
    fill_timestamp,
    new_id,
    read_modify_write,
    require_field,
    time_text,
    update_paths,
)
from services.kit.cache import LockManager
from services.workflow._engine import RunEngine, RunView
from services.workflow._mapping import run_from_view, steps_json
from services.workflow._runs import SIGNAL, RunInput, ScheduledStart
from services.workflow._validation import check_definition
from services.workflow._variables import MISSING, lookup
from services.workflow.events import DefinitionEvents, run_event, starter_of
from services.workflow.repository import WorkflowRepository

WRITABLE = ("name", "description", "steps", "triggers", "concurrency_limit")
OUTPUT_ONLY = frozenset(
    {"id", "organization_id", "revision", "created_by", "create_time", "update_time"}
)
USER = int(actor_pb2.ACTOR_KIND_USER)
START_LOCK_TTL = 10.0
"""Seconds a definition's start lock lives if its holder dies; a count and a start take less."""


class WorkflowDomain:
    """Definitions and runs of the caller's organization."""

    def __init__(
        self,
        repository: WorkflowRepository,
        engine: RunEngine,
        clock: Clock,
        locks: LockManager,
    ) -> None:
        self._repository = repository
        self._engine = engine
        self._clock = clock
        self._locks = locks

    # --- definitions -----------------------------------------------------------------------

    async def create_definition(
        self, draft: definition_pb2.Definition
    ) -> definition_pb2.Definition:
        principal = current_principal()
        definition = definition_pb2.Definition()
        definition.CopyFrom(draft)
        definition.ClearField("etag")
        definition.id = new_id()
        definition.organization_id = principal.organization_id
        definition.revision = 1
        definition.created_by = principal.subject
        definition.create_time.FromDatetime(self._clock.now())
        definition.update_time.CopyFrom(definition.create_time)
        check_definition(definition)
        await self._sub_workflows_exist(definition)
        _give_webhook_secrets(definition, ())
        event = DefinitionEvents(principal, self._clock).created(definition)
        stored = await self._repository.save_definition(definition, None, event)
        await self._engine.sync_schedules(stored, (), starter_of(principal, stored.id))
        return stored

    async def get_definition(self, definition_id: str, revision: int) -> definition_pb2.Definition:
        organization_id = current_principal().organization_id
        definition = await self._definition(organization_id, definition_id)
        if revision and revision != definition.revision:
            past = await self._repository.get_revision(organization_id, definition_id, revision)
            if past is None:
                raise NotFound(f"definition {definition_id} has no revision {revision}")
            return past
        return definition

    async def list_definitions(
        self, request: workflow_service_pb2.ListDefinitionsRequest
    ) -> tuple[list[definition_pb2.Definition], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        found, continuation = await self._repository.list_definitions(
            organization_id, page.size, page.continuation
        )
        return found, page.seal(continuation)

    async def list_revisions(
        self, request: workflow_service_pb2.ListDefinitionRevisionsRequest
    ) -> tuple[list[definition_pb2.Definition], str]:
        organization_id = current_principal().organization_id
        await self._definition(organization_id, request.definition_id)
        page = PageRequest.of(request, organization_id)
        found, continuation = await self._repository.list_revisions(
            organization_id, request.definition_id, page.size, page.continuation
        )
        return found, page.seal(continuation)

    async def update_definition(
        self, changes: definition_pb2.Definition, mask: FieldMask
    ) -> definition_pb2.Definition:
        """Apply the masked fields, validate the result and store it as the next revision."""
        paths = update_paths(mask, changes, "definition", WRITABLE, output_only=OUTPUT_ONLY)
        require_field(changes.id, "definition.id", "name what to update")
        principal = current_principal()

        async def attempt() -> tuple[definition_pb2.Definition, definition_pb2.Definition]:
            current = await self._definition(principal.organization_id, changes.id)
            check_etag(changes.etag, current.etag, "definition")
            updated, changed = apply_update(current, changes, paths)
            if not changed:
                return current, current
            updated.ClearField("etag")
            updated.revision = current.revision + 1
            updated.update_time.FromDatetime(self._clock.now())
            check_definition(updated)
            await self._sub_workflows_exist(updated)
            _give_webhook_secrets(updated, current.triggers)
            event = DefinitionEvents(principal, self._clock).updated(updated)
            stored = await self._repository.save_definition(updated, current.etag, event)
            return current, stored

        previous, stored = await read_modify_write(changes.etag, attempt)
        if stored is not previous:
            await self._engine.sync_schedules(
                stored, previous.triggers, starter_of(principal, stored.id)
            )
        return stored

    async def delete_definition(self, definition_id: str, etag: str) -> None:
        principal = current_principal()
        current = await self._definition(principal.organization_id, definition_id)
        check_etag(etag, current.etag, "definition")
        event = DefinitionEvents(principal, self._clock).deleted(current)
        await self._repository.delete_definition(
            principal.organization_id, definition_id, current.etag, event
        )
        for trigger in current.triggers:
            if trigger.WhichOneof("kind") == "schedule":
                await self._engine.delete_schedule(
                    principal.organization_id, definition_id, trigger.name
                )

    async def pause_schedule(
        self, request: workflow_service_pb2.PauseScheduleRequest
    ) -> definition_pb2.Definition:
        """Pause or resume a schedule trigger; the definition records it (a new revision)."""
        principal = current_principal()
        definition = await self._definition(principal.organization_id, request.definition_id)
        trigger = _schedule_trigger(definition, request.trigger)
        await self._engine.pause_schedule(
            principal.organization_id, definition.id, trigger.name, request.paused, request.note
        )
        if trigger.schedule.paused == request.paused:
            return definition
        changes = definition_pb2.Definition(id=definition.id, etag=definition.etag)
        changes.triggers.extend(definition.triggers)
        for own in changes.triggers:
            if own.name == trigger.name:
                own.schedule.paused = request.paused
        return await self.update_definition(changes, FieldMask(paths=["triggers"]))

    async def backfill_schedule(
        self, request: workflow_service_pb2.BackfillScheduleRequest
    ) -> None:
        principal = current_principal()
        definition = await self._definition(principal.organization_id, request.definition_id)
        trigger = _schedule_trigger(definition, request.trigger)
        check_time_range(request, ("start_time", "end_time"))
        if request.end_time.ToDatetime() <= request.start_time.ToDatetime():
            raise InvalidArgument(
                "the window ends before it starts",
                violations=[FieldViolation("end_time", "must be after start_time")],
            )
        await self._engine.backfill(
            principal.organization_id,
            definition.id,
            trigger.name,
            request.start_time.ToDatetime(),
            request.end_time.ToDatetime(),
        )

    # --- starting runs ---------------------------------------------------------------------

    async def start_run(self, definition_id: str, given: Mapping[str, Any]) -> run_pb2.Run:
        """Start a run by hand (StartRun)."""
        principal = current_principal()
        definition = await self._definition(principal.organization_id, definition_id)
        run_id = new_id()
        starter = starter_of(principal, run_id)
        run = _run_input(definition, run_id, "TRIGGER_KIND_MANUAL", "", {"input": given}, starter)
        await self._start(definition, run)
        return _started(run, self._clock)

    async def start_for_event(self, event: event_pb2.Event) -> None:
        """Start a run of each definition of the event's organization whose event trigger
        matches it; a redelivery starts nothing new (the run ids come from the event)."""
        definitions = await self._repository.listening_to(event.organization_id, event.type)
        if not definitions:
            return
        payload = _event_payload(event)
        for definition in definitions:
            for trigger in definition.triggers:
                if trigger.WhichOneof("kind") != "event" or trigger.event.type != event.type:
                    continue
                if not _matches(trigger.event.filter, payload):
                    continue
                run_id = _derived_id("e", event.id, definition.id, trigger.name)
                variables = {"input": {}, "event": payload}
                run = _run_input(
                    definition,
                    run_id,
                    "TRIGGER_KIND_EVENT",
                    trigger.name,
                    variables,
                    RunStarter.of(event),
                )
                try:
                    await self._start(definition, run)
                except ResourceExhausted:
                    continue  # the definition is at its limit: this event starts no run

    async def start_scheduled(self, start: ScheduledStart, scheduled_id: str) -> str:
        """Start the run a schedule fired (its id from the scheduled action's id, so the
        activity's retry starts nothing new); '' when the definition is gone or at its
        limit."""
        definition = await self._repository.get_definition(
            start.organization_id, start.definition_id
        )
        if definition is None:
            return ""
        run_id = _derived_id("s", scheduled_id)
        run = _run_input(
            definition,
            run_id,
            "TRIGGER_KIND_SCHEDULE",
            start.trigger_name,
            {"input": {}},
            start.starter,
        )
        try:
            await self._start(definition, run)
        except ResourceExhausted:
            return ""
        return run_id

    async def deliver_webhook(
        self,
        organization_id: str,
        definition_id: str,
        trigger_name: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> str:
        """Start a run from a signed delivery, for the definition's creator; a bad signature,
        a timestamp more than five minutes off (Standard Webhooks' replay window) or an unknown
        trigger is refused alike (NOT_FOUND), telling a forger nothing."""
        refused = NotFound("no webhook trigger accepts this delivery", reason="WEBHOOK_REFUSED")
        definition = await self._repository.get_definition(organization_id, definition_id)
        trigger = next(
            (
                t
                for t in (definition.triggers if definition else ())
                if t.name == trigger_name and t.WhichOneof("kind") == "webhook"
            ),
            None,
        )
        if definition is None or trigger is None:
            raise refused
        try:
            Webhook(trigger.webhook.secret).verify(body, dict(headers), json_parse=False)
        except WebhookVerificationError:
            raise refused from None
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            raise InvalidArgument("the webhook body is not JSON", reason="WEBHOOK_BODY") from None
        run_id = _derived_id("w", headers.get("webhook-id", ""), definition.id, trigger.name)
        starter = RunStarter(
            organization_id, USER, definition.created_by, run_id, "workflow.run.started"
        )
        variables = {"input": {}, "webhook": payload}
        run = _run_input(
            definition, run_id, "TRIGGER_KIND_WEBHOOK", trigger.name, variables, starter
        )
        await self._start(definition, run)
        return run_id

    async def _start(self, definition: definition_pb2.Definition, run: RunInput) -> None:
        """Start `run` unless its definition is at its concurrency limit (RESOURCE_EXHAUSTED):
        counted and reserved under the definition's lock, so two starts cannot both take the
        last place."""
        organization_id = definition.organization_id
        record = {
            "id": run.run_id,
            "organizationId": organization_id,
            "definitionId": definition.id,
            "revision": definition.revision,
            "trigger": run.trigger,
            "triggerName": run.trigger_name,
            "startedBy": run.starter.actor_id,
            "status": "RUN_STATUS_RUNNING",
            "recorded": [],
            "error": "",
            "startTime": time_text(self._clock.now()),
        }
        async with self._locks.lock(
            f"workflow:start:{organization_id}:{definition.id}", ttl=START_LOCK_TTL, wait=5.0
        ):
            if definition.concurrency_limit:
                active = await self._repository.active_runs(organization_id, definition.id)
                if active >= definition.concurrency_limit:
                    raise ResourceExhausted(
                        f"definition {definition.id} has {active} runs going, its limit",
                        reason="CONCURRENCY_LIMIT",
                    )
            # A redelivered trigger finds its run reserved (and maybe started) before.
            with contextlib.suppress(DocumentExists):
                await self._repository.reserve_run(record)
        try:
            await self._engine.start(run)
        except Exception:
            await self._repository.forget_run(organization_id, run.run_id)
            raise

    # --- runs ------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> run_pb2.Run:
        organization_id = current_principal().organization_id
        view = await self._engine.describe(organization_id, run_id, state=True)
        if view is None:
            raise NotFound(f"no run {run_id}", reason="RUN_NOT_FOUND")
        return run_from_view(organization_id, run_id, view)

    async def list_runs(
        self, request: workflow_service_pb2.ListRunsRequest
    ) -> tuple[list[run_pb2.Run], str]:
        organization_id = current_principal().organization_id
        check_time_range(request, ("start_after", "start_before"))
        page = PageRequest.of(request, organization_id)
        after = request.start_after.ToDatetime() if request.HasField("start_after") else None
        before = request.start_before.ToDatetime() if request.HasField("start_before") else None
        token = b64decode(page.continuation) if page.continuation else None
        views, next_token = await self._engine.list(
            organization_id,
            page.size,
            token,
            definition_id=request.definition_id,
            status=run_pb2.RunStatus.Name(request.status) if request.status else "",
            trigger=run_pb2.TriggerKind.Name(request.trigger) if request.trigger else "",
            start_after=after,
            start_before=before,
        )
        runs = [run_from_view(organization_id, _run_id(v), v) for v in views]
        continuation = b64encode(next_token).decode() if next_token else None
        return runs, page.seal(continuation)

    async def signal_run(self, request: workflow_service_pb2.SignalRunRequest) -> None:
        principal = current_principal()
        view = await self._engine.describe(principal.organization_id, request.run_id, state=True)
        if view is None:
            raise NotFound(f"no run {request.run_id}", reason="RUN_NOT_FOUND")
        if view.execution.close_time is not None or view.state is None:
            raise FailedPrecondition(f"run {request.run_id} has ended", reason="RUN_ENDED")
        kind = request.WhichOneof("signal")
        if kind is None:
            raise InvalidArgument(
                "name what to deliver: a gate decision or a named signal",
                violations=[FieldViolation("gate", "set gate or named")],
                reason="SIGNAL_MISSING",
            )
        if kind == "gate":
            gate = request.gate
            if gate.step not in view.state.waiting_on:
                raise FailedPrecondition(
                    f"run {request.run_id} is not waiting at gate {gate.step}",
                    reason="GATE_NOT_WAITING",
                )
            decision = {
                "step": gate.step,
                "approve": gate.approve,
                "comment": gate.comment,
                "by": principal.subject,
            }
            await self._engine.signal(principal.organization_id, request.run_id, "gate", decision)
            return
        payload = json_format.MessageToDict(request.named.payload)
        signal = {"name": request.named.name, "payload": payload}
        await self._engine.signal(principal.organization_id, request.run_id, SIGNAL, signal)

    async def cancel_run(self, run_id: str) -> None:
        organization_id = current_principal().organization_id
        await self._open_run(organization_id, run_id)
        await self._engine.cancel(organization_id, run_id)

    async def terminate_run(self, run_id: str, reason: str) -> None:
        """Stop the run at once; its record and `workflow.run.terminated` are written here,
        since a terminated workflow runs no more activities."""
        principal = current_principal()
        await self._open_run(principal.organization_id, run_id)
        await self._engine.terminate(principal.organization_id, run_id, reason)
        stored = await self._repository.get_run(principal.organization_id, run_id)
        if stored is None or "RUN_STATUS_TERMINATED" in stored["recorded"]:
            return
        document = {**stored, "status": "RUN_STATUS_TERMINATED", "error": reason or "terminated"}
        document["recorded"] = [*stored["recorded"], "RUN_STATUS_TERMINATED"]
        document = {k: v for k, v in document.items() if not k.startswith("_")}
        run = run_pb2.Run(
            id=run_id,
            organization_id=principal.organization_id,
            definition_id=stored["definitionId"],
            definition_revision=stored["revision"],
            status=run_pb2.RUN_STATUS_TERMINATED,
            trigger=run_pb2.TriggerKind.Value(stored["trigger"]),
            trigger_name=stored["triggerName"],
            error=document["error"],
            started_by=stored["startedBy"],
        )
        fill_timestamp(run.start_time, stored["startTime"])
        run.close_time.FromDatetime(self._clock.now())
        # The event's actor is whoever terminated the run.
        starter = starter_of(principal, run_id)
        await self._repository.record_run(
            document, stored["_etag"], [run_event(run, starter, self._clock)]
        )

    async def _open_run(self, organization_id: str, run_id: str) -> RunView:
        view = await self._engine.describe(organization_id, run_id, state=False)
        if view is None:
            raise NotFound(f"no run {run_id}", reason="RUN_NOT_FOUND")
        if view.execution.close_time is not None:
            raise FailedPrecondition(f"run {run_id} has ended", reason="RUN_ENDED")
        return view

    # --- helpers ---------------------------------------------------------------------------

    async def _definition(
        self, organization_id: str, definition_id: str
    ) -> definition_pb2.Definition:
        definition = await self._repository.get_definition(organization_id, definition_id)
        if definition is None:
            raise NotFound(f"no definition {definition_id}", reason="DEFINITION_NOT_FOUND")
        return definition

    async def _sub_workflows_exist(self, definition: definition_pb2.Definition) -> None:
        missing = [
            child
            for child in _sub_workflow_ids(definition.steps)
            if child != definition.id
            and await self._repository.get_definition(definition.organization_id, child) is None
        ]
        if missing:
            raise InvalidArgument(
                f"sub-workflows name definitions that do not exist: {', '.join(missing)}",
                reason="DEFINITION_INVALID",
            )


def _sub_workflow_ids(steps: Any) -> list[str]:
    found: list[str] = []
    for step in steps:
        kind = step.WhichOneof("kind")
        if kind == "sub_workflow":
            found.append(step.sub_workflow.definition_id)
        elif kind == "loop":
            found += _sub_workflow_ids(step.loop.steps)
        elif kind == "parallel":
            for branch in step.parallel.branches:
                found += _sub_workflow_ids(branch.steps)
    return found


def _give_webhook_secrets(definition: definition_pb2.Definition, previous: Any) -> None:
    """Keep each webhook trigger's secret across saves; make one for a new trigger."""
    kept = {t.name: t.webhook.secret for t in previous if t.WhichOneof("kind") == "webhook"}
    for trigger in definition.triggers:
        if trigger.WhichOneof("kind") == "webhook":
            trigger.webhook.secret = kept.get(trigger.name) or (
                "whsec_" + b64encode(secrets.token_bytes(24)).decode()
            )


def _schedule_trigger(definition: definition_pb2.Definition, name: str) -> definition_pb2.Trigger:
    for trigger in definition.triggers:
        if trigger.name == name and trigger.WhichOneof("kind") == "schedule":
            return trigger
    raise NotFound(f"definition {definition.id} has no schedule trigger {name}")


def _run_input(
    definition: definition_pb2.Definition,
    run_id: str,
    trigger: str,
    trigger_name: str,
    variables: dict[str, Any],
    starter: RunStarter,
) -> RunInput:
    return RunInput(
        definition.organization_id,
        run_id,
        definition.id,
        definition.revision,
        steps_json(definition),
        trigger,
        trigger_name,
        variables,
        starter,
    )


def _started(run: RunInput, clock: Clock) -> run_pb2.Run:
    message = run_pb2.Run(
        id=run.run_id,
        organization_id=run.organization_id,
        definition_id=run.definition_id,
        definition_revision=run.revision,
        status=run_pb2.RUN_STATUS_RUNNING,
        trigger=run_pb2.TriggerKind.Value(run.trigger),
        trigger_name=run.trigger_name,
        started_by=run.starter.actor_id,
    )
    json_format.ParseDict(run.variables.get("input") or {}, message.input)
    message.start_time.FromDatetime(clock.now())
    return message


def _derived_id(prefix: str, *parts: str) -> str:
    """A run id made from what triggered it, so a redelivery names the same run."""
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"{prefix}{digest}"


def _event_payload(event: event_pb2.Event) -> dict[str, Any]:
    """The event's payload as proto3 JSON (empty when its type is not known here)."""
    try:
        document = json_format.MessageToDict(event.data)
    except (TypeError, json_format.Error):
        return {}
    document.pop("@type", None)
    return document


def _matches(expected: Mapping[str, str], payload: Mapping[str, Any]) -> bool:
    for path, value in expected.items():
        found = lookup(payload, path)
        if found is MISSING:
            return False
        text = found if isinstance(found, str) else json.dumps(found)
        if text != value:
            return False
    return True


def _run_id(view: RunView) -> str:
    return view.execution.id.rsplit("/", 1)[-1]
