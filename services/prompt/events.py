"""The events the prompt service publishes. It consumes none.

Every event is `prompt.<entity>.<past-verb>` and its subject the prompt id:
- `prompt.version.created` (PromptVersionCreated): a new version, and `latest` on it;
- `prompt.label.moved` / `prompt.label.removed` (LabelMoved): a label points at another version
  (a rollback is a move) or was taken off; `latest` moving because of a delete is a move too;
- `prompt.version.deleted` (PromptVersionDeleted), `prompt.prompt.deleted` (PromptDeleted).
A consumer caching renders (the AI Service) drops what these name. Events of shared prompts
belong to the system partition and have the system as actor. Payload prompts carry no etag:
the event is stored in the same batch as the change, before the store assigns the new one.
"""

from __future__ import annotations

from coder.common.v1 import actor_pb2
from coder.events.v1 import event_pb2
from coder.prompt.v1 import events_pb2, prompt_pb2
from services.kit import Clock, Principal
from services.kit.bus import EventFactory

VERSION_CREATED = "prompt.version.created"
VERSION_DELETED = "prompt.version.deleted"
LABEL_MOVED = "prompt.label.moved"
LABEL_REMOVED = "prompt.label.removed"
PROMPT_DELETED = "prompt.prompt.deleted"

LIBRARY_ACTOR = actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_SYSTEM, id="prompt-library")
"""Who publishes the shared prompts."""


class PromptEvents:
    """Builds the service's events for one actor at one clock."""

    def __init__(self, factory: EventFactory) -> None:
        self._event = factory

    @classmethod
    def acting(cls, principal: Principal, clock: Clock) -> PromptEvents:
        return cls(EventFactory.acting(principal, clock))

    @classmethod
    def library(cls, clock: Clock, partition: str) -> PromptEvents:
        """The events of the shared library's publication."""
        return cls(EventFactory(LIBRARY_ACTOR, clock, organization_id=partition))

    def version_created(
        self, prompt: prompt_pb2.Prompt, version: prompt_pb2.PromptVersion
    ) -> event_pb2.Event:
        payload = events_pb2.PromptVersionCreated(prompt=prompt, version=version)
        payload.prompt.ClearField("etag")
        return self._event(VERSION_CREATED, prompt.id, payload)

    def version_deleted(
        self, prompt: prompt_pb2.Prompt, version: prompt_pb2.PromptVersion
    ) -> event_pb2.Event:
        payload = events_pb2.PromptVersionDeleted(prompt=prompt, version=version)
        payload.prompt.ClearField("etag")
        return self._event(VERSION_DELETED, prompt.id, payload)

    def label_moved(
        self, prompt: prompt_pb2.Prompt, label: str, from_version: int, to_version: int
    ) -> event_pb2.Event:
        kind = LABEL_MOVED if to_version else LABEL_REMOVED
        payload = events_pb2.LabelMoved(
            prompt_id=prompt.id,
            prompt_name=prompt.name,
            label=label,
            from_version=from_version,
            to_version=to_version,
            shared=prompt.shared,
        )
        return self._event(kind, prompt.id, payload)

    def prompt_deleted(self, prompt: prompt_pb2.Prompt) -> event_pb2.Event:
        payload = events_pb2.PromptDeleted(prompt=prompt)
        payload.prompt.ClearField("etag")
        return self._event(PROMPT_DELETED, prompt.id, payload)
