"""Events: `prompt.version.created` and `prompt.label.moved` (and the removals and deletes)
leave through the outbox once each, with the caller as actor."""

from __future__ import annotations

from coder.common.v1 import actor_pb2
from coder.prompt.v1 import events_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.events import EventRecorder
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    add_version,
    create_prompt,
    label_payload,
    move_label,
    text_version,
    version_payload,
)


class TestEvents:
    async def test_versions_and_label_moves_are_published_once_each(
        self, stub: PromptServiceStub, token: TokenFactory, org: str, events: EventRecorder
    ) -> None:
        caller = token(org, sub="eve")
        created = await create_prompt(stub, caller, "evented", text_version("one"))
        prompt_id = created.prompt.id
        await add_version(stub, caller, prompt_id, text_version("two"))
        await move_label(stub, caller, prompt_id, "staging", 2)
        await move_label(stub, caller, prompt_id, "staging", 1)  # a rollback
        await move_label(stub, caller, prompt_id, "staging", 1)  # no change, no event
        await stub.RemoveLabel(
            api.RemoveLabelRequest(prompt_id=prompt_id, label="staging"), metadata=auth(caller)
        )
        await stub.DeletePrompt(api.DeletePromptRequest(prompt_id=prompt_id), metadata=auth(caller))

        received = await events.settle(org, 6)
        assert [e.type for e in received] == [
            "prompt.version.created",
            "prompt.version.created",
            "prompt.label.moved",
            "prompt.label.moved",
            "prompt.label.removed",
            "prompt.prompt.deleted",
        ]
        for event in received:
            assert event.source == "coder.prompt"
            assert event.subject == prompt_id
            assert event.actor == actor_pb2.Actor(kind=actor_pb2.ACTOR_KIND_USER, id="eve")
        first, second = (version_payload(e) for e in received[:2])
        assert (first.version.version, first.version.template) == (1, "one")
        assert (second.version.version, second.prompt.latest_version) == (2, 2)
        assert second.prompt.name == "evented"
        assert not second.prompt.etag
        moves = [label_payload(e) for e in received[2:5]]
        assert [(m.label, m.from_version, m.to_version) for m in moves] == [
            ("staging", 0, 2),
            ("staging", 2, 1),
            ("staging", 1, 0),
        ]
        assert all(m.prompt_name == "evented" and not m.shared for m in moves)
        deleted = events_pb2.PromptDeleted()
        assert received[5].data.Unpack(deleted)
        assert deleted.prompt.id == prompt_id
