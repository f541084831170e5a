"""A/B experiments: splitting the renders of one label of a prompt among versions by a
deterministic hash of a bucketing key, recording outcomes, and reading results with Wilson
score intervals.

Starting or stopping an experiment on a protected label changes what that label serves, so it
needs the same `prompt.protected_label.write` as moving the label.
"""

from __future__ import annotations

from coder.prompt.v1 import experiment_pb2, prompt_service_pb2
from services.kit import (
    Clock,
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PageRequest,
    current_principal,
    new_id,
    read_modify_write,
    time_text,
)
from services.prompt._mapping import running_experiment
from services.prompt._stats import assign, wilson_interval
from services.prompt.repository import PromptRepositories
from services.prompt.service.labels import refuse_latest, require_protected_permission
from services.prompt.service.prompts import PromptCatalog

MIN_VARIANTS = 2
DEFAULT_CONFIDENCE = 0.95


class ExperimentService:
    """Create, Get, List, Start, Stop, Delete, RecordOutcome and GetExperimentResults."""

    def __init__(
        self, repositories: PromptRepositories, catalog: PromptCatalog, clock: Clock
    ) -> None:
        self._prompts = repositories.prompts
        self._experiments = repositories.experiments
        self._catalog = catalog
        self._clock = clock

    async def create(
        self, prompt_id: str, draft: experiment_pb2.Experiment
    ) -> experiment_pb2.Experiment:
        """A draft on the prompt's label, its variants on existing versions."""
        principal = current_principal()
        organization_id = principal.organization_id
        state = await self._catalog.own_prompt(organization_id, prompt_id)
        refuse_latest(draft.label, "experimented on")
        violations = self._variant_violations(draft)
        for index, variant in enumerate(draft.variants):
            if await self._prompts.version(organization_id, prompt_id, variant.version) is None:
                violations.append(
                    FieldViolation(
                        f"experiment.variants[{index}].version",
                        f"prompt {state.name} has no version {variant.version}",
                    )
                )
        if violations:
            raise InvalidArgument(
                f"{violations[0].field}: {violations[0].description}", violations=violations
            )
        experiment = experiment_pb2.Experiment(
            id=new_id(),
            organization_id=organization_id,
            prompt_id=prompt_id,
            name=draft.name,
            description=draft.description,
            label=draft.label,
            variants=draft.variants,
            state=experiment_pb2.EXPERIMENT_STATE_DRAFT,
            created_by=principal.subject,
        )
        experiment.create_time.FromDatetime(self._clock.now())
        return await self._experiments.create_experiment(experiment)

    @staticmethod
    def _variant_violations(draft: experiment_pb2.Experiment) -> list[FieldViolation]:
        violations = []
        if len(draft.variants) < MIN_VARIANTS:
            violations.append(
                FieldViolation("experiment.variants", f"needs at least {MIN_VARIANTS} variants")
            )
        names = [variant.name for variant in draft.variants]
        if len(set(names)) != len(names):
            violations.append(FieldViolation("experiment.variants", "variant names must differ"))
        return violations

    async def get(self, prompt_id: str, experiment_id: str) -> experiment_pb2.Experiment:
        return await self._experiment(current_principal().organization_id, prompt_id, experiment_id)

    async def _experiment(
        self, organization_id: str, prompt_id: str, experiment_id: str
    ) -> experiment_pb2.Experiment:
        found = await self._experiments.experiment(organization_id, prompt_id, experiment_id)
        if found is None:
            raise NotFound(f"experiment {experiment_id} not found", reason="EXPERIMENT_NOT_FOUND")
        return found

    async def list_experiments(
        self, request: prompt_service_pb2.ListExperimentsRequest
    ) -> tuple[list[experiment_pb2.Experiment], str]:
        organization_id = current_principal().organization_id
        page = PageRequest.of(request, organization_id)
        await self._catalog.own_prompt(organization_id, request.prompt_id)
        found, continuation = await self._experiments.list_experiments(
            organization_id, request.prompt_id, page.size, page.continuation
        )
        return found, page.seal(continuation)

    async def start(self, prompt_id: str, experiment_id: str) -> experiment_pb2.Experiment:
        """Draft → running: renders of the label follow the variants from now on."""
        organization_id = current_principal().organization_id
        protected = await self._catalog.protected(organization_id)

        async def attempt() -> experiment_pb2.Experiment:
            experiment = await self._experiment(organization_id, prompt_id, experiment_id)
            state = await self._catalog.own_prompt(organization_id, prompt_id)
            if experiment.state != experiment_pb2.EXPERIMENT_STATE_DRAFT:
                raise FailedPrecondition(
                    "only a draft experiment can start", reason="EXPERIMENT_NOT_DRAFT"
                )
            require_protected_permission(experiment.label, protected)
            if experiment.label not in state.labels:
                raise FailedPrecondition(
                    f"prompt {state.name} has no label {experiment.label}", reason="LABEL_NOT_FOUND"
                )
            if experiment.label in state.experiments:
                raise FailedPrecondition(
                    f"experiment {state.experiments[experiment.label].id} already runs on label "
                    f"{experiment.label}",
                    reason="EXPERIMENT_ALREADY_RUNNING",
                )
            etag = experiment.etag
            experiment.ClearField("etag")
            experiment.state = experiment_pb2.EXPERIMENT_STATE_RUNNING
            experiment.start_time.FromDatetime(self._clock.now())
            running = {**state.experiments, experiment.label: running_experiment(experiment)}
            changed = state.changed(experiments=running, update_time=time_text(self._clock.now()))
            stored, _ = await self._experiments.change_state(experiment, etag, changed, state.etag)
            return stored

        return await read_modify_write("", attempt)

    async def stop(self, prompt_id: str, experiment_id: str) -> experiment_pb2.Experiment:
        """Running → stopped: renders of the label follow the label again."""
        organization_id = current_principal().organization_id
        protected = await self._catalog.protected(organization_id)

        async def attempt() -> experiment_pb2.Experiment:
            experiment = await self._experiment(organization_id, prompt_id, experiment_id)
            state = await self._catalog.own_prompt(organization_id, prompt_id)
            if experiment.state != experiment_pb2.EXPERIMENT_STATE_RUNNING:
                raise FailedPrecondition(
                    "only a running experiment can stop", reason="EXPERIMENT_NOT_RUNNING"
                )
            require_protected_permission(experiment.label, protected)
            etag = experiment.etag
            experiment.ClearField("etag")
            experiment.state = experiment_pb2.EXPERIMENT_STATE_STOPPED
            experiment.stop_time.FromDatetime(self._clock.now())
            running = {k: v for k, v in state.experiments.items() if v.id != experiment.id}
            changed = state.changed(experiments=running, update_time=time_text(self._clock.now()))
            stored, _ = await self._experiments.change_state(experiment, etag, changed, state.etag)
            return stored

        return await read_modify_write("", attempt)

    async def delete(self, prompt_id: str, experiment_id: str) -> None:
        organization_id = current_principal().organization_id
        experiment = await self._experiment(organization_id, prompt_id, experiment_id)
        if experiment.state == experiment_pb2.EXPERIMENT_STATE_RUNNING:
            raise FailedPrecondition(
                "a running experiment cannot be deleted; stop it first",
                reason="EXPERIMENT_RUNNING",
            )
        await self._experiments.delete_experiment(experiment, experiment.etag)

    async def record_outcome(
        self, request: prompt_service_pb2.RecordOutcomeRequest
    ) -> experiment_pb2.Variant:
        """Record the key's outcome for the variant the key is assigned to (the server assigns
        it, as renders do, rather than trusting the caller to say)."""
        organization_id = current_principal().organization_id
        experiment = await self._experiment(
            organization_id, request.prompt_id, request.experiment_id
        )
        if experiment.state != experiment_pb2.EXPERIMENT_STATE_RUNNING:
            raise FailedPrecondition(
                "outcomes are recorded only while the experiment runs",
                reason="EXPERIMENT_NOT_RUNNING",
            )
        variant = experiment.variants[
            assign(experiment.id, request.bucketing_key, experiment.variants)
        ]
        await self._experiments.record_outcome(
            organization_id,
            experiment.id,
            request.bucketing_key,
            variant.name,
            request.success,
            time_text(self._clock.now()),
        )
        return variant

    async def results(
        self, request: prompt_service_pb2.GetExperimentResultsRequest
    ) -> prompt_service_pb2.GetExperimentResultsResponse:
        organization_id = current_principal().organization_id
        experiment = await self._experiment(
            organization_id, request.prompt_id, request.experiment_id
        )
        confidence = request.confidence or DEFAULT_CONFIDENCE
        reply = prompt_service_pb2.GetExperimentResultsResponse(
            experiment=experiment, confidence=confidence
        )
        for variant in experiment.variants:
            outcomes, successes = await self._experiments.outcome_counts(
                organization_id, experiment.id, variant.name
            )
            lower, upper = wilson_interval(successes, outcomes, confidence)
            reply.results.add(
                variant=variant.name,
                version=variant.version,
                outcomes=outcomes,
                successes=successes,
                success_rate=successes / outcomes if outcomes else 0.0,
                interval_lower=lower,
                interval_upper=upper,
            )
        return reply
