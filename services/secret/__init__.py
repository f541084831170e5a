"""The secret service: typed, scoped, versioned credentials under envelope encryption, shared
through grants, every value read audited."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import grpc

from coder.secret.v1 import secret_service_pb2_grpc
from services.kit import Resources, ServiceDefinition, per_process
from services.secret._envelope import Envelope
from services.secret._keys import KeyRing
from services.secret._settings import SecretSettings, open_key_ring
from services.secret._teams import IdentityTeams
from services.secret.repository import CONTAINERS, SecretRepositories
from services.secret.service import SecretDomain
from services.secret.servicer import SecretServicer


def definition(
    settings: SecretSettings | None = None, *, key_ring: KeyRing | None = None, **key_options: Any
) -> ServiceDefinition:
    """The service's registry entry; `settings` default to the `CODER_SECRET_*` environment,
    read when the service is registered (never at import). `key_ring` replaces the one the
    settings describe; `key_options` go to the Key Vault client (a credential, a transport)."""

    @per_process
    def domain(resources: Resources) -> SecretDomain:
        """One domain per process, shared by the servicer and the sweep."""
        own = settings or SecretSettings()
        ring = key_ring or open_key_ring(own, resources.settings, **key_options)
        return SecretDomain.build(
            SecretRepositories.open(resources.store, resources.relay),
            Envelope(ring),
            IdentityTeams(resources.peers, resources.clock),
            resources.clock,
            own,
        )

    def register(server: grpc.aio.Server, resources: Resources) -> None:
        """Add the secret servicer, wired to this process's resources, to a server."""
        servicer = SecretServicer(domain(resources))
        secret_service_pb2_grpc.add_SecretServiceServicer_to_server(servicer, server)

    def tasks(resources: Resources) -> Sequence[Callable[[], Coroutine[Any, Any, None]]]:
        """The sweep of reminders, purges and rewraps."""
        return [domain(resources).sweeper.run]

    return ServiceDefinition(
        domain="secret",
        service_names=("coder.secret.v1.SecretService",),
        containers=CONTAINERS,
        register=register,
        tasks=tasks,
    )


SERVICE = definition()

__all__ = ["SERVICE", "SecretSettings", "definition"]
