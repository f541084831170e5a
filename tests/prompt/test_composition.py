"""Composition: a prompt includes another by name and label; the include follows the label,
and what is included cannot be deleted or unlabelled from under the prompt that includes it."""

from __future__ import annotations

import grpc

from coder.prompt.v1 import prompt_pb2
from coder.prompt.v1 import prompt_service_pb2 as api
from coder.prompt.v1.prompt_service_pb2_grpc import PromptServiceStub
from tests.fixtures.grpc_errors import error_reason, rpc_error, violated_fields
from tests.fixtures.tokens import TokenFactory, auth
from tests.prompt.factories import (
    CHAT,
    add_version,
    chat_version,
    create_prompt,
    move_label,
    render,
    text_version,
    variable,
)


class TestIncludes:
    async def test_an_include_renders_the_version_its_label_points_at(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        admin = token(org, ("admin",))
        common = (
            await create_prompt(
                stub,
                admin,
                "shared/tone",
                text_version("Be {{ tone }}.", variable("tone", default="kind")),
            )
        ).prompt
        await add_version(
            stub,
            admin,
            common.id,
            text_version("Be very {{ tone }}.", variable("tone", default="kind")),
        )
        await move_label(stub, admin, common.id, "production", 1)
        await create_prompt(
            stub,
            admin,
            "team/answer",
            text_version('{% include "shared/tone@production" %} Answer {{ q }}', variable("q")),
        )
        first = await render(stub, admin, "team/answer", {"q": "this"}, label="latest")
        assert first.text == "Be kind. Answer this"
        await move_label(stub, admin, common.id, "production", 2)
        moved = await render(
            stub, admin, "team/answer", {"q": "this", "tone": "brief"}, label="latest"
        )
        assert moved.text == "Be very brief. Answer this"

    async def test_an_include_that_does_not_resolve_is_refused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await create_prompt(stub, token(org), "exists")
        for template in ('{% include "missing@production" %}', '{% include "exists@production" %}'):
            error = await rpc_error(
                create_prompt(stub, token(org), "includer", text_version(template)),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            assert error_reason(error) == "INCLUDE_UNRESOLVED", template
        error = await rpc_error(
            create_prompt(
                stub, token(org), "dynamic", text_version("{% include name %}", variable("name"))
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "TEMPLATE_SYNTAX"

    async def test_only_text_prompts_can_be_included(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        await create_prompt(
            stub,
            token(org),
            "a-chat",
            chat_version([(prompt_pb2.MESSAGE_ROLE_USER, "hi")]),
            kind=CHAT,
        )
        error = await rpc_error(
            create_prompt(
                stub, token(org), "wants-chat", text_version('{% include "a-chat@latest" %}')
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "only text prompts" in error.details()

    async def test_a_cycle_is_refused(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        first = (await create_prompt(stub, token(org), "cycle/a", text_version("a"))).prompt
        await create_prompt(
            stub, token(org), "cycle/b", text_version('b {% include "cycle/a@latest" %}')
        )
        error = await rpc_error(
            add_version(stub, token(org), first.id, text_version('{% include "cycle/b@latest" %}')),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert error_reason(error) == "INCLUDE_UNRESOLVED"
        assert violated_fields(error) == {"version"}
        assert "includes itself" in error.details()


class TestReferences:
    async def test_an_included_prompt_cannot_be_deleted(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        base = (await create_prompt(stub, token(org), "base", text_version("base"))).prompt
        await create_prompt(stub, token(org), "top", text_version('{% include "base@latest" %}!'))
        error = await rpc_error(
            stub.DeletePrompt(
                api.DeletePromptRequest(prompt_id=base.id), metadata=auth(token(org))
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "PROMPT_INCLUDED"

    async def test_a_label_another_prompt_includes_cannot_be_removed(
        self, stub: PromptServiceStub, token: TokenFactory, org: str
    ) -> None:
        base = (await create_prompt(stub, token(org), "base2", text_version("base"))).prompt
        await move_label(stub, token(org), base.id, "stable", 1)
        await create_prompt(stub, token(org), "top2", text_version('{% include "base2@stable" %}!'))
        error = await rpc_error(
            stub.RemoveLabel(
                api.RemoveLabelRequest(prompt_id=base.id, label="stable"), metadata=auth(token(org))
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert error_reason(error) == "LABEL_INCLUDED"
        assert (await render(stub, token(org), "top2", label="latest")).text == "base!"
