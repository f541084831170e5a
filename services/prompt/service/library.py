"""The shared library: platform-provided prompts, shipped as files with the service
(`services/prompt/library/*.yaml`) and published into the store's system partition.

What "shared" means here: a prompt every organization can list, render and include by name,
read-only to them. An organization overrides one by having its own prompt of the same name
(OverrideSharedPrompt starts it as a copy); renders and includes then use the organization's
prompt wherever it carries the label asked for, and the shared one otherwise.

Publication happens once per process, at the first call that needs a shared prompt, and is
idempotent across replicas: a file whose content (by digest) differs from the shared prompt's
newest version becomes a new version, with `latest` and `production` moved to it; races between
replicas end in the store's conditional writes, and the loser reads the winner's result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from google.protobuf import json_format

from coder.events.v1 import event_pb2
from coder.prompt.v1 import prompt_pb2
from services.kit import Clock, DocumentExists, EtagMismatch, get_logger, new_id, time_text
from services.prompt._mapping import LabelState, PromptState, version_id
from services.prompt.events import LIBRARY_ACTOR, PromptEvents
from services.prompt.repository import SHARED_PARTITION, PromptRepository
from services.prompt.service.content import check_content

LIBRARY_DIRECTORY = Path(__file__).resolve().parents[1] / "library"
PUBLISHED_LABELS = ("latest", "production")
_PUBLISH_ATTEMPTS = 5

_log = get_logger("coder.prompt.library")


@dataclass(frozen=True, slots=True)
class SharedSpec:
    """One shared prompt as its file describes it."""

    name: str
    type: int
    description: str
    tags: tuple[str, ...]
    version: prompt_pb2.PromptVersion
    digest: str


def load_specs(directory: Path = LIBRARY_DIRECTORY) -> tuple[SharedSpec, ...]:
    """Every `*.yaml` of the directory, checked as any new version is; ValueError for a file
    that is not a valid prompt (a broken library must not ship)."""
    specs = []
    for path in sorted(directory.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        try:
            prompt_type = prompt_pb2.PromptType.Value(raw["type"])
            version = json_format.ParseDict(raw["version"], prompt_pb2.PromptVersion())
            version.includes.extend(check_content(prompt_type, version).includes)
        except Exception as error:
            raise ValueError(f"shared prompt {path.name} is invalid: {error}") from error
        canonical = json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()
        specs.append(
            SharedSpec(
                name=raw["name"],
                type=prompt_type,
                description=raw.get("description", ""),
                tags=tuple(raw.get("tags", ())),
                version=version,
                digest=hashlib.sha256(canonical).hexdigest(),
            )
        )
    return tuple(specs)


class SharedLibrary:
    """The shared prompts of this process's library, published on first use."""

    def __init__(
        self, prompts: PromptRepository, clock: Clock, specs: tuple[SharedSpec, ...]
    ) -> None:
        self._prompts = prompts
        self._clock = clock
        self._specs = specs
        self.names = frozenset(spec.name for spec in specs)
        """Names of the shared prompts (an organization's prompt of one overrides it)."""
        self._published = False
        self._lock = asyncio.Lock()

    async def ensure(self) -> None:
        """Publish the library unless this process already has."""
        if self._published:
            return
        async with self._lock:
            if not self._published:
                for spec in self._specs:
                    await self._publish(spec)
                self._published = True

    async def _publish(self, spec: SharedSpec) -> None:
        for _ in range(_PUBLISH_ATTEMPTS):
            try:
                if await self._publish_once(spec):
                    return
            except (DocumentExists, EtagMismatch):
                continue  # another replica published first: read what it wrote
        _log.warning("shared prompt not published after retries", prompt=spec.name)

    async def _publish_once(self, spec: SharedSpec) -> bool:
        state = await self._prompts.prompt_by_name(SHARED_PARTITION, spec.name)
        now = time_text(self._clock.now())
        events = PromptEvents.library(self._clock, SHARED_PARTITION)
        if state is None:
            state = PromptState(
                id=new_id(),
                organization_id=SHARED_PARTITION,
                name=spec.name,
                type=spec.type,
                description=spec.description,
                tags=spec.tags,
                latest_version=1,
                next_version=2,
                created_by=LIBRARY_ACTOR.id,
                create_time=now,
                update_time=now,
                shared=True,
                labels={
                    label: LabelState(1, 0, LIBRARY_ACTOR.id, now) for label in PUBLISHED_LABELS
                },
            )
            version = self._version(spec, state.id, 1)
            await self._prompts.create_prompt(
                state, version, self._events(events, state, version, 0), spec.digest
            )
            return True
        newest = await self._prompts.version_with_digest(
            SHARED_PARTITION, state.id, state.latest_version
        )
        metadata_same = (state.description, state.tags) == (spec.description, spec.tags)
        if newest is not None and newest[1] == spec.digest and metadata_same:
            return True
        if newest is not None and newest[1] == spec.digest:
            changed = state.changed(description=spec.description, tags=spec.tags, update_time=now)
            await self._prompts.replace_prompt(changed, state.etag)
            return True
        number = state.next_version
        labels = dict(state.labels)
        for label in PUBLISHED_LABELS:
            before = labels.get(label)
            labels[label] = LabelState(
                number, before.version if before else 0, LIBRARY_ACTOR.id, now
            )
        changed = state.changed(
            description=spec.description,
            tags=spec.tags,
            latest_version=number,
            next_version=number + 1,
            labels=labels,
            update_time=now,
        )
        version = self._version(spec, state.id, number)
        previous = state.labels.get("production")
        await self._prompts.add_version(
            changed,
            state.etag,
            version,
            self._events(events, changed, version, previous.version if previous else 0),
            spec.digest,
        )
        return True

    def _version(self, spec: SharedSpec, prompt_id: str, number: int) -> prompt_pb2.PromptVersion:
        version = prompt_pb2.PromptVersion()
        version.CopyFrom(spec.version)
        version.id = version_id(prompt_id, number)
        version.prompt_id = prompt_id
        version.version = number
        version.created_by = LIBRARY_ACTOR.id
        version.create_time.FromDatetime(self._clock.now())
        return version

    @staticmethod
    def _events(
        events: PromptEvents,
        state: PromptState,
        version: prompt_pb2.PromptVersion,
        production_before: int,
    ) -> list[event_pb2.Event]:
        prompt = state.to_proto(frozenset())
        return [
            events.version_created(prompt, version),
            events.label_moved(prompt, "production", production_before, version.version),
        ]
