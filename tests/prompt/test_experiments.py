"""A/B experiments: a running experiment splits a label's renders among versions by a
deterministic hash of the bucketing key; outcomes count for the key's variant; results give
each variant's success rate with its Wilson interval."""

from __future__ import annotations

from collections import Counter

import grpc

from coder.prompt.v1 import experiment_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from services.prompt._stats import assign, wilson_interval
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import add_version, create_prompt, move_label, render, text_version


def variants(*arms: tuple[str, int, int]) -> list[experiment_pb2.Variant]:
    return [experiment_pb2.Variant(name=n, version=v, weight=w) for n, v, w in arms]


async def experiment_on(
    stub: PromptServiceStub,
    token: str,
    name: str,
    label: str = "staging",
    weights: tuple[int, int] = (1, 1),
) -> tuple[str, experiment_pb2.Experiment]:
    prompt = (await create_prompt(stub, token, name, text_version("A"))).prompt
    await add_version(stub, token, prompt.id, text_version("B"))
    await move_label(stub, token, prompt.id, label, 1)
    reply = await stub.CreateExperiment(
        api.CreateExperimentRequest(
            prompt_id=prompt.id,
            experiment=experiment_pb2.Experiment(
                name="tone",
                label=label,
                variants=variants(("a", 1, weights[0]), ("b", 2, weights[1])),
            ),
        ),
        metadata=auth(token),
    )
    return prompt.id, reply.experiment


async def start(
    stub: PromptServiceStub, token: str, prompt_id: str, experiment_id: str
) -> experiment_pb2.Experiment:
    reply: api.StartExperimentResponse = await stub.StartExperiment(
        api.StartExperimentRequest(prompt_id=prompt_id, experiment_id=experiment_id),
        metadata=auth(token),
    )
    return reply.experiment


async def record(
    stub: PromptServiceStub, token: str, prompt_id: str, experiment_id: str, key: str, success: bool
) -> api.RecordOutcomeResponse:
    reply: api.RecordOutcomeResponse = await stub.RecordOutcome(
        api.RecordOutcomeRequest(
            prompt_id=prompt_id, experiment_id=experiment_id, bucketing_key=key, success=success
        ),
        metadata=auth(token),
    )
    return reply


