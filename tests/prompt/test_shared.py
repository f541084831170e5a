"""Shared prompts: the platform's library, published into the system partition, rendered by
every organization, read-only to them, and overridden by an organization's own prompt of the
same name wherever that prompt carries the label asked for."""

from __future__ import annotations

import grpc

from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import add_version, labels_of, move_label, render, text_version

SHARED = "coder/commit-message"


async def shared_prompts(stub: PromptServiceStub, token: str) -> dict[str, str]:
    reply = await stub.ListSharedPrompts(api.ListSharedPromptsRequest(), metadata=auth(token))
    return {prompt.name: prompt.id for prompt in reply.prompts}


class TestLibrary:
    async def test_every_organization_sees_and_renders_the_shared_prompts(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        for caller in (token(org), token(f"{org}-other", ("viewer",))):
            names = await shared_prompts(stub, caller)
            assert {"coder/code-review", SHARED, "coder/plan-from-intent"} <= names.keys()
            reply = await render(stub, caller, SHARED, {"diff": "+ added", "style": "plain"})
            assert reply.shared
            assert "Start with a summary line" in reply.text
            assert reply.text.endswith("+ added\n")
            assert reply.model_config.max_output_tokens == 400

    async def test_shared_prompts_are_read_only(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        shared_id = (await shared_prompts(stub, token(org)))[SHARED]
        got = await stub.GetPrompt(
            api.GetPromptRequest(prompt_id=shared_id), metadata=auth(token(org))
        )
        assert got.prompt.shared
        assert got.prompt.organization_id == ""
        assert labels_of(got.prompt) == {"latest": 1, "production": 1}
        for call in (
            add_version(stub, token(org, ("owner",)), shared_id, text_version("mine")),
            move_label(stub, token(org, ("owner",)), shared_id, "staging", 1),
        ):
            error = await rpc_error(call, grpc.StatusCode.FAILED_PRECONDITION)
            assert error_reason(error) == "SHARED_PROMPT_READ_ONLY"


class TestOverride:
    async def test_an_override_applies_where_it_carries_the_label(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        shared_id = (await shared_prompts(stub, admin))[SHARED]
        reply = await stub.OverrideSharedPrompt(
            api.OverrideSharedPromptRequest(prompt_id=shared_id), metadata=auth(admin)
        )
        own = reply.prompt
        assert own.overrides_shared
        assert not own.shared
        assert own.organization_id == org
        assert reply.version.version == 1
        assert labels_of(own) == {"latest": 1}
        variables = [v.name for v in reply.version.variables]
        new = await add_version(
            stub,
            admin,
            own.id,
            text_version("Our house style. {{ diff }}", *reply.version.variables[:1]),
        )
        assert variables[0] == "diff"
        # Until the override carries `production`, production renders still use the shared one.
        before = await render(stub, admin, SHARED, {"diff": "d"})
        assert before.shared
        assert (await render(stub, admin, SHARED, {"diff": "d"}, label="latest")).text == (
            "Our house style. d"
        )
        await move_label(stub, admin, own.id, "production", new.version)
        after = await render(stub, admin, SHARED, {"diff": "d"})
        assert (after.shared, after.prompt_id, after.text) == (False, own.id, "Our house style. d")
        # Other organizations still get the shared prompt.
        elsewhere = await render(stub, token(f"{org}-other"), SHARED, {"diff": "d"})
        assert elsewhere.shared
