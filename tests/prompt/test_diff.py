"""DiffPromptVersions: a unified diff of the content and a field list of what changed in the
variables and the model config, between any two versions."""

from __future__ import annotations

import grpc
from google.protobuf import json_format

from coder.prompt.v1 import prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    CHAT,
    INTEGER,
    add_version,
    chat_version,
    create_prompt,
    text_version,
    variable,
)


async def diff(
    stub: PromptServiceStub, token: str, prompt_id: str, before: int, after: int
) -> api.DiffPromptVersionsResponse:
    reply: api.DiffPromptVersionsResponse = await stub.DiffPromptVersions(
        api.DiffPromptVersionsRequest(prompt_id=prompt_id, from_version=before, to_version=after),
        metadata=auth(token),
    )
    return reply


def changes(reply: api.DiffPromptVersionsResponse) -> list[tuple[str, str, object, object]]:
    return [
        (
            c.path,
            api.ChangeKind.Name(c.kind).removeprefix("CHANGE_KIND_"),
            json_format.MessageToDict(c.before) if c.HasField("before") else None,
            json_format.MessageToDict(c.after) if c.HasField("after") else None,
        )
        for c in reply.changes
    ]


class TestDiff:
    async def test_text_variables_and_config_differences(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (
            await create_prompt(
                stub,
                token(org),
                "diffed",
                text_version(
                    "line one\nline two\nline three\n",
                    variable("a"),
                    variable("gone"),
                    model_config=prompt_pb2.ModelConfig(model="m1", temperature=0.5),
                    commit_message="first",
                ),
            )
        ).prompt
        await add_version(
            stub,
            token(org),
            prompt.id,
            text_version(
                "line one\nline 2\nline three\n{{ n }}\n",
                variable("a", required=True),
                variable("n", INTEGER, default=1),
                model_config=prompt_pb2.ModelConfig(
                    model="m2", temperature=0.5, max_output_tokens=9
                ),
                commit_message="second",
            ),
        )
        reply = await diff(stub, token(org), prompt.id, 1, 2)
        assert (reply.to.version, getattr(reply, "from").version) == (2, 1)
        assert reply.content_diff == (
            "--- v1\n+++ v2\n@@ -1,3 +1,4 @@\n"
            " line one\n-line two\n+line 2\n line three\n+{{ n }}\n"
        )
        assert reply.commit_message_changed
        found = changes(reply)
        assert ("model_config.model", "CHANGED", "m1", "m2") in found
        assert ("model_config.max_output_tokens", "ADDED", None, 9) in found
        assert ("variables.a.required", "CHANGED", False, True) in found
        assert [c[:2] for c in found if c[0] in ("variables.gone", "variables.n")] == [
            ("variables.gone", "REMOVED"),
            ("variables.n", "ADDED"),
        ]
        assert not any(c[0] == "model_config.temperature" for c in found)
        assert [c[0] for c in found] == sorted(c[0] for c in found)
        same = await diff(stub, token(org), prompt.id, 2, 2)
        assert (same.content_diff, list(same.changes)) == ("", [])

    async def test_chat_messages_diff_as_role_blocks(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        user, system = prompt_pb2.MESSAGE_ROLE_USER, prompt_pb2.MESSAGE_ROLE_SYSTEM
        prompt = (
            await create_prompt(
                stub,
                token(org),
                "chat-diff",
                chat_version([(system, "Be terse."), (user, "Hi")]),
                kind=CHAT,
            )
        ).prompt
        await add_version(
            stub, token(org), prompt.id, chat_version([(system, "Be kind."), (user, "Hi")])
        )
        reply = await diff(stub, token(org), prompt.id, 2, 1)
        assert "-Be kind.\n+Be terse.\n" in reply.content_diff
        assert " ### system\n" in reply.content_diff

    async def test_both_versions_must_exist(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        prompt = (await create_prompt(stub, token(org), "diff-missing")).prompt
        error = await rpc_error(diff(stub, token(org), prompt.id, 1, 5), grpc.StatusCode.NOT_FOUND)
        assert violated_fields(error) == {"to_version"}
        error = await rpc_error(
            diff(stub, token(org), prompt.id, 0, 1), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert violated_fields(error) == {"from_version"}