class TestDefinition:
    async def test_a_draft_needs_two_named_variants_on_existing_versions(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "defined")).prompt

        async def create(label: str, arms: list[experiment_pb2.Variant]) -> grpc.aio.AioRpcError:
            return await rpc_error(
                stub.CreateExperiment(
                    api.CreateExperimentRequest(
                        prompt_id=prompt.id,
                        experiment=experiment_pb2.Experiment(name="x", label=label, variants=arms),
                    ),
                    metadata=auth(token(org)),
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            )

        assert violated_fields(await create("staging", variants(("a", 1, 1)))) == {
            "experiment.variants"
        }
        assert violated_fields(await create("staging", variants(("a", 1, 1), ("a", 1, 1)))) == {
            "experiment.variants"
        }
        assert violated_fields(await create("staging", variants(("a", 1, 1), ("b", 7, 1)))) == {
            "experiment.variants[1].version"
        }
        assert (
            error_reason(await create("latest", variants(("a", 1, 1), ("b", 1, 1))))
            == "LABEL_RESERVED"
        )


class TestRunning:
    async def test_renders_split_by_weight_and_a_key_keeps_its_variant(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id, experiment = await experiment_on(stub, token(org), "split", weights=(1, 3))
        running = await start(stub, token(org), prompt_id, experiment.id)
        assert running.state == experiment_pb2.EXPERIMENT_STATE_RUNNING
        assert running.HasField("start_time")
        seen: Counter[str] = Counter()
        for index in range(400):
            reply = await render(
                stub, token(org), "split", label="staging", bucketing_key=f"user-{index}"
            )
            assert reply.experiment_id == experiment.id
            assert reply.text == {"a": "A", "b": "B"}[reply.variant]
            expected = experiment.variants[
                assign(experiment.id, f"user-{index}", experiment.variants)
            ]
            assert reply.variant == expected.name
            seen[reply.variant] += 1
        assert 0.18 < seen["a"] / 400 < 0.32
        again = {
            (
                await render(stub, token(org), "split", label="staging", bucketing_key="user-7")
            ).variant
            for _ in range(5)
        }
        assert len(again) == 1
        # Renders of other labels are not part of the experiment.
        latest = await render(stub, token(org), "split", label="latest", bucketing_key="user-7")
        assert (latest.experiment_id, latest.text) == ("", "B")

    async def test_outcomes_give_wilson_intervals_per_variant(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id, experiment = await experiment_on(stub, token(org), "measured")
        await start(stub, token(org), prompt_id, experiment.id)
        expected: dict[str, list[bool]] = {"a": [], "b": []}
        for index in range(60):
            key = f"k{index}"
            success = index % 3 == 0
            recorded = await record(stub, token(org), prompt_id, experiment.id, key, success)
            assert (
                recorded.variant
                == experiment.variants[assign(experiment.id, key, experiment.variants)].name
            )
            expected[recorded.variant].append(success)
        # A key's last record counts: k0 (a success) becomes a failure, still one outcome.
        flipped = await record(stub, token(org), prompt_id, experiment.id, "k0", False)
        expected[flipped.variant][expected[flipped.variant].index(True)] = False
        results = await stub.GetExperimentResults(
            api.GetExperimentResultsRequest(prompt_id=prompt_id, experiment_id=experiment.id),
            metadata=auth(token(org)),
        )
        assert results.confidence == 0.95
        assert [r.variant for r in results.results] == ["a", "b"]
        for result in results.results:
            outcomes = expected[result.variant]
            successes = sum(outcomes)
            assert (result.outcomes, result.successes) == (len(outcomes), successes)
            assert result.success_rate == successes / len(outcomes)
            lower, upper = wilson_interval(successes, len(outcomes), 0.95)
            assert (result.interval_lower, result.interval_upper) == (lower, upper)
            assert lower < result.success_rate < upper

    async def test_only_one_experiment_runs_on_a_label(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id, first = await experiment_on(stub, token(org), "single")
        await start(stub, token(org), prompt_id, first.id)
        second = await stub.CreateExperiment(
            api.CreateExperimentRequest(
                prompt_id=prompt_id,
                experiment=experiment_pb2.Experiment(
                    name="second", label="staging", variants=variants(("a", 1, 1), ("b", 2, 1))
                ),
            ),
            metadata=auth(token(org)),
        )
        error = await rpc_error(
            start(stub, token(org), prompt_id, second.experiment.id),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "EXPERIMENT_ALREADY_RUNNING"

    async def test_a_protected_label_needs_the_protected_permission(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        prompt_id, experiment = await experiment_on(stub, admin, "guarded-ab", label="production")
        error = await rpc_error(
            start(stub, token(org, ("member",)), prompt_id, experiment.id),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        assert error_reason(error) == "LABEL_PROTECTED"
        assert (await start(stub, admin, prompt_id, experiment.id)).state == (
            experiment_pb2.EXPERIMENT_STATE_RUNNING
        )


class TestStopping:
    async def test_a_stopped_experiment_hands_the_label_back(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt_id, experiment = await experiment_on(stub, token(org), "ended")
        await start(stub, token(org), prompt_id, experiment.id)
        error = await rpc_error(
            stub.DeleteExperiment(
                api.DeleteExperimentRequest(prompt_id=prompt_id, experiment_id=experiment.id),
                metadata=auth(token(org)),
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "EXPERIMENT_RUNNING"
        stopped = await stub.StopExperiment(
            api.StopExperimentRequest(prompt_id=prompt_id, experiment_id=experiment.id),
            metadata=auth(token(org)),
        )
        assert stopped.experiment.state == experiment_pb2.EXPERIMENT_STATE_STOPPED
        for key in ("x", "y", "z"):
            reply = await render(stub, token(org), "ended", label="staging", bucketing_key=key)
            assert (reply.experiment_id, reply.text) == ("", "A")
        error = await rpc_error(
            record(stub, token(org), prompt_id, experiment.id, "x", True),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "EXPERIMENT_NOT_RUNNING"
        await stub.DeleteExperiment(
            api.DeleteExperimentRequest(prompt_id=prompt_id, experiment_id=experiment.id),
            metadata=auth(token(org)),
        )
        listed = await stub.ListExperiments(
            api.ListExperimentsRequest(prompt_id=prompt_id), metadata=auth(token(org))
        )
        assert list(listed.experiments) == []
