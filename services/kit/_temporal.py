"""Temporal, the engine of the suite's durable executions (Execution's runs, Workflow's
definitions): one client per process, the services' workers run inside their host, and the
organization on every workflow.

A service that runs durable code declares `workers` on its `ServiceDefinition`: each
`TemporalWorker` names a task queue, the workflow classes and the activities polled there.
The host connects on start-up (retrying while Temporal is away), registers the suite's
search attributes, and runs the workers until it stops; the services that declare workers
are NOT_SERVING until Temporal answers, and again while it doesn't.

Where Temporal is (`CODER_TEMPORAL_*`): `coder dev` supervises Temporal's dev server and
points the services at it; in distributed mode `CODER_TEMPORAL_URL` names a cluster's frontend
(`host:port`), `CODER_TEMPORAL_NAMESPACE` the namespace, and TLS (`CODER_TEMPORAL_TLS`, a CA
and a client certificate for mTLS) or an API key (Temporal Cloud, which implies TLS) secure it.

Tenancy: a workflow's id starts with its organization (`workflow_id`), every workflow
started carries the `CoderOrganization` search attribute (`workflow_search_attributes`), and
every list or count goes through `workflow_query`, which no caller's own text can widen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from services.kit._errors import Unavailable

_log = structlog.get_logger("coder.temporal")

ORGANIZATION = SearchAttributeKey.for_keyword("CoderOrganization")
DEFINITION = SearchAttributeKey.for_keyword("CoderDefinition")
PLAN = SearchAttributeKey.for_keyword("CoderPlan")
STATUS = SearchAttributeKey.for_keyword("CoderStatus")
TRIGGER = SearchAttributeKey.for_keyword("CoderTrigger")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[str], ...] = (
    ORGANIZATION,
    DEFINITION,
    PLAN,
    STATUS,
    TRIGGER,
)
"""The custom search attributes of the suite's workflows, all Keyword (exact match)."""

RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits between attempts to reach Temporal, the last one repeated."""


@dataclass(frozen=True, slots=True)
class TemporalWorker:
    """What one worker polls: its task queue, workflow classes and activity callables."""

    task_queue: str
    workflows: Sequence[type] = ()
    activities: Sequence[Callable[..., Any]] = ()
    options: dict[str, Any] = field(default_factory=dict)
    """More `temporalio.worker.Worker` keyword arguments (concurrency limits, timeouts)."""


@dataclass(frozen=True, slots=True)
class TemporalSettings:
    """Where Temporal is and how to reach it (the `temporal_*` fields of `Settings`)."""

    url: str = ""
    namespace: str = "default"
    tls: bool = False
    api_key: str = ""
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None

    def tls_config(self) -> TLSConfig | bool:
        files = (self.ca_file, self.client_cert_file, self.client_key_file)
        if any(files):
            return TLSConfig(
                server_root_ca_cert=self.ca_file.read_bytes() if self.ca_file else None,
                client_cert=self.client_cert_file.read_bytes() if self.client_cert_file else None,
                client_private_key=(
                    self.client_key_file.read_bytes() if self.client_key_file else None
                ),
            )
        return self.tls or bool(self.api_key)


class Temporal:
    """This process's way to Temporal: one client, connected on first use and shared by the
    servicers (start, signal, query, list) and the workers."""

    def __init__(self, settings: TemporalSettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._connecting = asyncio.Lock()
        self._registered = False

    @property
    def configured(self) -> bool:
        return bool(self.settings.url)

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    async def client(self) -> Client:
        """The connected client; `Unavailable` when Temporal is not configured or not there."""
        if self._client is not None:
            return self._client
        if not self.configured:
            raise Unavailable(
                "durable execution needs Temporal: set CODER_TEMPORAL_URL (coder dev starts "
                "Temporal's dev server and sets it)",
                reason="TEMPORAL_NOT_CONFIGURED",
            )
        async with self._connecting:
            if self._client is None:
                try:
                    self._client = await Client.connect(
                        self.settings.url,
                        namespace=self.settings.namespace,
                        tls=self.settings.tls_config(),
                        api_key=self.settings.api_key or None,
                    )
                except RuntimeError as error:  # the SDK's core reports a failed connect so
                    raise Unavailable(
                        f"Temporal at {self.settings.url} does not answer: {error}",
                        reason="TEMPORAL_UNAVAILABLE",
                    ) from None
        return self._client

    async def ping(self) -> None:
        """Raise unless Temporal's frontend answers its health check now."""
        client = await self.client()
        try:
            healthy = await client.service_client.check_health(timeout=timedelta(seconds=2))
        except RPCError as error:
            raise Unavailable(
                f"Temporal at {self.settings.url}: {error.message}",
                reason="TEMPORAL_UNAVAILABLE",
            ) from None
        if not healthy:
            raise Unavailable(f"Temporal at {self.settings.url} is not serving")

    async def ready(self) -> None:
        """Raise unless Temporal answers and the suite's search attributes are registered:
        what a durable service needs before it may serve (a start naming an attribute the
        namespace lacks is refused)."""
        await self.ping()
        await self.register_search_attributes()

    async def register_search_attributes(self) -> None:
        """Add the suite's search attributes to the namespace where they are missing (once per
        process). A namespace managed elsewhere (Temporal Cloud) that refuses the operator
        call keeps working if its operators added them; the refusal is logged."""
        if self._registered:
            return
        client = await self.client()
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        missing = {
            key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            for key in SEARCH_ATTRIBUTES
            if key.name not in listed.custom_attributes
        }
        if missing:
            try:
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(namespace=self.namespace, search_attributes=missing)
                )
            except RPCError as error:
                if error.status != RPCStatusCode.ALREADY_EXISTS:
                    _log.warning(
                        "temporal.search_attributes_refused",
                        missing=sorted(missing),
                        error=error.message,
                    )
                    return
            _log.info("temporal.search_attributes_added", names=sorted(missing))
        self._registered = True

    async def run_workers(self, workers: Sequence[TemporalWorker]) -> None:
        """Run `workers` until cancelled, reconnecting while Temporal is away."""
        attempt = 0
        while True:
            try:
                client = await self.client()
                await self.register_search_attributes()
                running = [
                    Worker(
                        client,
                        task_queue=spec.task_queue,
                        workflows=list(spec.workflows),
                        activities=list(spec.activities),
                        **spec.options,
                    )
                    for spec in workers
                ]
                attempt = 0
                _log.info("temporal.workers_started", queues=[w.task_queue for w in workers])
                await asyncio.gather(*(worker.run() for worker in running))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                wait = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
                attempt += 1
                _log.warning("temporal.workers_stopped", error=repr(error), retry_in=wait)
                await asyncio.sleep(wait)


