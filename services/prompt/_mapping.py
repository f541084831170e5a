"""Proto ↔ document mapping of prompts, versions, label policies and experiments.

A prompt's document carries more than the Prompt message shows: its labels with their history
and the running experiments of its labels (so a render reads one document to learn which version
to use), and the next version number (never reused, even after a delete). `PromptState` is that
document as the service works with it.

Documents use lowerCamelCase names and the kit's time text. Variables and model config are
stored as their proto JSON, since they are read whole and never queried.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from google.protobuf import json_format

from coder.prompt.v1 import experiment_pb2, prompt_pb2
from services.kit import fill_timestamp, timestamp_text
from services.kit.store import Document

PROMPT_KIND = "prompt"
VERSION_KIND = "version"
NAME_KIND = "name"
POLICY_KIND = "policy"
EXPERIMENT_KIND = "experiment"
POLICY_ID = "label-policy"


def name_claim_id(name: str) -> str:
    """Id of the document that claims a prompt name in its partition (names hold `/`, ids
    may not, and the claim keeps names unique in one atomic batch with the prompt)."""
    return "name-" + hashlib.sha256(name.encode()).hexdigest()[:40]


def version_id(prompt_id: str, number: int) -> str:
    """A version's id: its prompt's id and number, so a render finds it by one point read."""
    return f"{prompt_id}-{number}"


def folder_of(name: str) -> str:
    return name.rpartition("/")[0]


# --- prompts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelState:
    """Where a label points, and where it pointed before its last move."""

    version: int
    previous_version: int
    updated_by: str
    update_time: str


@dataclass(frozen=True, slots=True)
class VariantState:
    """An arm of a running experiment, as the prompt document carries it."""

    name: str
    version: int
    weight: int


@dataclass(frozen=True, slots=True)
class RunningExperiment:
    """The experiment running on a label."""

    id: str
    variants: tuple[VariantState, ...]


@dataclass(frozen=True, slots=True)
class PromptState:
    """A stored prompt with its labels and running experiments."""

    id: str
    organization_id: str
    name: str
    type: int
    description: str
    tags: tuple[str, ...]
    latest_version: int
    next_version: int
    created_by: str
    create_time: str
    update_time: str
    shared: bool = False
    labels: dict[str, LabelState] = field(default_factory=dict)
    experiments: dict[str, RunningExperiment] = field(default_factory=dict)
    etag: str = ""

    def changed(self, **changes: Any) -> PromptState:
        """A copy with some fields replaced (the etag stays the one read)."""
        return replace(self, **changes)

    def labels_on(self, number: int) -> list[str]:
        return sorted(name for name, label in self.labels.items() if label.version == number)

    def to_proto(
        self, protected: frozenset[str], *, overrides_shared: bool = False
    ) -> prompt_pb2.Prompt:
        prompt = prompt_pb2.Prompt(
            id=self.id,
            organization_id="" if self.shared else self.organization_id,
            name=self.name,
            folder=folder_of(self.name),
            type=self.type,  # type: ignore[arg-type]
            description=self.description,
            tags=self.tags,
            latest_version=self.latest_version,
            shared=self.shared,
            overrides_shared=overrides_shared,
            created_by=self.created_by,
            etag=self.etag,
        )
        fill_timestamp(prompt.create_time, self.create_time)
        fill_timestamp(prompt.update_time, self.update_time)
        for name in sorted(self.labels):
            label = self.labels[name]
            message = prompt.labels.add(
                name=name,
                version=label.version,
                previous_version=label.previous_version,
                protected=name in protected,
                updated_by=label.updated_by,
            )
            fill_timestamp(message.update_time, label.update_time)
        return prompt


def prompt_document(state: PromptState) -> Document:
    """The stored form of a prompt (its etag is the store's, never stored)."""
    return {
        "id": state.id,
        "kind": PROMPT_KIND,
        "organizationId": state.organization_id,
        "name": state.name,
        "folder": folder_of(state.name),
        "type": state.type,
        "description": state.description,
        "tags": list(state.tags),
        "latestVersion": state.latest_version,
        "nextVersion": state.next_version,
        "shared": state.shared,
        "labels": {
            name: {
                "version": label.version,
                "previousVersion": label.previous_version,
                "updatedBy": label.updated_by,
                "updateTime": label.update_time,
            }
            for name, label in state.labels.items()
        },
        "experiments": {
            label: {
                "id": running.id,
                "variants": [
                    {"name": v.name, "version": v.version, "weight": v.weight}
                    for v in running.variants
                ],
            }
            for label, running in state.experiments.items()
        },
        "createdBy": state.created_by,
        "createTime": state.create_time,
        "updateTime": state.update_time,
    }


def prompt_from_document(document: Document) -> PromptState:
    return PromptState(
        id=document["id"],
        organization_id=document["organizationId"],
        name=document["name"],
        type=document["type"],
        description=document["description"],
        tags=tuple(document["tags"]),
        latest_version=document["latestVersion"],
        next_version=document["nextVersion"],
        shared=document["shared"],
        labels={
            name: LabelState(
                label["version"], label["previousVersion"], label["updatedBy"], label["updateTime"]
            )
            for name, label in document["labels"].items()
        },
        experiments={
            label: RunningExperiment(
                running["id"],
                tuple(
                    VariantState(v["name"], v["version"], v["weight"]) for v in running["variants"]
                ),
            )
            for label, running in document["experiments"].items()
        },
        created_by=document["createdBy"],
        create_time=document["createTime"],
        update_time=document["updateTime"],
        etag=document.get("_etag", ""),
    )


def name_claim_document(state: PromptState) -> Document:
    return {
        "id": name_claim_id(state.name),
        "kind": NAME_KIND,
        "organizationId": state.organization_id,
        "name": state.name,
        "promptId": state.id,
    }


# --- versions ----------------------------------------------------------------------------------


def version_document(
    version: prompt_pb2.PromptVersion, organization_id: str, digest: str
) -> Document:
    """The stored form of a version. `includedPrompts` (the names of `includes`) lets a delete
    ask whether another prompt includes this one; `digest` identifies a shared version's
    source file."""
    return {
        "id": version.id,
        "kind": VERSION_KIND,
        "organizationId": organization_id,
        "promptId": version.prompt_id,
        "version": version.version,
        "template": version.template,
        "messages": [{"role": int(m.role), "content": m.content} for m in version.messages],
        "variables": [json_format.MessageToDict(v) for v in version.variables],
        "modelConfig": json_format.MessageToDict(version.model_config),
        "commitMessage": version.commit_message,
        "includes": list(version.includes),
        "includedPrompts": sorted({ref.rpartition("@")[0] for ref in version.includes}),
        "digest": digest,
        "createdBy": version.created_by,
        "createTime": timestamp_text(version.create_time),
    }


def version_from_document(document: Document) -> prompt_pb2.PromptVersion:
    version = prompt_pb2.PromptVersion(
        id=document["id"],
        prompt_id=document["promptId"],
        version=document["version"],
        template=document["template"],
        messages=[
            prompt_pb2.ChatMessage(role=m["role"], content=m["content"])
            for m in document["messages"]
        ],
        commit_message=document["commitMessage"],
        includes=document["includes"],
        created_by=document["createdBy"],
    )
    for variable in document["variables"]:
        json_format.ParseDict(variable, version.variables.add())
    json_format.ParseDict(document["modelConfig"], version.model_config)
    fill_timestamp(version.create_time, document["createTime"])
    return version


def version_digest(document: Document) -> str:
    return str(document.get("digest", ""))


# --- label policies ----------------------------------------------------------------------------


def policy_document(organization_id: str, labels: list[str], update_time: str) -> Document:
    return {
        "id": POLICY_ID,
        "kind": POLICY_KIND,
        "organizationId": organization_id,
        "protectedLabels": labels,
        "updateTime": update_time,
    }


def policy_from_document(document: Document) -> prompt_pb2.LabelPolicy:
    policy = prompt_pb2.LabelPolicy(
        protected_labels=document["protectedLabels"], etag=document.get("_etag", "")
    )
    fill_timestamp(policy.update_time, document["updateTime"])
    return policy


# --- experiments -------------------------------------------------------------------------------


def experiment_document(experiment: experiment_pb2.Experiment) -> Document:
    return {
        "id": experiment.id,
        "kind": EXPERIMENT_KIND,
        "organizationId": experiment.organization_id,
        "promptId": experiment.prompt_id,
        "name": experiment.name,
        "description": experiment.description,
        "label": experiment.label,
        "variants": [
            {"name": v.name, "version": v.version, "weight": v.weight} for v in experiment.variants
        ],
        "variantVersions": sorted({v.version for v in experiment.variants}),
        "state": int(experiment.state),
        "createdBy": experiment.created_by,
        "createTime": timestamp_text(experiment.create_time),
        "startTime": timestamp_text(experiment.start_time)
        if experiment.HasField("start_time")
        else None,
        "stopTime": timestamp_text(experiment.stop_time)
        if experiment.HasField("stop_time")
        else None,
    }


def experiment_from_document(document: Document) -> experiment_pb2.Experiment:
    experiment = experiment_pb2.Experiment(
        id=document["id"],
        organization_id=document["organizationId"],
        prompt_id=document["promptId"],
        name=document["name"],
        description=document["description"],
        label=document["label"],
        variants=[experiment_pb2.Variant(**v) for v in document["variants"]],
        state=document["state"],
        created_by=document["createdBy"],
        etag=document.get("_etag", ""),
    )
    fill_timestamp(experiment.create_time, document["createTime"])
    if document["startTime"] is not None:
        fill_timestamp(experiment.start_time, document["startTime"])
    if document["stopTime"] is not None:
        fill_timestamp(experiment.stop_time, document["stopTime"])
    return experiment


def running_experiment(experiment: experiment_pb2.Experiment) -> RunningExperiment:
    return RunningExperiment(
        experiment.id,
        tuple(VariantState(v.name, v.version, v.weight) for v in experiment.variants),
    )
