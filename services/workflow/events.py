"""The events the workflow service publishes, and the consumer of event triggers.

`workflow.definition.created|updated|deleted` (payload `DefinitionChanged`, webhook secrets
left out) go out with the definition's write; `workflow.run.started|completed|failed|
cancelled|terminated` (payload `RunChanged`) go out with the run's record, written by the
interpreter's `record_run` activity (so the workflow itself stays deterministic) or, for a
termination, by TerminateRun. Both through the transactional outbox.

The trigger consumer is one durable queue bound to every other domain's exchange: each event
is matched against the event triggers of its organization's definitions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.workflow.v1 import definition_pb2, events_pb2, run_pb2
from services.kit import DOMAINS, Clock, Principal, RunStarter
from services.kit.bus import EventFactory, Subscription, actor_of

DEFINITION_CREATED = "workflow.definition.created"
DEFINITION_UPDATED = "workflow.definition.updated"
DEFINITION_DELETED = "workflow.definition.deleted"
RUN_EVENT_PREFIX = "workflow.run."

TRIGGER_CONSUMER = "workflow-triggers"
"""The durable queue of the event-trigger consumer."""


def starter_of(principal: Principal, run_id: str) -> RunStarter:
    """The starter of a run started by a caller."""
    actor = actor_of(principal)
    return RunStarter(
        principal.organization_id, int(actor.kind), actor.id, run_id, "workflow.run.started"
    )


def without_secrets(definition: definition_pb2.Definition) -> definition_pb2.Definition:
    """A copy of the definition with its webhook secrets cleared."""
    copy = definition_pb2.Definition()
    copy.CopyFrom(definition)
    copy.ClearField("etag")
    for trigger in copy.triggers:
        if trigger.WhichOneof("kind") == "webhook":
            trigger.webhook.ClearField("secret")
    return copy


class DefinitionEvents:
    """Builds the definition events of one caller at one clock."""

    def __init__(self, principal: Principal, clock: Clock) -> None:
        self._event = EventFactory.acting(principal, clock)

    def _changed(self, kind: str, definition: definition_pb2.Definition) -> event_pb2.Event:
        payload = events_pb2.DefinitionChanged(definition=without_secrets(definition))
        return self._event(kind, definition.id, payload)

    def created(self, definition: definition_pb2.Definition) -> event_pb2.Event:
        return self._changed(DEFINITION_CREATED, definition)

    def updated(self, definition: definition_pb2.Definition) -> event_pb2.Event:
        return self._changed(DEFINITION_UPDATED, definition)

    def deleted(self, definition: definition_pb2.Definition) -> event_pb2.Event:
        return self._changed(DEFINITION_DELETED, definition)


def run_event(run: run_pb2.Run, starter: RunStarter, clock: Clock) -> event_pb2.Event:
    """`workflow.run.<status>` of `run`, its starter as the actor."""
    suffix = run_pb2.RunStatus.Name(run.status).removeprefix("RUN_STATUS_").lower()
    if run.status == run_pb2.RUN_STATUS_RUNNING:
        suffix = "started"
    actor = actor_pb2.Actor(kind=starter.actor_kind, id=starter.actor_id)  # type: ignore[arg-type]
    factory = EventFactory(actor, clock, organization_id=run.organization_id)
    return factory(RUN_EVENT_PREFIX + suffix, run.id, events_pb2.RunChanged(run=run))


def trigger_subscriptions(
    handler: Callable[[event_pb2.Event], Awaitable[None]],
) -> list[Subscription]:
    """The event-trigger consumer's bindings: every event of every other domain."""
    return [
        Subscription(TRIGGER_CONSUMER, domain.name, ("#",), handler)
        for domain in DOMAINS
        if domain.name not in ("workflow", "ui", "edge")
    ]