def workflow_id(organization_id: str, kind: str, key: str) -> str:
    """The id of a workflow of `organization_id`: `<organization>/<kind>/<key>`, so two
    organizations' runs can never share an id and an id names its owner."""
    for part in (organization_id, kind, key):
        if not part or "/" in part:
            raise ValueError(f"workflow id part {part!r} is empty or has a '/'")
    return f"{organization_id}/{kind}/{key}"


def workflow_owned_by(organization_id: str, workflow: str) -> bool:
    """Whether `workflow` (an id made by `workflow_id`) belongs to `organization_id`."""
    return workflow.startswith(f"{organization_id}/")


def workflow_search_attributes(organization_id: str, **values: str) -> TypedSearchAttributes:
    """The search attributes of a workflow of `organization_id`, with `definition`, `plan`,
    `status` or `trigger` where given."""
    keys = {"definition": DEFINITION, "plan": PLAN, "status": STATUS, "trigger": TRIGGER}
    pairs = [SearchAttributePair(ORGANIZATION, organization_id)]
    pairs += [SearchAttributePair(keys[name], value) for name, value in values.items() if value]
    return TypedSearchAttributes(pairs)


def _quoted(value: str) -> str:
    """`value` as a string literal of Temporal's visibility query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def workflow_query(organization_id: str, **equal: str) -> str:
    """A visibility query for `organization_id`'s workflows with each given search attribute
    (`definition`, `plan`, `status`, `trigger`, or any visibility column such as
    `WorkflowType`) equal to its value; the values are quoted, never spliced."""
    names = {"definition": DEFINITION.name, "plan": PLAN.name, "status": STATUS.name}
    names["trigger"] = TRIGGER.name
    clauses = [f"{ORGANIZATION.name} = {_quoted(organization_id)}"]
    clauses += [
        f"{names.get(name, name)} = {_quoted(value)}" for name, value in equal.items() if value
    ]
    return " AND ".join(clauses)


@dataclass(frozen=True, slots=True)
class RunStarter:
    """Who started a durable run, carried in its input so its activities call the suite's
    services for that person (a delegated token through `Peers.stub(on_behalf_of=...)`)."""

    organization_id: str
    actor_kind: int
    actor_id: str
    run_id: str
    event_type: str

    @classmethod
    def of(cls, event: event_pb2.Event) -> RunStarter:
        return cls(event.organization_id, event.actor.kind, event.actor.id, event.id, event.type)

    def on_behalf_of(self) -> event_pb2.Event:
        """The event whose actor the activities act for (the run's start)."""
        return event_pb2.Event(
            id=self.run_id,
            type=self.event_type,
            organization_id=self.organization_id,
            actor=actor_pb2.Actor(kind=self.actor_kind, id=self.actor_id),  # type: ignore[arg-type]
        )
