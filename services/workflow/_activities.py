"""The interpreter's activities: everything a run does that is not deterministic. Each is
idempotent by its key, so a retry after a worker dies does its side effect once: a run's
record knows the statuses whose events are out, and a child run's record is created once.

Call steps call the suite's RPCs for the run's starter (a delegated token through the kit's
peers) or an HTTP endpoint whose host is on the allow-list.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
from google.protobuf import json_format, message_factory
from temporalio import activity
from temporalio.exceptions import ApplicationError

from coder.workflow.v1 import run_pb2
from services.kit import Clock, DocumentExists, Peers, RunStarter, fill_timestamp, time_text
from services.workflow._mapping import steps_json
from services.workflow._runs import CallRequest, ChildRequest, RunInput, RunRecord, ScheduledStart
from services.workflow.events import run_event
from services.workflow.repository import WorkflowRepository

REFUSED = "CallRefused"
"""The error type of a failure no retry can mend (the interpreter does not retry it)."""

_FINAL_CODES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)


def refused(message: str) -> ApplicationError:
    return ApplicationError(message, type=REFUSED, non_retryable=True)


def run_record_document(record: RunRecord, recorded: list[str], now: str) -> dict[str, Any]:
    return {
        "id": record.run_id,
        "organizationId": record.organization_id,
        "definitionId": record.definition_id,
        "revision": record.revision,
        "trigger": record.trigger,
        "triggerName": record.trigger_name,
        "startedBy": record.starter.actor_id,
        "status": record.status,
        "recorded": recorded,
        "error": record.error,
        "updateTime": now,
    }


def _seconds_left() -> float:
    """An HTTP call's timeout: its attempt's start-to-close timeout."""
    timeout = activity.info().start_to_close_timeout
    return timeout.total_seconds() if timeout else 30.0


class WorkflowActivities:
    """The activities, bound to one process's repository, peers and clock."""

    def __init__(
        self,
        repository: WorkflowRepository,
        peers: Peers,
        clock: Clock,
        http_hosts: tuple[str, ...],
        start_scheduled: Callable[[ScheduledStart, str], Awaitable[str]],
    ) -> None:
        self._start_scheduled = start_scheduled
        self._repository = repository
        self._peers = peers
        self._clock = clock
        self._http_hosts = frozenset(host.lower() for host in http_hosts)
        self._http = httpx.AsyncClient(follow_redirects=False)

    def all(self) -> list[Any]:
        return [self.call, self.record_run, self.child_run, self.start_scheduled]

    @activity.defn(name="workflow.call")
    async def call(self, request: CallRequest) -> Any:
        if "rpc" in request.call:
            return await self._rpc(request.starter, request.call["rpc"])
        return await self._http_call(request.call["http"])

    async def _rpc(self, starter: RunStarter, rpc: dict[str, Any]) -> Any:
        full_service, method_name = rpc["method"].split("/")
        package, service_name = full_service.rsplit(".", 1)
        domain = package.split(".")[1]
        try:
            messages = importlib.import_module(f"{package}.{domain}_service_pb2")
            stubs = importlib.import_module(f"{package}.{domain}_service_pb2_grpc")
            method = messages.DESCRIPTOR.services_by_name[service_name].methods_by_name[method_name]
        except (ImportError, KeyError):
            raise refused(f"no RPC {rpc['method']} in the suite") from None
        if method.client_streaming or method.server_streaming:
            raise refused(f"{rpc['method']} is a streaming RPC; a call step makes unary calls")
        request_type = message_factory.GetMessageClass(method.input_type)
        try:
            message = json_format.ParseDict(rpc.get("request") or {}, request_type())
        except json_format.ParseError as error:
            raise refused(f"the request of {rpc['method']} is not valid: {error}") from None
        stub = await self._peers.stub(
            getattr(stubs, f"{service_name}Stub"), on_behalf_of=starter.on_behalf_of()
        )
        try:
            reply = await getattr(stub, method_name)(message)
        except grpc.aio.AioRpcError as error:
            text = f"{rpc['method']}: {error.code().name} {error.details()}"
            if error.code() in _FINAL_CODES:
                raise refused(text) from None
            raise ApplicationError(text) from None
        return json_format.MessageToDict(reply)

    async def _http_call(self, http: dict[str, Any]) -> Any:
        url = urlsplit(http["url"])
        if (
            url.netloc.lower() not in self._http_hosts
            and (url.hostname or "") not in self._http_hosts
        ):
            raise refused(f"host {url.netloc} is not on the HTTP allow-list")
        try:
            answer = await self._http.request(
                http["method"],
                http["url"],
                headers=http.get("headers") or {},
                json=http.get("body"),
                timeout=_seconds_left(),
            )
        except httpx.HTTPError as error:
            raise ApplicationError(f"{http['method']} {http['url']}: {error!r}") from None
        if answer.status_code >= 400:
            text = f"{http['method']} {http['url']}: HTTP {answer.status_code}"
            if answer.status_code < 500 and answer.status_code != 429:
                raise refused(text)
            raise ApplicationError(text)
        if answer.headers.get("content-type", "").startswith("application/json"):
            return answer.json()
        return answer.text

    @activity.defn(name="workflow.record_run")
    async def record_run(self, record: RunRecord) -> None:
        """Store the run's new status with its event, once per status."""
        stored = await self._repository.get_run(record.organization_id, record.run_id)
        recorded = list(stored["recorded"]) if stored else []
        if record.status in recorded:
            return
        now = time_text(self._clock.now())
        document = run_record_document(record, [*recorded, record.status], now)
        if stored is not None:
            document["startTime"] = stored.get("startTime", now)
        else:
            document["startTime"] = now
        run = run_pb2.Run(
            id=record.run_id,
            organization_id=record.organization_id,
            definition_id=record.definition_id,
            definition_revision=record.revision,
            status=run_pb2.RunStatus.Value(record.status),
            trigger=run_pb2.TriggerKind.Value(record.trigger),
            trigger_name=record.trigger_name,
            error=record.error,
            started_by=record.starter.actor_id,
        )
        if record.output is not None:
            json_format.ParseDict(record.output, run.output)
        fill_timestamp(run.start_time, document["startTime"])
        if record.status not in ("RUN_STATUS_RUNNING", "RUN_STATUS_WAITING"):
            fill_timestamp(run.close_time, now)
        event = run_event(run, record.starter, self._clock)
        await self._repository.record_run(document, stored["_etag"] if stored else None, [event])

    @activity.defn(name="workflow.start_scheduled")
    async def start_scheduled(self, start: ScheduledStart) -> str:
        """Start the run a schedule fired, keyed by the scheduled action's workflow id."""
        return await self._start_scheduled(start, activity.info().workflow_id or "")

    @activity.defn(name="workflow.child_run")
    async def child_run(self, request: ChildRequest) -> RunInput:
        """The input of a sub-workflow step's child run (the child definition's latest
        revision), its record made once."""
        child = await self._repository.get_definition(
            request.organization_id, request.definition_id
        )
        if child is None:
            raise refused(f"no definition {request.definition_id}")
        record = RunRecord(
            request.organization_id,
            request.child_run_id,
            child.id,
            child.revision,
            "TRIGGER_KIND_PARENT",
            request.parent_run_id,
            request.starter,
            "RUN_STATUS_RUNNING",
        )
        with contextlib.suppress(DocumentExists):  # a retry of this activity: it is there
            await self._repository.reserve_run(
                run_record_document(record, [], time_text(self._clock.now()))
            )
        return RunInput(
            request.organization_id,
            request.child_run_id,
            child.id,
            child.revision,
            steps_json(child),
            "TRIGGER_KIND_PARENT",
            request.parent_run_id,
            {"input": request.input},
            request.starter,
        )
