"""Every storage query of the prompt service, one module per concern.

Two containers, both partitioned by organization id:
- `prompts` holds every document of a prompt — the prompt with its labels, its versions, its
  name claim, its experiments — and the organization's label policy, plus the service's outbox.
  They share a container because the changes that matter write several of them atomically
  (a new version and the prompt's `latest`; an experiment starting and the prompt's running
  experiments), and an atomic batch cannot span containers. Shared (platform) prompts live in
  the system partition of the same container.
- `outcomes` holds experiment outcomes, one document per experiment and bucketing key.
"""

from __future__ import annotations

from services.kit.bus import OutboxRelay
from services.kit.store import DocumentStore
from services.prompt.repository.experiments import CONTAINER as OUTCOMES_CONTAINER
from services.prompt.repository.experiments import OUTCOMES, ExperimentRepository
from services.prompt.repository.prompts import CONTAINER as PROMPTS_CONTAINER
from services.prompt.repository.prompts import (
    PROMPTS,
    SHARED_PARTITION,
    PromptRepository,
)

CONTAINERS = (PROMPTS_CONTAINER, OUTCOMES_CONTAINER)


class PromptRepositories:
    """The service's repositories, opened once per process."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        self.prompts = PromptRepository(store, relay)
        self.experiments = ExperimentRepository(store, relay)


__all__ = [
    "CONTAINERS",
    "OUTCOMES",
    "PROMPTS",
    "SHARED_PARTITION",
    "ExperimentRepository",
    "PromptRepositories",
    "PromptRepository",
]
