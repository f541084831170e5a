"""Storage: the document forms of prompts, versions and experiments round-trip every field."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from coder.prompt.v1 import experiment_pb2, prompt_pb2
from services.kit import timestamp_text
from services.prompt._mapping import (
    LabelState,
    PromptState,
    RunningExperiment,
    VariantState,
    experiment_document,
    experiment_from_document,
    prompt_document,
    prompt_from_document,
    version_document,
    version_from_document,
)
from tests.prompt.factories import INTEGER, variable

WHEN = timestamp_text(Timestamp(seconds=1_700_000_000, nanos=123_456_789))


class TestDocuments:
    def test_a_prompt_keeps_its_labels_and_running_experiments(self) -> None:
        state = PromptState(
            id="p",
            organization_id="o",
            name="team/review",
            type=prompt_pb2.PROMPT_TYPE_CHAT,
            description="d",
            tags=("a", "b"),
            latest_version=3,
            next_version=5,
            created_by="u",
            create_time=WHEN,
            update_time=WHEN,
            labels={
                "latest": LabelState(3, 2, "u", WHEN),
                "production": LabelState(1, 0, "v", WHEN),
            },
            experiments={"production": RunningExperiment("e", (VariantState("a", 1, 3),))},
        )
        document = prompt_document(state)
        assert document["folder"] == "team"
        assert prompt_from_document(document) == state

    def test_a_version_round_trips_content_variables_and_config(self) -> None:
        config = prompt_pb2.ModelConfig(
            model="m",
            temperature=0.0,
            max_output_tokens=5,
            stop=["x"],
            seed=-3,
            response_format=prompt_pb2.RESPONSE_FORMAT_JSON_SCHEMA,
        )
        config.json_schema.update({"type": "object"})
        version = prompt_pb2.PromptVersion(
            id="p-2",
            prompt_id="p",
            version=2,
            messages=[prompt_pb2.ChatMessage(role=prompt_pb2.MESSAGE_ROLE_USER, content="{{ n }}")],
            variables=[variable("n", INTEGER, default=4, required=True, validation={"minimum": 1})],
            model_config=config,
            commit_message="c",
            includes=["a/b@production", "c@latest"],
            created_by="u",
            create_time=Timestamp(seconds=1_700_000_000, nanos=5),
        )
        document = version_document(version, "o", "digest")
        assert document["includedPrompts"] == ["a/b", "c"]
        restored = version_from_document(document)
        assert restored == version
        assert restored.model_config.HasField("temperature")

    def test_an_experiment_round_trips(self) -> None:
        experiment = experiment_pb2.Experiment(
            id="e",
            organization_id="o",
            prompt_id="p",
            name="n",
            description="d",
            label="production",
            variants=[experiment_pb2.Variant(name="a", version=1, weight=2)],
            state=experiment_pb2.EXPERIMENT_STATE_STOPPED,
            created_by="u",
            create_time=Timestamp(seconds=1),
            start_time=Timestamp(seconds=2),
            stop_time=Timestamp(seconds=3),
        )
        document = experiment_document(experiment)
        assert document["variantVersions"] == [1]
        assert experiment_from_document(document) == experiment
