"""The planning service: an organization's projects and their tasks."""

from __future__ import annotations

import grpc

from coder.planning.v1 import planning_service_pb2_grpc
from services.kit import Resources, ServiceDefinition
from services.planning.events import TaskFeed
from services.planning.repository import CONTAINERS, PlanningRepository
from services.planning.service import PlanningService
from services.planning.servicer import PlanningServicer


def register(server: grpc.aio.Server, resources: Resources) -> None:
    """Add the planning servicer, wired to this process's resources, to a server."""
    repository = PlanningRepository(resources.store, resources.relay)
    servicer = PlanningServicer(
        PlanningService(
            repository, resources.clock, resources.caches.locks, TaskFeed(resources.bus)
        )
    )
    planning_service_pb2_grpc.add_PlanningServiceServicer_to_server(servicer, server)


SERVICE = ServiceDefinition(
    domain="planning",
    service_names=("coder.planning.v1.PlanningService",),
    containers=CONTAINERS,
    register=register,
)

__all__ = ["SERVICE", "register"]
