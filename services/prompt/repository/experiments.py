"""Experiments (container `prompts`, beside their prompt) and their outcomes (container
`outcomes`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from coder.prompt.v1 import experiment_pb2
from services.kit import Repository
from services.kit.bus import OutboxRelay
from services.kit.store import (
    MAX_BATCH_OPERATIONS,
    BatchOp,
    ContainerSpec,
    DocumentStore,
    F,
    Query,
)
from services.prompt._mapping import (
    EXPERIMENT_KIND,
    PromptState,
    experiment_document,
    experiment_from_document,
    prompt_document,
    prompt_from_document,
)
from services.prompt.repository.prompts import PROMPTS

OUTCOMES = "outcomes"

CONTAINER = ContainerSpec(OUTCOMES, indexes=("/experimentId", "/variant", "/success"))


def _outcome_id(experiment_id: str, key: str) -> str:
    # The key is the caller's (a user id, a conversation id): only its digest is stored.
    return f"{experiment_id}-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


class ExperimentRepository(Repository):
    """Experiments, and the outcomes recorded for them."""

    def __init__(self, store: DocumentStore, relay: OutboxRelay | None) -> None:
        super().__init__(store, relay)
        self._prompts = self.entities(PROMPTS)
        self._outcomes = self.entities(OUTCOMES)

    async def experiment(
        self, partition: str, prompt_id: str, experiment_id: str
    ) -> experiment_pb2.Experiment | None:
        document = await self._prompts.get(partition, experiment_id)
        if (
            document is None
            or document.get("kind") != EXPERIMENT_KIND
            or document["promptId"] != prompt_id
        ):
            return None
        return experiment_from_document(document)

    async def list_experiments(
        self, partition: str, prompt_id: str, page_size: int, continuation: str | None
    ) -> tuple[list[experiment_pb2.Experiment], str | None]:
        """Newest first."""
        query = (
            Query()
            .where(F("kind") == EXPERIMENT_KIND, F("promptId") == prompt_id)
            .order_by("createTime", desc=True)
            .limit(page_size)
            .after(continuation)
        )
        page = await self._prompts.page(query, partition)
        return [experiment_from_document(d) for d in page.items], page.continuation

    async def version_in_use(self, partition: str, prompt_id: str, number: int) -> bool:
        """Whether a draft or running experiment of the prompt has a variant on the version."""
        return await self._prompts.exists(
            partition,
            F("kind") == EXPERIMENT_KIND,
            F("promptId") == prompt_id,
            F("variantVersions").contains(number),
            F("state").in_(
                [experiment_pb2.EXPERIMENT_STATE_DRAFT, experiment_pb2.EXPERIMENT_STATE_RUNNING]
            ),
        )

    async def create_experiment(
        self, experiment: experiment_pb2.Experiment
    ) -> experiment_pb2.Experiment:
        operation = BatchOp.create(experiment_document(experiment))
        written = await self._prompts.commit(experiment.organization_id, [operation])
        return experiment_from_document(written[0])

    async def change_state(
        self,
        experiment: experiment_pb2.Experiment,
        experiment_etag: str,
        prompt: PromptState,
        prompt_etag: str,
    ) -> tuple[experiment_pb2.Experiment, PromptState]:
        """The experiment's new state and the prompt's running experiments in one batch; an
        EtagMismatch when either changed since read."""
        operations = [
            BatchOp.replace(experiment_document(experiment), if_match=experiment_etag),
            BatchOp.replace(prompt_document(prompt), if_match=prompt_etag),
        ]
        written = await self._prompts.commit(experiment.organization_id, operations)
        return experiment_from_document(written[0]), prompt_from_document(written[1])

    async def delete_experiment(self, experiment: experiment_pb2.Experiment, etag: str) -> None:
        """The experiment, then its outcomes batch by batch."""
        operation = BatchOp.delete(experiment.id, if_match=etag)
        await self._prompts.commit(experiment.organization_id, [operation])
        await self.delete_outcomes(experiment.organization_id, [experiment.id])

    async def delete_outcomes(self, partition: str, experiment_ids: Sequence[str]) -> None:
        for experiment_id in experiment_ids:
            query = Query().where(F("experimentId") == experiment_id).limit(MAX_BATCH_OPERATIONS)
            while True:
                page = await self._outcomes.page(query, partition)
                if not page.items:
                    break
                await self._outcomes.commit(
                    partition, [BatchOp.delete(d["id"]) for d in page.items]
                )

    async def experiment_ids(self, partition: str, prompt_id: str) -> list[str]:
        documents = await self._prompts.every(
            Query().where(F("kind") == EXPERIMENT_KIND, F("promptId") == prompt_id), partition
        )
        return [document["id"] for document in documents]

    # --- outcomes ------------------------------------------------------------------------------

    async def record_outcome(
        self,
        partition: str,
        experiment_id: str,
        key: str,
        variant: str,
        success: bool,
        record_time: str,
    ) -> None:
        """One document per experiment and key: a later record of the key replaces it."""
        await self._outcomes.container.upsert(
            partition,
            {
                "id": _outcome_id(experiment_id, key),
                "organizationId": partition,
                "experimentId": experiment_id,
                "variant": variant,
                "success": success,
                "recordTime": record_time,
            },
        )

    async def outcome_counts(
        self, partition: str, experiment_id: str, variant: str
    ) -> tuple[int, int]:
        """(outcomes, successes) of a variant, counted by the store."""
        scope = Query().where(F("experimentId") == experiment_id, F("variant") == variant)
        outcomes = await self._outcomes.count(scope, partition)
        successes = await self._outcomes.count(scope.where(F("success") == True), partition)  # noqa: E712
        return outcomes, successes
