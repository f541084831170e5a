"""The planning service: an organization's projects, their tasks, milestones, cycles,
relations between tasks, worklogs and the dependency graph."""

from __future__ import annotations

import grpc

from coder.planning.v1 import planning_service_pb2_grpc
from services.kit import Resources, ServiceDefinition
from services.planning._dependencies import DependencyRules
from services.planning._plans import PlanRules
from services.planning._schedules import ScheduleRules
from services.planning._views import ViewRules
from services.planning._worklogs import WorklogRules
from services.planning.events import TaskFeed
from services.planning.repository import CONTAINERS, PlanningRepository
from services.planning.service import PlanningService
from services.planning.servicer import PlanningServicer


def register(server: grpc.aio.Server, resources: Resources) -> None:
    """Add the planning servicer, wired to this process's resources, to a server."""
    repository = PlanningRepository(resources.store, resources.relay)
    clock, locks = resources.clock, resources.caches.locks
    servicer = PlanningServicer(
        PlanningService(repository, clock, locks, TaskFeed(resources.bus)),
        ScheduleRules(repository, clock, locks),
        DependencyRules(repository, clock, locks),
        WorklogRules(repository, clock, locks),
        PlanRules(repository, clock, locks, resources.peers),
        ViewRules(repository, clock, locks),
    )
    planning_service_pb2_grpc.add_PlanningServiceServicer_to_server(servicer, server)


SERVICE = ServiceDefinition(
    domain="planning",
    service_names=("coder.planning.v1.PlanningService",),
    containers=CONTAINERS,
    register=register,
)

__all__ = ["SERVICE", "register"]
