"""The workflow service's registry entry: its servicer, consumer and Temporal workers, wired
to one process's resources."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from coder.workflow.v1 import workflow_service_pb2_grpc
from services.kit import Resources, ServiceDefinition, TemporalWorker, per_process
from services.kit.bus import Subscription
from services.workflow._activities import WorkflowActivities
from services.workflow._engine import RunEngine
from services.workflow._interpreter import RunDefinition, StartScheduled
from services.workflow._runs import TASK_QUEUE
from services.workflow._settings import WorkflowSettings
from services.workflow.events import trigger_subscriptions
from services.workflow.repository import CONTAINERS, WorkflowRepository
from services.workflow.service import WorkflowDomain
from services.workflow.servicer import WorkflowServicer


def definition(settings: WorkflowSettings | None = None) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_WORKFLOW_*`
    environment, read when the service is registered (never at import)."""

    def own() -> WorkflowSettings:
        return settings or WorkflowSettings()

    @per_process
    def repository(resources: Resources) -> WorkflowRepository:
        return WorkflowRepository(resources.store, resources.relay)

    @per_process
    def domain(resources: Resources) -> WorkflowDomain:
        """The service's rules, built once per process."""
        return WorkflowDomain(
            repository(resources),
            RunEngine(resources.temporal),
            resources.clock,
            resources.caches.locks,
        )

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the workflow servicer, wired to this process's resources, to a server."""
        servicer = WorkflowServicer(domain(resources))
        workflow_service_pb2_grpc.add_WorkflowServiceServicer_to_server(servicer, server)

    def subscriptions(resources: Resources) -> Sequence[Subscription]:
        """The event-trigger consumer."""
        return trigger_subscriptions(domain(resources).start_for_event)

    def workers(resources: Resources) -> Sequence[TemporalWorker]:
        """The interpreter and its activities on the service's task queue."""
        activities = WorkflowActivities(
            repository(resources),
            resources.peers,
            resources.clock,
            own().http_hosts,
            domain(resources).start_scheduled,
        )
        return [
            TemporalWorker(
                TASK_QUEUE,
                workflows=[RunDefinition, StartScheduled],
                activities=activities.all(),
            )
        ]

    return ServiceDefinition(
        domain="workflow",
        service_names=("coder.workflow.v1.WorkflowService",),
        containers=CONTAINERS,
        register=register,
        subscriptions=subscriptions,
        workers=workers,
    )


SERVICE = definition()
